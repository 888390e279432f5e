// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The local engine: the scheduler of a pool's module Workers, their crash
// recovery, and abort.
//
// Chunks are made lazily from each job's input when a worker has room, so an
// endless input works and memory stays bounded. A worker runs its chunks one
// at a time in arrival order; several may be in flight to it (a window that
// shrinks as tasks get slower: inflight.ts), so the head of its in-flight
// list is the one running. When a worker dies, its head chunk fails with a
// ProcessError and the rest are re-queued for other workers.

import { ProcessError } from "../errors.ts";
import { messages } from "../_messages.ts";
import { post } from "../_shared/clone.ts";
import { transfersIn } from "../_shared/transferables.ts";
import { decodeError, type FnRef, type FromWorker } from "../_shared/wire.ts";
import type { Permissions, ResourceLimits } from "../process/worker_options.ts";
import { Dispatcher } from "./dispatcher.ts";
import { inFlight, LOCAL_WINDOW } from "./inflight.ts";
import type { Chunk, Job } from "./job.ts";
import { batchMessage, PoolWorker } from "./pool_worker.ts";

/** The pool's settings, every default filled in. */
export interface EngineOptions {
  readonly processes: number;
  readonly module: string;
  readonly permissions: Permissions;
  readonly resourceLimits: ResourceLimits | undefined;
  readonly initializer:
    | { readonly fn: FnRef; readonly args: readonly unknown[] }
    | undefined;
  readonly maxTasksPerChild: number;
  readonly idleTimeout: number;
}

/** The engine of a `Pool` on this machine's module Workers. */
export class Engine extends Dispatcher {
  readonly options: EngineOptions;
  readonly #workers: PoolWorker[] = [];
  readonly #fnKeys = new Map<string, number>();
  readonly #targetKeys = new WeakMap<object, number>();
  #window = LOCAL_WINDOW.min;
  #flushing = false;

  constructor(options: EngineOptions) {
    super();
    this.options = options;
  }

  /** Ends every worker now; unfinished calls reject with `reason`. */
  terminate(reason: unknown): void {
    this.isClosed = true;
    this.failAll(reason);
    for (const w of [...this.#workers]) this.#retire(w);
    this.maybeFinish();
  }

  /** Rejects `job` with `reason`; a worker busy on it is replaced. */
  abort(job: Job, reason: unknown): void {
    if (job.settled) return;
    this.fail(job, reason);
    let replaced = false;
    for (const w of [...this.#workers]) {
      if (w.inflight.some((c) => c.job === job)) {
        this.#requeue(w, job);
        this.#retire(w);
        replaced = true;
      }
    }
    // Starting replacements blocks for a while: let the rejection go first.
    if (replaced) setTimeout(() => this.pump(), 0);
  }

  protected poolSize(): number {
    return this.options.processes;
  }

  protected workerProcesses(): number {
    return this.options.processes;
  }

  protected busyWorkers(): number {
    return this.#workers.filter((w) => w.inflight.length > 0).length;
  }

  /** Sends chunks to workers while any has room. */
  pump(): void {
    while (true) {
      const worker = this.#pickWorker();
      if (worker === undefined) return;
      const chunk = this.nextChunk();
      if (chunk === undefined) {
        this.compactFeeding();
        return;
      }
      this.#send(worker === "spawn" ? this.#spawn() : worker, chunk);
    }
  }

  /** An idle worker, else "spawn" while below size, else one with room. */
  #pickWorker(): PoolWorker | "spawn" | undefined {
    let best: PoolWorker | undefined;
    for (const w of this.#workers) {
      if (!w.alive || w.tasks >= this.options.maxTasksPerChild) continue;
      if (best === undefined || w.inflight.length < best.inflight.length) {
        best = w;
      }
    }
    if (best !== undefined && best.inflight.length === 0) return best;
    if (this.#workers.length < this.options.processes) return "spawn";
    if (best !== undefined && best.inflight.length < this.#window) return best;
    return undefined;
  }

  #spawn(): PoolWorker {
    const worker = PoolWorker.spawn(
      this.options,
      (w, msg) => this.#onMessage(w, msg),
      (w, code, error) => this.#died(w, code, error),
    );
    this.#workers.push(worker);
    return worker;
  }

  #keyOf(job: Job): number {
    if (job.key !== 0) return job.key;
    const known = this.#targetKeys.get(job.target);
    if (known !== undefined) return job.key = known;
    const id = `${job.module}\0${job.fn.name}\0${job.fn.src}`;
    let key = this.#fnKeys.get(id);
    if (key === undefined) {
      key = this.#fnKeys.size + 1;
      this.#fnKeys.set(id, key);
    }
    job.key = key;
    this.#targetKeys.set(job.target, key);
    return key;
  }

  /** Adds a chunk to the worker's outgoing batch (sent by `#flush`). */
  #send(w: PoolWorker, chunk: Chunk): void {
    const job = chunk.job;
    const k = this.#keyOf(job);
    if (!w.fns.has(k)) {
      w.port.postMessage({ t: "f", k, fn: job.fn, m: job.module });
      w.fns.add(k);
    }
    const out = w.out ??= { chunks: [], transfer: [] };
    if (!this.prepare(chunk, out.transfer)) return;
    out.chunks.push(chunk);
    w.tasks++;
    if (w.inflight.length === 0) {
      clearTimeout(w.idleTimer);
      w.port.ref();
    }
    w.inflight.push(chunk);
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => this.#flushAll());
    }
  }

  #flushAll(): void {
    this.#flushing = false;
    for (const w of this.#workers) if (w.out !== null) this.#flush(w);
  }

  #flush(w: PoolWorker): void {
    const out = w.out!;
    w.out = null;
    if (!w.alive) return;
    // A failed postMessage has already detached the buffers it was to move,
    // so a batch that moves buffers goes chunk by chunk from the start.
    if (out.transfer.length === 0) {
      try {
        w.port.postMessage(batchMessage(out.chunks), out.transfer);
        return;
      } catch {
        // fall through: find the chunk that cannot be sent
      }
    }
    // Chunk by chunk: a value that cannot be sent fails only its call.
    for (const chunk of out.chunks) {
      if (chunk.job.settled) {
        w.forget(chunk);
        continue;
      }
      const job = chunk.job;
      const items = chunk.items;
      try {
        post(
          w.port,
          batchMessage([chunk]),
          items.length === 1 ? items[0] : items,
          this.pathOf(chunk),
          transfersIn(items, out.transfer),
        );
      } catch (err) {
        w.forget(chunk);
        job.outstanding--;
        this.fail(job, err);
      }
    }
    if (w.inflight.length === 0) this.#idle(w);
    this.pump();
  }

  #onMessage(w: PoolWorker, msg: FromWorker): void {
    switch (msg.t) {
      case "r": {
        let at = 0;
        for (let j = 0; j < msg.c.length; j++) {
          const n = msg.n[j]!;
          const chunk = w.take(msg.c[j]!);
          if (chunk !== undefined) {
            this.#timing(chunk, msg.d[j]!);
            this.deliver(chunk, msg.v, at, n);
          }
          at += n;
        }
        this.#afterTask(w);
        break;
      }
      case "e": {
        const chunk = w.take(msg.c);
        if (chunk === undefined) return;
        this.#timing(chunk, msg.d);
        this.failChunk(chunk, decodeError(msg.e), msg.i);
        this.#afterTask(w);
        break;
      }
      case "i":
        this.#breakPool(w, decodeError(msg.e));
        break;
      case "exit":
        this.#died(
          w,
          msg.code,
          msg.error === undefined ? undefined : decodeError(msg.error),
        );
        break;
    }
  }

  /** Records a chunk's times; pipelines deeper as chunks get shorter. */
  #timing(chunk: Chunk, d: number): void {
    this.timings.add(d, performance.now() - chunk.sentAt);
    this.#window = inFlight(this.timings.meanRun, LOCAL_WINDOW);
  }

  #afterTask(w: PoolWorker): void {
    if (w.inflight.length === 0 && w.alive) {
      if (w.tasks >= this.options.maxTasksPerChild) this.#retire(w);
      else this.#idle(w);
    }
    this.pump();
    this.maybeFinish();
  }

  #idle(w: PoolWorker): void {
    w.port.unref();
    if (Number.isFinite(this.options.idleTimeout)) {
      w.idleTimer = setTimeout(() => {
        if (w.inflight.length === 0) {
          this.#retire(w);
          this.maybeFinish();
        }
      }, this.options.idleTimeout);
      Deno.unrefTimer(w.idleTimer as unknown as number);
    }
  }

  #requeue(w: PoolWorker, except?: Job): void {
    const keep = w.inflight.filter((c) => c.job !== except && !c.job.settled);
    w.inflight.length = 0;
    this.retry.unshift(...keep);
  }

  #retire(w: PoolWorker): void {
    if (!w.retire()) return;
    const i = this.#workers.indexOf(w);
    if (i !== -1) this.#workers.splice(i, 1);
  }

  #died(w: PoolWorker, code: number, error: unknown): void {
    if (!w.alive) return;
    const head = w.inflight.shift();
    this.#requeue(w);
    this.#retire(w);
    if (head !== undefined) {
      const cause = error instanceof ProcessError ? error.cause : error;
      const err = error instanceof ProcessError ? error : new ProcessError(
        messages.workerDied(w.name, code, head.job.fn.name),
        cause === undefined
          ? { processName: w.name, exitCode: code }
          : { processName: w.name, exitCode: code, cause },
      );
      this.failChunk(head, err, 0);
    }
    this.pump();
    this.maybeFinish();
  }

  #breakPool(w: PoolWorker, error: unknown): void {
    const err = new Error(messages.initializerFailed(w.name), {
      cause: error,
    });
    this.brokenBy = err;
    this.terminate(err);
  }

  protected maybeFinish(): void {
    if (!this.isClosed) return;
    if (this.jobs.size === 0 && this.retry.length === 0) {
      for (const w of [...this.#workers]) {
        if (w.inflight.length === 0) this.#retire(w);
      }
    }
    if (this.#workers.length === 0 && this.jobs.size === 0) {
      this.resolveJoined();
    }
  }
}
