// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The pool engine: workers, the chunk scheduler, crash recovery and abort.
//
// Chunks are made lazily from each job's input when a worker has room, so an
// endless input works and memory stays bounded. A worker runs its chunks one
// at a time in arrival order; several may be in flight to it (a window that
// shrinks as tasks get slower), so the head of its in-flight list is the one
// running. When a worker dies, its head chunk fails with a ProcessError and
// the rest are re-queued for other workers.

import { context } from "../_shared/context.ts";
import { livenessFor, processEnded } from "../_shared/liveness.ts";
import { ProcessError } from "../errors.ts";
import { messages } from "../_messages.ts";
import { post, transfersIn } from "../_shared/clone.ts";
import {
  type ChunkMessage,
  decodeError,
  type FnRef,
  type FromWorker,
  type InitMessage,
  type PoolMessage,
} from "../_shared/wire.ts";
import { Dispatcher, type PoolStats } from "./dispatcher.ts";
import type { Chunk, Job } from "./job.ts";
import type { Permissions, ResourceLimits } from "./permissions.ts";
import { nextPid, pidCounter } from "./registry.ts";
import { spawnWorker, type WorkerHandle } from "./spawn.ts";
import { Samples } from "./stats.ts";

/** The pool's settings, every default filled in. */
export interface EngineOptions {
  readonly processes: number;
  readonly module: string;
  readonly permissions: Permissions;
  readonly resourceLimits: ResourceLimits | undefined;
  readonly initializer: { fn: FnRef; args: unknown[] } | undefined;
  readonly maxTasksPerChild: number;
  readonly idleTimeout: number;
}

export type { PoolStats } from "./dispatcher.ts";

type Port = MessagePort & { ref(): void; unref(): void };

class PoolWorker {
  readonly name: string;
  readonly port: Port;
  handle: WorkerHandle | null = null;
  readonly inflight: Chunk[] = [];
  readonly fns = new Set<number>();
  tasks = 0;
  alive = true;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Chunks to send in the next batch. */
  out: { chunks: Chunk[]; transfer: Transferable[] } | null = null;

  constructor(name: string, port: Port) {
    this.name = name;
    this.port = port;
  }
}

let workerNames = 0;

/** The engine behind a `Pool`. */
export class Engine extends Dispatcher {
  readonly options: EngineOptions;
  readonly #workers: PoolWorker[] = [];
  readonly #fnKeys = new Map<string, number>();
  readonly #targetKeys = new WeakMap<object, number>();
  readonly #run = new Samples();
  readonly #wait = new Samples();
  readonly #started = performance.now();
  #window = 1;
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

  /** The mean time a chunk ran in a worker, ms (0 before any ran). */
  get meanRunTime(): number {
    return this.#run.mean;
  }

  stats(): PoolStats {
    const elapsed = performance.now() - this.#started;
    return {
      processes: this.options.processes,
      busy: this.#workers.filter((w) => w.inflight.length > 0).length,
      queued: this.queuedItems(),
      completed: this.completed,
      failed: this.failed,
      utilization: elapsed > 0
        ? Math.min(1, this.#run.sum / (elapsed * this.options.processes))
        : 0,
      runTime: this.#run.timing(),
      waitTime: this.#wait.timing(),
    };
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
    const ctx = context();
    const name = `PoolWorker-${++workerNames}`;
    const { port1, port2 } = new MessageChannel();
    const init: InitMessage = {
      t: "init",
      pids: pidCounter(),
      liveness: livenessFor(port1),
      module: this.options.module,
    };
    port1.postMessage(init);
    const pool: PoolMessage = this.options.initializer === undefined
      ? { t: "pool" }
      : { t: "pool", init: this.options.initializer };
    port1.postMessage(pool);
    const worker = new PoolWorker(name, port1 as Port);
    worker.port.unref();
    port1.onmessage = (e: MessageEvent<FromWorker>) =>
      this.#onMessage(worker, e.data);
    worker.handle = spawnWorker(
      {
        identity: {
          name,
          pid: nextPid(),
          daemon: true,
          parent: { ...ctx.current },
        },
        module: this.options.module,
        permissions: this.options.permissions,
        resourceLimits: this.options.resourceLimits,
        detached: false,
      },
      port2,
      (code, error) => this.#died(worker, code, error),
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

  #batch(chunks: Chunk[]): ChunkMessage {
    const c: number[] = [];
    const k: number[] = [];
    const s: number[] = [];
    const n: number[] = [];
    let a: unknown[];
    if (chunks.length === 1) {
      a = chunks[0]!.items;
    } else {
      a = [];
      for (const chunk of chunks) for (const item of chunk.items) a.push(item);
    }
    const now = performance.now();
    for (const chunk of chunks) {
      c.push(chunk.id);
      k.push(chunk.job.key);
      s.push(chunk.job.star ? 1 : 0);
      n.push(chunk.items.length);
      chunk.sentAt = now;
    }
    return { t: "x", c, k, s, n, a };
  }

  #flush(w: PoolWorker): void {
    const out = w.out!;
    w.out = null;
    if (!w.alive) return;
    // A failed postMessage has already detached the buffers it was to move,
    // so a batch that moves buffers goes chunk by chunk from the start.
    if (out.transfer.length === 0) {
      try {
        w.port.postMessage(this.#batch(out.chunks), out.transfer);
        return;
      } catch {
        // fall through: find the chunk that cannot be sent
      }
    }
    // Chunk by chunk: a value that cannot be sent fails only its call.
    for (const chunk of out.chunks) {
      if (chunk.job.settled) {
        this.#forget(w, chunk);
        continue;
      }
      const job = chunk.job;
      const items = chunk.items;
      try {
        post(
          w.port,
          this.#batch([chunk]),
          items.length === 1 ? items[0] : items,
          this.pathOf(chunk),
          transfersIn(items, out.transfer),
        );
      } catch (err) {
        this.#forget(w, chunk);
        job.outstanding--;
        this.fail(job, err);
      }
    }
    if (w.inflight.length === 0) this.#idle(w);
    this.pump();
  }

  /** Removes a chunk that was never sent. */
  #forget(w: PoolWorker, chunk: Chunk): void {
    const i = w.inflight.indexOf(chunk);
    if (i !== -1) w.inflight.splice(i, 1);
    w.tasks--;
  }

  #onMessage(w: PoolWorker, msg: FromWorker): void {
    switch (msg.t) {
      case "r": {
        let at = 0;
        for (let j = 0; j < msg.c.length; j++) {
          const n = msg.n[j]!;
          const chunk = this.#take(w, msg.c[j]!);
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
        const chunk = this.#take(w, msg.c);
        if (chunk === undefined) return;
        this.#timing(chunk, msg.d);
        this.failed += chunk.items.length - msg.i;
        chunk.job.outstanding--;
        this.fail(chunk.job, decodeError(msg.e), chunk);
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

  #take(w: PoolWorker, id: number): Chunk | undefined {
    const inflight = w.inflight;
    if (inflight.length > 0 && inflight[0]!.id === id) return inflight.shift();
    const i = inflight.findIndex((c) => c.id === id);
    return i === -1 ? undefined : inflight.splice(i, 1)[0];
  }

  #timing(chunk: Chunk, d: number): void {
    const rtt = performance.now() - chunk.sentAt;
    this.#run.add(d);
    this.#wait.add(Math.max(0, rtt - d));
    // Pipeline deeper when tasks are short: ~2 ms of work in flight.
    const mean = this.#run.mean;
    this.#window = Math.max(
      1,
      Math.min(256, Math.floor(2 / Math.max(mean, 0.005))),
    );
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
    if (!w.alive) return;
    w.alive = false;
    w.out = null;
    clearTimeout(w.idleTimer);
    w.handle?.kill();
    w.port.close();
    processEnded(w.port);
    const i = this.#workers.indexOf(w);
    if (i !== -1) this.#workers.splice(i, 1);
  }

  #died(w: PoolWorker, code: number, error: unknown): void {
    if (!w.alive) return;
    const head = w.inflight.shift();
    this.#requeue(w);
    this.#retire(w);
    if (head !== undefined) {
      head.job.outstanding--;
      this.failed += head.items.length;
      const cause = error instanceof ProcessError ? error.cause : error;
      const err = error instanceof ProcessError ? error : new ProcessError(
        messages.workerDied(w.name, code, head.job.fn.name),
        cause === undefined
          ? { processName: w.name, exitCode: code }
          : { processName: w.name, exitCode: code, cause },
      );
      this.fail(head.job, err, head);
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
