// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import {
  AsyncResult,
  type AsyncResultCallbacks,
  checkCallbacks,
} from "./async_result.ts";
import { positiveInt } from "../_check.ts";
import { context } from "../_shared/context.ts";
import { cpuCount } from "../process/cpu_count.ts";
import { type CallOptions, Job, type Sink } from "../_engine/job.ts";
import {
  assertReadable,
  assertWorkerOptions,
  checkCombination,
  checkLimits,
  checkPermissions,
  type Permissions,
  type ResourceLimits,
} from "../_engine/permissions.ts";
import { Engine } from "../_engine/local_engine.ts";
import { backendFactory } from "../_engine/backend.ts";
import type { PoolEngine, PoolStats } from "../_engine/dispatcher.ts";
import { checkExported, fnRef, resolveModule } from "../_engine/target.ts";
import { messages } from "../_messages.ts";
import { MAX_TIMER } from "../_check.ts";
import type { Transfer } from "../_shared/clone.ts";

export type { PoolStats } from "../_engine/dispatcher.ts";
export type { Timing } from "../_engine/stats.ts";
export type { CallOptions } from "../_engine/job.ts";

/**
 * Where a pool's tasks run when not on this machine's workers. Made by a
 * backend function, such as `redisBackend()` from
 * `@parallel/multiprocessing/redis`, and passed as `new Pool({ backend })`.
 *
 * @example Tasks on other machines, through Redis
 * ```ts no-eval
 * import { Pool } from "@parallel/multiprocessing";
 * import { redisBackend } from "@parallel/multiprocessing/redis";
 *
 * export function cube(x: number): number {
 *   return x ** 3;
 * }
 *
 * if (import.meta.main) {
 *   const backend = redisBackend({ url: "redis://127.0.0.1:6379", queue: "jobs" });
 *   await using pool = new Pool({ backend });
 *   console.log(await pool.map(cube, [0, 1, 2, 3])); // [ 0, 1, 8, 27 ]
 * }
 * ```
 */
export interface PoolBackend {
  /** Where the tasks go, for messages: such as "redis://host:6379 jobs". */
  readonly description: string;
}

/** The options of a {@linkcode Pool}. */
export interface PoolOptions<I extends unknown[] = unknown[]> {
  /** Run the tasks elsewhere, such as on other machines through Redis
   * (`redisBackend()`). The workers' settings (`processes`, `permissions`,
   * ...) then belong to the worker command and may not be given here. */
  backend?: PoolBackend;
  /** How many workers; default `cpuCount()`. */
  processes?: number;
  /** Run once in each worker before its first task. */
  initializer?: (...args: I) => unknown;
  /** The initializer's arguments. */
  initargs?: I;
  /** A worker is replaced after this many tasks (chunks). */
  maxTasksPerChild?: number;
  /** What the workers may do; as for `Process`. */
  permissions?: Permissions;
  /** Per-worker V8 caps; only with `"inherit"` permissions. */
  resourceLimits?: ResourceLimits;
  /** ms an idle worker lives before it is ended (restarted on demand).
   * Default: no limit for "inherit" workers (idle ones never keep the program
   * alive), 1000 ms for scoped ones (which Deno cannot unreference). */
  idleTimeout?: number;
  /** The default module for targets; default: the module that made the
   * pool. Workers import it when they start. */
  module?: string | URL;
}

/** Options of the `*Async` methods: the call options plus callbacks. */
export interface AsyncOptions<T> extends CallOptions, AsyncResultCallbacks<T> {
  /** Items per task (map forms only). */
  chunksize?: number;
}

/** Any function a pool can run. */
export type TaskFunction = (...args: never[]) => unknown;

// A function is defined in one module: its call-site lookup is done once.
const targets = new WeakMap<
  object,
  { ref: ReturnType<typeof fnRef>; module: string }
>();
/** What a task of `F` gives: its awaited return value, `transfer()` unwrapped. */
export type TaskResult<F extends TaskFunction> = Awaited<ReturnType<F>> extends
  Transfer<infer U> ? U : Awaited<ReturnType<F>>;
/** A pool's input: sync or async items, each may be marked by `transfer()`. */
export type PoolInput<T> =
  | Iterable<T | Transfer<T>>
  | AsyncIterable<T | Transfer<T>>;
/** Arguments, each of which may be marked by `transfer()`. */
export type TransferableArgs<P extends unknown[]> = {
  [K in keyof P]: P[K] | Transfer<P[K]>;
};

function sizeOf(input: unknown): number | undefined {
  if (Array.isArray(input)) return input.length;
  if (ArrayBuffer.isView(input)) {
    return (input as unknown as ArrayLike<unknown>).length;
  }
  if (input instanceof Set || input instanceof Map) return input.size;
  return undefined;
}

function iterate(
  input: unknown,
): { it: Iterator<unknown> | AsyncIterator<unknown>; isAsync: boolean } {
  if (input !== null && input !== undefined) {
    const o = input as Record<symbol, unknown>;
    if (typeof o[Symbol.iterator] === "function") {
      return {
        it: (o[Symbol.iterator] as () => Iterator<unknown>).call(input),
        isAsync: false,
      };
    }
    if (typeof o[Symbol.asyncIterator] === "function") {
      return {
        it: (o[Symbol.asyncIterator] as () => AsyncIterator<unknown>).call(
          input,
        ),
        isAsync: true,
      };
    }
  }
  throw new TypeError(messages.notIterable(input));
}

function callOptions(value: unknown): CallOptions {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object") {
    throw new TypeError(
      messages.badOption("call options", "an object", value),
    );
  }
  const o = value as CallOptions;
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(
      messages.badOption('"signal"', "an AbortSignal", o.signal),
    );
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== "function") {
    throw new TypeError(
      messages.badOption('"onProgress"', "a function", o.onProgress),
    );
  }
  return o;
}

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
  #engine: PoolEngine;
  #module: string | undefined;
  #targets: typeof targets = new WeakMap();

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
    const opts: PoolOptions<I> = typeof options === "number" ||
        options === undefined
      ? { processes: options as number }
      : options;
    if (opts === null || typeof opts !== "object") {
      throw new TypeError(
        messages.badOption("Pool options", "a number or an object", options),
      );
    }
    if (opts.backend !== undefined) {
      this.#engine = Pool.#remote(opts);
      this.#module = opts.module === undefined
        ? undefined
        : this.#engine.options.module;
      return;
    }
    const processes = opts.processes === undefined
      ? cpuCount()
      : positiveInt(opts.processes, messages.badProcesses);
    const module = resolveModule(opts.module);
    if (context().importing) throw new Error(messages.unguarded(module));
    const permissions = checkPermissions(opts.permissions);
    const limits = checkLimits(opts.resourceLimits);
    checkCombination(permissions, limits);
    const maxTasks = opts.maxTasksPerChild === undefined
      ? Infinity
      : positiveInt(
        opts.maxTasksPerChild,
        (v) =>
          messages.badOption('"maxTasksPerChild"', "a positive integer", v),
      );
    let idle = opts.idleTimeout;
    if (idle === undefined) idle = permissions === "inherit" ? Infinity : 1000;
    if (typeof idle !== "number" || Number.isNaN(idle) || idle < 0) {
      throw new (typeof idle === "number" ? RangeError : TypeError)(
        messages.badOption('"idleTimeout"', "zero or more milliseconds", idle),
      );
    }
    // Beyond setTimeout's 32-bit range a timer would fire at once.
    if (idle > MAX_TIMER) idle = Infinity;
    let initializer:
      | { fn: ReturnType<typeof fnRef>; args: unknown[] }
      | undefined;
    if (opts.initializer !== undefined) {
      const fn = fnRef(opts.initializer, '"initializer"');
      checkExported(fn, module);
      const args = opts.initargs ?? [];
      if (!Array.isArray(args)) {
        throw new TypeError(messages.badOption('"initargs"', "an array", args));
      }
      initializer = { fn, args };
    }
    assertReadable(module);
    if (permissions !== "inherit") assertWorkerOptions();
    this.#module = opts.module === undefined ? undefined : module;
    this.#engine = new Engine({
      processes,
      module,
      permissions,
      resourceLimits: limits,
      initializer,
      maxTasksPerChild: maxTasks,
      idleTimeout: idle,
    });
  }

  static #remote<I extends unknown[]>(opts: PoolOptions<I>): PoolEngine {
    const factory = backendFactory(opts.backend);
    if (factory === undefined) {
      throw new TypeError(messages.badBackend(opts.backend));
    }
    for (
      const name of [
        "processes",
        "initializer",
        "initargs",
        "maxTasksPerChild",
        "permissions",
        "resourceLimits",
        "idleTimeout",
      ] as const
    ) {
      if (opts[name] !== undefined) {
        throw new TypeError(messages.backendOption(name));
      }
    }
    const module = resolveModule(opts.module);
    if (context().importing) throw new Error(messages.unguarded(module));
    return factory({ module });
  }

  #job(
    what: string,
    fn: unknown,
    input: unknown,
    star: boolean,
    chunksize: number | undefined,
    options: CallOptions,
    sink: Sink,
    bound: number,
  ): Job {
    if (this.#engine.broken !== undefined) throw this.#engine.broken;
    if (this.#engine.closed) throw new Error(messages.poolClosed(what));
    const cache = this.#module === undefined ? targets : this.#targets;
    let target = typeof fn === "function" ? cache.get(fn) : undefined;
    if (target === undefined) {
      const ref = fnRef(fn, `the target of ${what}`);
      const module = this.#module ?? resolveModule(undefined);
      checkExported(ref, module);
      target = { ref, module };
      cache.set(fn as TaskFunction, target);
    }
    const { ref, module } = target;
    if (module !== this.#engine.options.module) assertReadable(module);
    const { it, isAsync } = iterate(input);
    const total = sizeOf(input);
    const processes = this.#engine.options.processes;
    const size = chunksize === undefined
      ? total === undefined
        ? 1
        : Math.max(1, Math.ceil(total / (4 * processes)))
      : positiveInt(chunksize, messages.badChunksize);
    options.signal?.throwIfAborted();
    return new Job({
      fn: ref,
      target,
      module,
      star,
      chunksize: size,
      total,
      source: it,
      isAsync,
      array: Array.isArray(input) ? input : null,
      sink,
      options,
      bound,
    });
  }

  #collect(
    what: string,
    fn: unknown,
    input: unknown,
    star: boolean,
    chunksize: unknown,
    options: unknown,
  ): Promise<unknown[]> {
    try {
      let cs = chunksize;
      let opts = options;
      if (cs !== null && typeof cs === "object") {
        opts = cs;
        cs = undefined;
      }
      const call = callOptions(opts);
      let sink!: Sink;
      const promise = new Promise<unknown>((resolve, reject) => {
        sink = { kind: "collect", single: what === "apply", resolve, reject };
      });
      const job = this.#job(
        what,
        fn,
        input,
        star,
        cs as number | undefined,
        call,
        sink,
        Infinity,
      );
      this.#engine.submit(job);
      return promise as Promise<unknown[]>;
    } catch (err) {
      return Promise.reject(err);
    }
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
    ) as Promise<
      TaskResult<F>[]
    >;
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
    ) as Promise<
      TaskResult<F>[]
    >;
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
    if (!Array.isArray(a)) {
      return Promise.reject(
        new TypeError(messages.badOption('"args"', "an array", a)),
      );
    }
    return this.#collect("apply", fn, [a], true, 1, options) as Promise<
      unknown
    > as Promise<TaskResult<F>>;
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
    return new AsyncResult(
      this.map(fn, iterable, options.chunksize, options),
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
    return new AsyncResult(
      this.starmap(fn, iterable, options.chunksize, options),
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
    return new AsyncResult(this.apply(fn, args, options), options);
  }

  #stream(
    what: string,
    fn: unknown,
    iterable: unknown,
    chunksize: unknown,
    options: unknown,
    ordered: boolean,
  ): AsyncIterableIterator<unknown> {
    let cs = chunksize ?? 1;
    let opts = options;
    if (cs !== null && typeof cs === "object") {
      opts = cs;
      cs = 1;
    }
    const call = callOptions(opts);
    let wake: (() => void) | null = null;
    const sink: Sink = {
      kind: "stream",
      ordered,
      wake: () => {
        const w = wake;
        wake = null;
        w?.();
      },
    };
    const processes = this.#engine.options.processes;
    const size = positiveInt(cs, messages.badChunksize);
    const job = this.#job(
      what,
      fn,
      iterable,
      false,
      size,
      call,
      sink,
      Math.max(256, processes * 64 * size),
    );
    const engine = this.#engine;
    let submitted = false;
    const iterator: AsyncIterableIterator<unknown> = {
      async next(): Promise<IteratorResult<unknown>> {
        if (!submitted) {
          submitted = true;
          if (engine.closed) {
            job.settled = true;
            throw new Error(messages.poolClosed(what));
          }
          engine.submit(job);
        }
        while (true) {
          const results = job.results;
          if (job.taken < results.length) {
            const value = results[job.taken];
            results[job.taken++] = undefined;
            if (job.taken >= 1024 && job.taken * 2 >= results.length) {
              results.splice(0, job.taken);
              job.taken = 0;
            }
            engine.pump();
            return { value, done: false };
          }
          if (job.error !== null) {
            const e = job.error.value;
            job.error = null;
            job.source = null;
            throw e;
          }
          if (job.settled) return { value: undefined, done: true };
          await new Promise<void>((resolve) => wake = resolve);
        }
      },
      return(): Promise<IteratorResult<unknown>> {
        engine.cancel(job);
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
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
    ) as AsyncIterableIterator<
      TaskResult<F>
    >;
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
    return this.#stream(
      "imapUnordered",
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

  /** Counters and timings of the pool's work so far. */
  stats(): PoolStats {
    return this.#engine.stats();
  }
}
