// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// What every pool engine does with its calls, whatever runs the chunks:
// pulling input into chunks lazily, placing results in order, progress,
// failure, cancellation and the end of the pool. The local engine
// (scheduler.ts) runs chunks on module Workers; the Redis engine
// (redis/coordinator.ts) sends them to other machines.

import {
  classError,
  findClassInstance,
  unwrapTransfer,
} from "../_shared/clone.ts";
import type { Chunk, Job } from "./job.ts";
import type { Timing } from "./stats.ts";

/** What `Pool.stats()` returns. */
export interface PoolStats {
  /** The pool size (with a remote backend: the worker processes seen). */
  readonly processes: number;
  /** Workers running a task now. */
  readonly busy: number;
  /** Items waiting to be sent to a worker (known input only). */
  readonly queued: number;
  /** Items finished. */
  readonly completed: number;
  /** Items that failed. */
  readonly failed: number;
  /** Share of worker time spent running tasks since the pool started, 0-1. */
  readonly utilization: number;
  /** Time a task (chunk) ran in its worker, ms. */
  readonly runTime: Timing;
  /** Time a task waited between being sent and starting, ms. */
  readonly waitTime: Timing;
}

/** The face of an engine that `Pool` uses. */
export interface PoolEngine {
  readonly options: { readonly processes: number; readonly module: string };
  readonly closed: boolean;
  /** The error that broke the pool, if any: every later call throws it. */
  readonly broken: unknown;
  submit(job: Job): void;
  pump(): void;
  cancel(job: Job): void;
  close(): void;
  terminate(reason: unknown): void;
  joined(): Promise<void>;
  stats(): PoolStats;
}

let chunkIds = 0;

/** The call-side half of an engine. */
export abstract class Dispatcher {
  protected readonly jobs = new Set<Job>();
  /** Jobs that may still have input, oldest first, from `#feedHead`. */
  #feeding: Job[] = [];
  #feedHead = 0;
  /** Chunks to send before new input: re-queued or pulled asynchronously. */
  protected readonly retry: Chunk[] = [];
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

  /** Sends chunks while there is room. */
  abstract pump(): void;
  /** Rejects `job` with `reason` and stops its chunks. */
  abstract abort(job: Job, reason: unknown): void;
  /** Ends every worker now; unfinished calls reject with `reason`. */
  abstract terminate(reason: unknown): void;
  /** Ends what is idle once closed, and resolves `joined()` at the end. */
  protected abstract maybeFinish(): void;

  /** Adds a call and starts feeding it to workers. */
  submit(job: Job): void {
    this.jobs.add(job);
    this.#feeding.push(job);
    const signal = job.options.signal;
    if (signal !== undefined) {
      const onAbort = () => this.abort(job, signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      job.cleanup = () => signal.removeEventListener("abort", onAbort);
    }
    this.pump();
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

  /** Resolves the `joined()` promises. */
  protected resolveJoined(): void {
    const waiting = this.#joined;
    this.#joined = [];
    for (const resolve of waiting) resolve();
  }

  /** Items not yet sent, where the input's length is known. */
  protected queuedItems(): number {
    let queued = 0;
    for (const c of this.retry) queued += c.items.length;
    for (const job of this.jobs) {
      if (job.total !== undefined) queued += job.total - job.pulled;
    }
    return queued;
  }

  /** The next chunk to send: a re-queued one, else one from new input. */
  protected nextChunk(): Chunk | undefined {
    while (this.retry.length > 0) {
      const c = this.retry.shift()!;
      if (!c.job.settled) return c;
    }
    for (let i = this.#feedHead; i < this.#feeding.length; i++) {
      const job = this.#feeding[i]!;
      if (job.settled || job.source === null) {
        if (i === this.#feedHead && !job.pulling) this.#feedHead++;
        continue;
      }
      if (!job.wantsInput()) continue;
      if (job.isAsync) {
        this.#pullAsync(job);
        continue;
      }
      const chunk = this.#pullSync(job);
      if (chunk !== undefined) return chunk;
    }
    return undefined;
  }

  /** Drops the finished jobs at the head of the feeding list. */
  protected compactFeeding(): void {
    if (this.#feedHead > 256 && this.#feedHead * 2 > this.#feeding.length) {
      this.#feeding = this.#feeding.slice(this.#feedHead);
      this.#feedHead = 0;
    }
  }

  #makeChunk(job: Job, items: unknown[]): Chunk {
    const chunk: Chunk = {
      job,
      seq: job.chunks++,
      start: job.pulled,
      items,
      id: ++chunkIds,
      sentAt: 0,
    };
    job.pulled += items.length;
    job.outstanding++;
    return chunk;
  }

  /** A chunk of `items`, or, when there are none, settles a finished job. */
  #chunkOrFinish(job: Job, items: unknown[]): Chunk | undefined {
    if (items.length > 0) return this.#makeChunk(job, items);
    this.check(job);
    return undefined;
  }

  #pullSync(job: Job): Chunk | undefined {
    let items: unknown[];
    if (job.array !== null) {
      items = job.array.slice(job.pulled, job.pulled + job.chunksize);
    } else {
      const it = job.source as Iterator<unknown>;
      items = [];
      try {
        while (items.length < job.chunksize) {
          const r = it.next();
          if (r.done) {
            job.source = null;
            break;
          }
          items.push(r.value);
        }
      } catch (err) {
        job.source = null;
        this.fail(job, err);
        return undefined;
      }
    }
    // Known length: done without asking the iterator once more.
    if (job.total !== undefined && job.pulled + items.length >= job.total) {
      job.source = null;
    }
    return this.#chunkOrFinish(job, items);
  }

  async #pullAsync(job: Job): Promise<void> {
    job.pulling = true;
    const it = job.source as AsyncIterator<unknown>;
    const items: unknown[] = [];
    try {
      while (items.length < job.chunksize) {
        const r = await it.next();
        if (r.done) {
          job.source = null;
          break;
        }
        items.push(r.value);
      }
    } catch (err) {
      job.source = null;
      job.pulling = false;
      this.fail(job, err);
      return;
    }
    job.pulling = false;
    if (job.settled) return;
    const chunk = this.#chunkOrFinish(job, items);
    if (chunk !== undefined) this.retry.push(chunk);
    this.pump();
  }

  /** Unwraps `transfer()` marks (collecting buffers into `transfer`) and
   * refuses class instances. False when that failed the chunk's call. */
  protected prepare(chunk: Chunk, transfer: Transferable[]): boolean {
    const job = chunk.job;
    const items = chunk.items;
    for (let i = 0; i < items.length; i++) {
      const item = unwrapTransfer(items[i], transfer);
      if (job.star && Array.isArray(item)) {
        for (let j = 0; j < item.length; j++) {
          item[j] = unwrapTransfer(item[j], transfer);
        }
      }
      items[i] = item;
      if (item !== null && typeof item === "object") {
        const found = findClassInstance(item, this.pathOf(chunk, i));
        if (found) {
          job.outstanding--;
          this.fail(job, classError(found));
          return false;
        }
      }
    }
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
      const out = job.results;
      const start = chunk.start;
      for (let i = 0; i < n; i++) out[start + i] = values[at + i];
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
        job.settled = true;
        job.cleanup();
        this.#drop(job);
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
    job.settled = true;
    job.cleanup();
    this.#drop(job);
    if (job.sink.kind === "collect") {
      job.sink.resolve(job.sink.single ? job.results[0] : job.results);
    } else job.sink.wake();
  }

  /** Fails `job`; in an ordered stream, at `chunk`'s place in the output. */
  protected fail(job: Job, error: unknown, chunk?: Chunk): void {
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
    job.settled = true;
    job.cleanup();
    this.#drop(job);
    this.#closeSource(job);
    if (job.sink.kind === "collect") job.sink.reject(error);
    else {
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

  #drop(job: Job): void {
    this.jobs.delete(job);
    this.maybeFinish();
  }

  /** A stream consumer stopped early (break / return()). */
  cancel(job: Job): void {
    if (job.settled) return;
    job.settled = true;
    job.cleanup();
    this.#drop(job);
    this.#closeSource(job);
    if (job.sink.kind === "stream") job.sink.wake();
  }
}
