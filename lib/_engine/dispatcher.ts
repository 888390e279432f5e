// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// What every pool engine does with its calls, whatever runs the chunks: the
// API that `Pool` and the Redis worker command use (run, stream, submit),
// then placing results in order, progress, failure, cancellation, statistics
// and the end of the pool. Reading the calls' inputs into chunks is
// feed.ts's. The local engine (local_engine.ts) runs chunks on module
// Workers; the Redis engine (../redis/_coordinator.ts) sends them to other
// machines.

import {
  type ByteCount,
  classError,
  findClassInstance,
} from "../_shared/clone.ts";
import { unwrapTransfer } from "../_shared/transferables.ts";
import type { PoolStats } from "../pool/types.ts";
import { type Call, openJob } from "./call.ts";
import type { Chunk, Job, Sink } from "./job.ts";
import { Feeder } from "./feed.ts";
import { PoolTimings } from "./stats.ts";
import { streamResults } from "./stream.ts";

/** `args` with its `transfer()` marks unwrapped: `args` itself when it has
 * none, else a copy (the caller's array is never written to). */
function unwrapArgs(args: unknown[], transfer: Transferable[]): unknown[] {
  let out: unknown[] | undefined;
  for (let j = 0; j < args.length; j++) {
    const arg = args[j];
    const plain = unwrapTransfer(arg, transfer);
    if (plain === arg) continue;
    out ??= args.slice();
    out[j] = plain;
  }
  return out ?? args;
}

/** The face of an engine that `Pool` uses. */
export interface PoolEngine {
  readonly closed: boolean;
  /** The error that broke the pool, if any: every later call throws it. */
  readonly broken: unknown;
  /** Runs `call`; resolves with its results (`single`: the first only). */
  run(call: Call, single: boolean): Promise<unknown>;
  /** Runs `call`, its outcome going to `sink`.
   * @throws what {@linkcode openJob} throws, for bad input. */
  submit(call: Call, sink: Sink): void;
  /** Runs `call` lazily, its results read through the iterator. */
  stream(call: Call, ordered: boolean): AsyncIterableIterator<unknown>;
  close(): void;
  terminate(reason: unknown): void;
  joined(): Promise<void>;
  stats(): PoolStats;
}

/** The call side of an engine: all but running the chunks. */
export abstract class Dispatcher extends Feeder implements PoolEngine {
  protected readonly timings = new PoolTimings();
  protected completed = 0;
  protected failed = 0;
  protected isClosed = false;
  protected brokenBy: unknown = undefined;
  #joined: Array<() => void> = [];

  get closed(): boolean {
    return this.isClosed;
  }

  /** The error that broke the pool (a failing initializer), if any. */
  get broken(): unknown {
    return this.brokenBy;
  }

  /** The mean time a chunk ran in its worker, ms; undefined before one
   * came back. */
  get meanRunTime(): number | undefined {
    return this.timings.meanRun;
  }

  /** Rejects `job` with `reason` and stops its chunks. */
  abstract abort(job: Job, reason: unknown): void;
  /** Ends every worker now; unfinished calls reject with `reason`. */
  abstract terminate(reason: unknown): void;
  /** Ends what is idle once closed, and resolves `joined()` at the end. */
  protected abstract maybeFinish(): void;
  /** The pool's size, which default chunk sizes and stream backlogs scale
   * with. */
  protected abstract poolSize(): number;
  /** The worker processes, for `stats()`. */
  protected abstract workerProcesses(): number;
  /** The workers running a chunk now, for `stats()`. */
  protected abstract busyWorkers(): number;

  /** The job of `call`, results going to `sink`; not started yet.
   * @throws what {@linkcode openJob} throws, for bad input. */
  open(call: Call, sink: Sink): Job {
    return openJob(call, sink, this.poolSize());
  }

  /** Adds a job and starts feeding it to workers. */
  start(job: Job): void {
    this.feed(job);
    const signal = job.options.signal;
    if (signal !== undefined) {
      const onAbort = () => this.abort(job, signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      job.cleanup = () => signal.removeEventListener("abort", onAbort);
    }
    this.pump();
  }

  /** Opens and starts `call`, its results going to `sink`. */
  submit(call: Call, sink: Sink): void {
    this.start(this.open(call, sink));
  }

  /** Runs `call`: its results, or the first value only when `single`. */
  run(call: Call, single: boolean): Promise<unknown> {
    let sink!: Sink;
    const promise = new Promise<unknown>((resolve, reject) => {
      sink = { kind: "collect", single, resolve, reject };
    });
    this.submit(call, sink);
    return promise;
  }

  /** Runs `call` as a stream: ordered, or in completion order. */
  stream(call: Call, ordered: boolean): AsyncIterableIterator<unknown> {
    return streamResults(
      this,
      (sink) => this.open(call, sink),
      call.what,
      ordered,
    );
  }

  /** No new calls; workers end once the queued work is done. */
  close(): void {
    this.isClosed = true;
    this.maybeFinish();
  }

  /** Resolves when every worker is gone (after close or terminate). */
  joined(): Promise<void> {
    return new Promise((resolve) => {
      this.#joined.push(resolve);
      this.maybeFinish();
    });
  }

  /** Counters and timings of the engine's work so far. */
  stats(): PoolStats {
    return this.timings.stats({
      processes: this.workerProcesses(),
      busy: this.busyWorkers(),
      queued: this.queuedItems(),
      completed: this.completed,
      failed: this.failed,
    });
  }

  /** Resolves the `joined()` promises. */
  protected resolveJoined(): void {
    const waiting = this.#joined;
    this.#joined = [];
    for (const resolve of waiting) resolve();
  }

  /** Unwraps `transfer()` marks (collecting buffers into `transfer`) and
   * refuses class instances. False when that failed the chunk's call: also
   * when reading an item threw (a revoked Proxy, a throwing getter), so that
   * a bad argument rejects its call and never leaves it hanging. The
   * caller's objects are never written to: a spread item (an `apply` or
   * `starmap` argument list, perhaps frozen) that holds marks is copied. */
  protected prepare(chunk: Chunk, transfer: Transferable[]): boolean {
    const job = chunk.job;
    const items = chunk.items;
    // The bytes the items copy; the buffers of a marked item move.
    const count: ByteCount = { bytes: 0 };
    try {
      for (let i = 0; i < items.length; i++) {
        const given = items[i];
        let item = unwrapTransfer(given, transfer);
        if (job.star && Array.isArray(item)) item = unwrapArgs(item, transfer);
        // `items` is the chunk's own array (a slice of the input).
        if (item !== given) items[i] = item;
        if (item !== null && typeof item === "object") {
          const found = findClassInstance(
            item,
            "",
            undefined,
            item === given ? count : undefined,
          );
          if (found) {
            job.outstanding--;
            const path = this.pathOf(chunk, i) + found.path;
            this.fail(job, classError({ path, reason: found.reason }));
            return false;
          }
        }
      }
    } catch (err) {
      job.outstanding--;
      this.fail(job, err);
      return false;
    }
    chunk.bytes = count.bytes;
    return true;
  }

  /** How an error names item `i` of a chunk (`args` for `apply`). */
  protected pathOf(chunk: Chunk, i?: number): string {
    const job = chunk.job;
    if (job.sink.kind === "collect" && job.total === 1 && job.star) {
      return "args";
    }
    if (i !== undefined) return `iterable[${chunk.start + i}]`;
    return `iterable[${chunk.start}${chunk.items.length === 1 ? "" : "…"}]`;
  }

  /** Places the `n` values of a finished chunk, from `values[at]`. */
  protected deliver(
    chunk: Chunk,
    values: unknown[],
    at: number,
    n: number,
  ): void {
    const job = chunk.job;
    job.outstanding--;
    this.completed += n;
    if (job.settled) return;
    job.done += n;
    if (job.sink.kind === "collect") {
      const flat = job.flat;
      if (job.sink.single) {
        if (chunk.seq === 0 && n > 0) job.first = values[at];
      } else if (flat !== null) {
        const start = chunk.start;
        for (let i = 0; i < n; i++) flat[start + i] = values[at + i];
      } else {
        // `values` is this engine's own (a message's): a chunk that came
        // alone keeps the array it came in.
        (job.parts ??= [])[chunk.seq] =
          at === 0 && n === values.length && Array.isArray(values)
            ? values
            : values.slice(at, at + n);
      }
    } else if (!job.sink.ordered) {
      for (let i = 0; i < n; i++) job.results.push(values[at + i]);
    } else {
      (job.parked ??= new Map()).set(chunk.seq, values.slice(at, at + n));
      this.#flushOrdered(job);
    }
    this.#progress(job);
    this.check(job);
    if (job.sink.kind === "stream") job.sink.wake();
  }

  #flushOrdered(job: Job): void {
    const parked = job.parked!;
    let next = parked.get(job.nextSeq);
    while (next !== undefined) {
      parked.delete(job.nextSeq++);
      if (!Array.isArray(next)) {
        job.error = { value: next.error };
        this.#settle(job);
        return;
      }
      for (const v of next) job.results.push(v);
      next = parked.get(job.nextSeq);
    }
  }

  #progress(job: Job): void {
    const cb = job.options.onProgress;
    if (cb === undefined) return;
    try {
      cb(job.done, job.total);
    } catch {
      // a failing progress callback must not break the pool
    }
  }

  /** Settles a job that has every result. */
  protected check(job: Job): void {
    if (job.settled || !job.finished()) return;
    this.#settle(job);
    if (job.sink.kind === "collect") {
      job.sink.resolve(
        job.sink.single ? job.first : job.collected(),
      );
    } else job.sink.wake();
  }

  /** A chunk that ran failed at its item `at` (0: as a whole, such as its
   * worker lost): that item and the rest of the chunk gave no result. */
  protected failChunk(chunk: Chunk, error: unknown, at: number): void {
    this.failed += chunk.items.length - at;
    chunk.job.outstanding--;
    this.fail(chunk.job, error, chunk, at);
  }

  /** Fails `job`; in an ordered stream, at `chunk`'s place in the output. */
  protected fail(job: Job, error: unknown, chunk?: Chunk, at = 0): void {
    if (job.settled) return;
    if (
      job.sink.kind === "stream" && job.sink.ordered && chunk !== undefined
    ) {
      // The error takes its place in the output order.
      (job.parked ??= new Map()).set(chunk.seq, { error });
      this.#flushOrdered(job);
      job.sink.wake();
      if (job.settled) this.#closeSource(job);
      return;
    }
    this.#settle(job);
    this.#closeSource(job);
    if (job.sink.kind === "collect") {
      job.sink.reject(error, chunk === undefined ? 0 : chunk.start + at);
    } else {
      job.error = { value: error };
      job.sink.wake();
    }
  }

  /** Fails every unfinished call with `reason`. */
  protected failAll(reason: unknown): void {
    for (const job of [...this.jobs]) this.fail(job, reason);
    this.retry.length = 0;
  }

  #closeSource(job: Job): void {
    const source = job.source;
    job.source = null;
    try {
      const r = source?.return?.();
      if (r instanceof Promise) r.catch(() => {});
    } catch {
      // ignore
    }
  }

  /** Marks `job` settled and drops it from the engine. */
  #settle(job: Job): void {
    job.settled = true;
    job.cleanup();
    this.jobs.delete(job);
    this.maybeFinish();
  }

  /** A stream consumer stopped early (break / return()). */
  cancel(job: Job): void {
    if (job.settled) return;
    this.#settle(job);
    this.#closeSource(job);
    if (job.sink.kind === "stream") job.sink.wake();
  }
}
