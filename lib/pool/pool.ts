// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// `Pool`, the public shell over an engine. It checks its options once
// (_options.ts), describes each call (its target, input, chunk size and
// options) and hands the description to its engine: the local one
// (../_engine/local_engine.ts) or a backend's (../redis/_coordinator.ts),
// which owns the call from then on: its chunks, results, and statistics.

import {
  type AsyncResult,
  checkCallbacks,
  engineResult,
} from "./async_result.ts";
import { positiveInt } from "../_check.ts";
import { messages } from "../_messages.ts";
import type { Call } from "../_engine/call.ts";
import type { CollectSink } from "../_engine/job.ts";
import type { PoolEngine } from "../_engine/dispatcher.ts";
import { Engine } from "../_engine/local_engine.ts";
import { Targets } from "../_engine/target.ts";
import { watchModule } from "../_engine/error_classes.ts";
import { checkCallOptions, isOptions, resolvePoolOptions } from "./_options.ts";
import type {
  AsyncOptions,
  CallOptions,
  PoolInput,
  PoolOptions,
  PoolStats,
  TaskFunction,
  TaskResult,
  TransferableArgs,
} from "./types.ts";

/**
 * A pool of workers, as Python's `multiprocessing.Pool`: `map`, `starmap`,
 * `apply`, their `*Async` forms, and lazy `imap` / `imapUnordered`. Targets
 * are functions exported by a module (default: the module that makes the
 * call). Results keep input order (but for `imapUnordered`); a task's error
 * rejects its call with the error's class, name, message, remote stack,
 * cause and own properties. A worker that dies mid-task rejects only the
 * task it ran, with a `ProcessError`; the pool replaces it. Idle workers
 * never keep the program alive, so a pool that is never closed still lets
 * the program exit.
 *
 * @example Cubes, as in the Python tutorial
 * ```ts no-eval
 * import { Pool } from "@parallel/multiprocessing";
 *
 * export function cube(x: number): number {
 *   return x ** 3;
 * }
 *
 * if (import.meta.main) {
 *   const pool = new Pool(5);
 *   console.log(await pool.map(cube, [0, 1, 2, 3])); // [ 0, 1, 8, 27 ]
 * }
 * ```
 */
export class Pool<I extends unknown[] = unknown[]> implements AsyncDisposable {
  readonly #engine: PoolEngine;
  readonly #targets: Targets;
  /** The targets whose modules `watchModule` was told of: once is enough,
   * as a later call would do nothing. */
  readonly #watched = new WeakSet<object>();

  /**
   * Makes a pool; workers start on demand.
   *
   * @param options The number of workers, or the options.
   * @throws {RangeError} when `processes` is not a positive integer.
   * @throws {TypeError} when an option has the wrong type.
   * @throws {Error} when called while a worker imports its module (an
   * unguarded top level), or scoped permissions lack the unstable flag.
   */
  constructor(options?: number | PoolOptions<I>) {
    const o = resolvePoolOptions(options);
    this.#engine = o.backend === undefined
      ? new Engine(o)
      : o.backend({ module: o.module });
    this.#targets = new Targets(o.given, o.module);
  }

  /** The description of a call, for the engine; throws when the pool cannot
   * take it or `fn` is no target. */
  #call(
    what: string,
    fn: unknown,
    input: unknown,
    star: boolean,
    chunksize: unknown,
    options: CallOptions,
  ): Call {
    if (this.#engine.broken !== undefined) throw this.#engine.broken;
    if (this.#engine.closed) throw new Error(messages.poolClosed(what));
    const target = this.#targets.of(fn, what);
    if (!this.#watched.has(target)) {
      watchModule(target.module, target.ref.name);
      this.#watched.add(target);
    }
    return {
      what,
      fn: target.ref,
      target,
      module: target.module,
      star,
      chunksize,
      input,
      options,
    };
  }

  /** The call `what` described, its options checked; throws when it
   * cannot be made. */
  #describe(
    what: string,
    fn: unknown,
    input: unknown,
    star: boolean,
    chunksize: unknown,
    options: unknown,
  ): Call {
    const moved = isOptions(chunksize);
    const opts = checkCallOptions(moved ? chunksize : options);
    return this.#call(
      what,
      fn,
      input,
      star,
      moved ? undefined : chunksize,
      opts,
    );
  }

  #collect(
    what: string,
    fn: unknown,
    input: unknown,
    star: boolean,
    chunksize: unknown,
    options: unknown,
  ): Promise<unknown> {
    try {
      const call = this.#describe(what, fn, input, star, chunksize, options);
      return this.#engine.run(call, what === "apply");
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** As `#collect`, the outcome going to an AsyncResult with `callbacks`
   * (checked already), which the engine settles without a promise between
   * them: many calls in a tick cost little more than their messages. */
  #async<T>(
    what: string,
    fn: unknown,
    input: unknown,
    star: boolean,
    chunksize: unknown,
    options: AsyncOptions<T>,
  ): AsyncResult<T> {
    const { result, sink } = engineResult<T>(options, what === "apply");
    this.#submit(sink, what, fn, input, star, chunksize, options);
    return result;
  }

  #submit(
    sink: CollectSink,
    what: string,
    fn: unknown,
    input: unknown,
    star: boolean,
    chunksize: unknown,
    options: unknown,
  ): void {
    try {
      const call = this.#describe(what, fn, input, star, chunksize, options);
      this.#engine.submit(call, sink);
    } catch (err) {
      sink.reject(err, 0);
    }
  }

  #stream(
    what: string,
    fn: unknown,
    input: unknown,
    chunksize: unknown,
    options: unknown,
    ordered: boolean,
  ): AsyncIterableIterator<unknown> {
    const moved = isOptions(chunksize);
    const opts = checkCallOptions(moved ? chunksize : options);
    const size = positiveInt(
      moved ? 1 : chunksize ?? 1,
      messages.badChunksize,
    );
    const call = this.#call(what, fn, input, false, size, opts);
    return this.#engine.stream(call, ordered);
  }

  /**
   * `fn(item)` for every item, in parallel; results in input order.
   *
   * @param fn An exported function.
   * @param iterable Sync or async input.
   * @param chunksize Items per task; default `ceil(n / (4 * processes))`, 1
   * when the input's length is unknown.
   * @param options `signal` to cancel, `onProgress` to follow.
   * @returns The results.
   */
  map<F extends (item: never) => unknown>(
    fn: F,
    iterable: PoolInput<Parameters<F>[0]>,
    chunksize?: number,
    options?: CallOptions,
  ): Promise<TaskResult<F>[]> {
    return this.#collect(
      "map",
      fn,
      iterable,
      false,
      chunksize,
      options,
    ) as Promise<TaskResult<F>[]>;
  }

  /**
   * `fn(...args)` for every args array, in parallel; results in input order.
   *
   * @param fn An exported function.
   * @param iterable Sync or async input of argument arrays.
   * @param chunksize Items per task, as for `map`.
   * @param options `signal` to cancel, `onProgress` to follow.
   * @returns The results.
   */
  starmap<F extends TaskFunction>(
    fn: F,
    iterable: PoolInput<TransferableArgs<Parameters<F>>>,
    chunksize?: number,
    options?: CallOptions,
  ): Promise<TaskResult<F>[]> {
    return this.#collect(
      "starmap",
      fn,
      iterable,
      true,
      chunksize,
      options,
    ) as Promise<TaskResult<F>[]>;
  }

  /**
   * One call `fn(...args)` in a worker.
   *
   * @param fn An exported function.
   * @param args Its arguments.
   * @param options `signal` to cancel, `onProgress` to follow.
   * @returns The result.
   */
  apply<F extends TaskFunction>(
    fn: F,
    args?: TransferableArgs<Parameters<F>>,
    options?: CallOptions,
  ): Promise<TaskResult<F>> {
    const a = args ?? [];
    try {
      // Array.isArray throws for a revoked Proxy: the call rejects.
      if (!Array.isArray(a)) {
        throw new TypeError(messages.badOption('"args"', "an array", a));
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#collect("apply", fn, [a], true, 1, options) as Promise<
      TaskResult<F>
    >;
  }

  /**
   * `map` returning an {@linkcode AsyncResult}.
   *
   * @param fn An exported function.
   * @param iterable Sync or async input.
   * @param options `chunksize`, `callback`, `errorCallback`, `signal`,
   * `onProgress`.
   * @returns The handle of the work.
   */
  mapAsync<F extends (item: never) => unknown>(
    fn: F,
    iterable: PoolInput<Parameters<F>[0]>,
    options: AsyncOptions<TaskResult<F>[]> = {},
  ): AsyncResult<TaskResult<F>[]> {
    checkCallbacks(options);
    return this.#async(
      "map",
      fn,
      iterable,
      false,
      options.chunksize,
      options,
    );
  }

  /**
   * `starmap` returning an {@linkcode AsyncResult}.
   *
   * @param fn An exported function.
   * @param iterable Sync or async input of argument arrays.
   * @param options `chunksize`, `callback`, `errorCallback`, `signal`,
   * `onProgress`.
   * @returns The handle of the work.
   */
  starmapAsync<F extends TaskFunction>(
    fn: F,
    iterable: PoolInput<TransferableArgs<Parameters<F>>>,
    options: AsyncOptions<TaskResult<F>[]> = {},
  ): AsyncResult<TaskResult<F>[]> {
    checkCallbacks(options);
    return this.#async(
      "starmap",
      fn,
      iterable,
      true,
      options.chunksize,
      options,
    );
  }

  /**
   * `apply` returning an {@linkcode AsyncResult}.
   *
   * @param fn An exported function.
   * @param args Its arguments.
   * @param options `callback`, `errorCallback`, `signal`, `onProgress`.
   * @returns The handle of the work.
   */
  applyAsync<F extends TaskFunction>(
    fn: F,
    args?: TransferableArgs<Parameters<F>>,
    options: AsyncOptions<TaskResult<F>> = {},
  ): AsyncResult<TaskResult<F>> {
    checkCallbacks(options);
    const a = args ?? [];
    let problem: unknown;
    try {
      // Array.isArray throws for a revoked Proxy: the call fails.
      if (Array.isArray(a)) {
        return this.#async("apply", fn, [a], true, 1, options);
      }
      problem = new TypeError(messages.badOption('"args"', "an array", a));
    } catch (err) {
      problem = err;
    }
    const { result, sink } = engineResult<TaskResult<F>>(options, true);
    sink.reject(problem, 0);
    return result;
  }

  /**
   * Lazy, ordered `map`: pulls input only as workers free up, so an endless
   * input works and memory stays flat.
   *
   * @param fn An exported function.
   * @param iterable Sync or async input.
   * @param chunksize Items per task; default 1.
   * @param options `signal` to cancel, `onProgress` to follow.
   * @returns The results, in input order, as they become ready.
   */
  imap<F extends (item: never) => unknown>(
    fn: F,
    iterable: PoolInput<Parameters<F>[0]>,
    chunksize?: number,
    options?: CallOptions,
  ): AsyncIterableIterator<TaskResult<F>> {
    return this.#stream(
      "imap",
      fn,
      iterable,
      chunksize,
      options,
      true,
    ) as AsyncIterableIterator<TaskResult<F>>;
  }

  /**
   * As {@linkcode Pool.imap}, but results come as they complete.
   *
   * @param fn An exported function.
   * @param iterable Sync or async input.
   * @param chunksize Items per task; default 1.
   * @param options `signal` to cancel, `onProgress` to follow.
   * @returns The results, in completion order.
   */
  imapUnordered<F extends (item: never) => unknown>(
    fn: F,
    iterable: PoolInput<Parameters<F>[0]>,
    chunksize?: number,
    options?: CallOptions,
  ): AsyncIterableIterator<TaskResult<F>> {
    const what = "imapUnordered";
    return this.#stream(
      what,
      fn,
      iterable,
      chunksize,
      options,
      false,
    ) as AsyncIterableIterator<TaskResult<F>>;
  }

  /** No new work; queued work still finishes, then the workers end. */
  close(): void {
    this.#engine.close();
  }

  /** Ends every worker now; unfinished calls reject. */
  terminate(): void {
    this.#engine.terminate(new Error(messages.poolTerminated()));
  }

  /**
   * Waits until every worker is gone, after `close()` or `terminate()`.
   *
   * @returns A promise that resolves when the workers are gone.
   * @throws {Error} (as a rejection) while the pool is still open.
   */
  join(): Promise<void> {
    if (!this.#engine.closed) {
      return Promise.reject(new Error(messages.joinOpen()));
    }
    return this.#engine.joined();
  }

  /** `close()` then `join()`: `await using pool = new Pool()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.join();
  }

  /**
   * Counters and timings of the pool's work so far.
   *
   * @returns The counts, the utilization, and the run and wait times.
   */
  stats(): PoolStats {
    return this.#engine.stats();
  }
}
