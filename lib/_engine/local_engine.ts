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
import type { FnRef, FromWorker } from "../_shared/wire.ts";
import { decodeError } from "../_shared/error_codec.ts";
import { errorClasses } from "./error_classes.ts";
import type {
  Isolation,
  Permissions,
  ResourceLimits,
} from "../process/worker_options.ts";
import { START_FAILED } from "./child.ts";
import type { ChildCommand } from "./flags.ts";
import { Dispatcher } from "./dispatcher.ts";
import { FnKeys } from "./fn_keys.ts";
import type { Chunk, Job } from "./job.ts";
import { batchMessage, PoolWorker } from "./pool_worker.ts";
import { messageEnd, WorkerLoad } from "./worker_load.ts";
import { assertSandbox } from "./sandbox.ts";
import {
  fromWorkerProblem,
  PROTOCOL_EXIT_CODE,
  protocolError,
} from "./validate.ts";

/** The chunks queued for a worker, and the buffers they move. */
type Outgoing = NonNullable<PoolWorker["out"]>;

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
  /** Threads of this process, or OS processes (started by `command`). */
  readonly isolation: Isolation;
  readonly command: ChildCommand | undefined;
}

/** The engine of a `Pool` on this machine's module Workers. */
export class Engine extends Dispatcher {
  readonly options: EngineOptions;
  readonly #workers: PoolWorker[] = [];
  /** Retired OS processes that have not ended yet. */
  readonly #ending = new Set<PoolWorker>();
  readonly #keys = new FnKeys();
  readonly #load = new WorkerLoad();
  #flushing = false;

  /**
   * @throws {Deno.errors.NotCapable} when the workers have scoped
   * permissions and could make Deno prompt in this terminal, or their
   * module imports a file outside the places they may read (sandbox.ts).
   */
  constructor(options: EngineOptions) {
    super();
    this.options = options;
    // A child process never prompts: it runs with --no-prompt.
    assertSandbox(options.module, options.permissions, {
      terminal: options.isolation !== "process",
    });
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
      const worker = this.#load.pick(
        this.#workers,
        this.options.processes,
        this.options.maxTasksPerChild,
      );
      if (worker === undefined) return;
      const chunk = this.nextChunk();
      if (chunk === undefined) {
        this.compactFeeding();
        return;
      }
      const w = worker === "spawn" ? this.#spawn() : worker;
      // A worker that may not start has broken the pool: nothing to send.
      if (w === undefined) return;
      this.#send(w, chunk);
    }
  }

  /** A new worker; undefined when none can start (its module may no longer
   * be loaded, as when a file of its graph changed since the pool started,
   * or starting it threw), which breaks the pool: its calls reject with the
   * reason, rather than wait for a worker that never comes. */
  #spawn(): PoolWorker | undefined {
    let worker: PoolWorker;
    try {
      // Cheap while the graph's files are unchanged: one stat each.
      assertSandbox(this.options.module, this.options.permissions, {
        terminal: this.options.isolation !== "process",
      });
      worker = PoolWorker.spawn(
        this.options,
        (w, msg) => this.#onMessage(w, msg),
        (w, code, error) => this.#died(w, code, error),
      );
    } catch (err) {
      this.brokenBy = err;
      this.terminate(err);
      return undefined;
    }
    this.#workers.push(worker);
    return worker;
  }

  /** Adds a chunk to the worker's outgoing batch (sent by `#flushAll`). */
  #send(w: PoolWorker, chunk: Chunk): void {
    const job = chunk.job;
    const k = this.#keys.of(job);
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
    this.#load.sent(w, chunk);
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => this.#flushAll());
    }
  }

  /** Sends the chunks queued for each worker: one message per worker in
   * turn, so that each starts on its first while the next are sent. */
  #flushAll(): void {
    this.#flushing = false;
    const sends: { w: PoolWorker; out: Outgoing; from: number }[] = [];
    for (const w of this.#workers) {
      const out = w.out;
      if (out === null) continue;
      w.out = null;
      if (!w.alive) continue;
      // A failed postMessage has already detached the buffers it was to
      // move, so a batch that moves buffers goes chunk by chunk.
      if (out.transfer.length > 0) this.#sendApart(w, out, 0);
      else sends.push({ w, out, from: 0 });
    }
    while (sends.length > 0) {
      for (let i = 0; i < sends.length;) {
        const send = sends[i]!;
        const chunks = send.out.chunks;
        if (send.w.alive) {
          const to = messageEnd(chunks, send.from);
          try {
            send.w.port.postMessage(batchMessage(
              send.from === 0 && to === chunks.length
                ? chunks
                : chunks.slice(send.from, to),
            ));
            send.from = to;
          } catch {
            // Find the chunk that cannot be sent.
            this.#sendApart(send.w, send.out, send.from);
            send.from = chunks.length;
          }
        } else send.from = chunks.length;
        if (send.from === chunks.length) sends.splice(i, 1);
        else i++;
      }
    }
  }

  /** Sends `out.chunks` from `from` on one at a time: a value that cannot
   * be sent fails only its call. */
  #sendApart(w: PoolWorker, out: Outgoing, from: number): void {
    const chunks = out.chunks;
    for (let i = from; i < chunks.length; i++) {
      const chunk = chunks[i]!;
      if (chunk.job.settled) {
        w.forget(chunk);
        this.#load.left(w, chunk);
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
          true, // by prepare()
        );
      } catch (err) {
        w.forget(chunk);
        this.#load.left(w, chunk);
        job.outstanding--;
        this.fail(job, err);
      }
    }
    if (w.inflight.length === 0) this.#idle(w);
    this.pump();
  }

  /** A message from worker `w`. It may come from hostile code (a worker
   * with scoped permissions): it is checked before anything is done with
   * it, and nothing it holds can make this throw into the event loop. */
  #onMessage(w: PoolWorker, msg: FromWorker): void {
    if (!w.alive) return;
    try {
      const problem = fromWorkerProblem(msg);
      if (problem !== undefined) this.#malformed(w, problem);
      else this.#handle(w, msg);
    } catch (err) {
      // Nothing should throw here; if something does, it ends the worker
      // that sent the message, not the program.
      this.#malformed(w, `handling it threw ${String(err)}`);
    }
  }

  #handle(w: PoolWorker, msg: FromWorker): void {
    switch (msg.t) {
      case "r": {
        const { c, n, v, d } = msg;
        const now = performance.now();
        let at = 0;
        for (let j = 0; j < c.length; j++) {
          const count = n[j]!;
          // A chunk no longer in flight (a stale or forged report) gives
          // nothing; one in flight must come with exactly its item count.
          const chunk = w.take(c[j]!);
          if (chunk !== undefined) {
            this.#load.left(w, chunk);
            if (count !== chunk.items.length) {
              w.inflight.unshift(chunk);
              this.#malformed(
                w,
                `${count} results for a chunk of ${chunk.items.length} items`,
              );
              return;
            }
            this.#timing(chunk, d[j]!, now);
            this.deliver(chunk, v, at, count);
          }
          at += count;
        }
        this.#afterTask(w);
        break;
      }
      case "e": {
        const chunk = w.take(msg.c);
        if (chunk === undefined) return;
        this.#load.left(w, chunk);
        if (msg.i >= chunk.items.length) {
          w.inflight.unshift(chunk);
          this.#malformed(
            w,
            `a failure at item ${msg.i} of a chunk of ${chunk.items.length} items`,
          );
          return;
        }
        this.#timing(chunk, msg.d, performance.now());
        const classes = errorClasses(chunk.job.module);
        this.failChunk(chunk, decodeError(msg.e, classes), msg.i);
        this.#afterTask(w);
        break;
      }
      case "i":
        // Only a pool with an initializer hears of one failing.
        if (this.options.initializer === undefined) {
          this.#malformed(w, "an initializer failure from a pool without one");
          return;
        }
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

  /** Worker `w` broke the protocol: it ends as if it had died, its running
   * chunk failing with a ProcessError that says so. */
  #malformed(w: PoolWorker, problem: string): void {
    this.#died(w, PROTOCOL_EXIT_CODE, protocolError(w.name, problem));
  }

  /** Records a chunk's times; pipelines deeper as chunks get shorter. */
  #timing(chunk: Chunk, d: number, now: number): void {
    this.timings.add(d, now - chunk.sentAt);
    this.#load.timed(this.timings.meanRun);
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
    this.#load.cleared(w);
    this.retry.unshift(...keep);
  }

  #retire(w: PoolWorker): void {
    this.#load.cleared(w);
    if (!w.retire()) return;
    const i = this.#workers.indexOf(w);
    if (i !== -1) this.#workers.splice(i, 1);
    // An OS process ends a moment later: join() waits for it.
    const ended = w.ended;
    if (ended !== undefined) {
      this.#ending.add(w);
      ended.then(() => {
        this.#ending.delete(w);
        this.maybeFinish();
      });
    }
  }

  #died(w: PoolWorker, code: number, error: unknown): void {
    if (!w.alive) return;
    // A worker process that could not start would fail so again: the pool
    // stops, rather than restart it for ever.
    if (error instanceof ProcessError && error.code === START_FAILED) {
      this.brokenBy = error;
      this.terminate(error);
      return;
    }
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
    if (
      this.#workers.length === 0 && this.#ending.size === 0 &&
      this.jobs.size === 0
    ) {
      this.resolveJoined();
    }
  }
}
