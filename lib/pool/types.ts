// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The public types of `Pool`: its options, its calls' options and results,
// and what `stats()` returns. The engines import them as types only.

import type { AsyncResultCallbacks } from "./async_result.ts";
import type { Transfer } from "./transfer.ts";
import type {
  Isolation,
  Permissions,
  ResourceLimits,
} from "../process/worker_options.ts";

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

/**
 * The options of a `Pool`. Every one may be left out; the defaults are
 * Python's (`processes`: `cpuCount()`), and the module that makes the pool
 * is the default module of its targets.
 *
 * @typeParam I The initializer's arguments.
 *
 * @example Two workers, each set up once
 * ```ts no-eval
 * import { Pool, type PoolOptions } from "@parallel/multiprocessing";
 *
 * export function setUp(level: number): void {
 *   (globalThis as { level?: number }).level = level;
 * }
 *
 * if (import.meta.main) {
 *   const options: PoolOptions<[number]> = {
 *     processes: 2,
 *     initializer: setUp,
 *     initargs: [3],
 *     maxTasksPerChild: 100,
 *   };
 *   await using pool = new Pool(options);
 * }
 * ```
 */
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
  /** Per-worker V8 caps; with isolation "thread", only with `"inherit"`
   * permissions. */
  resourceLimits?: ResourceLimits;
  /** Where the workers run: `"thread"` (default), threads of this program;
   * `"process"`, OS processes of their own, as Python's workers are: their
   * own memory limits, crashes and permissions, and a slower start. */
  isolation?: Isolation;
  /** ms an idle worker lives before it is ended (restarted on demand).
   * Default: no limit (an idle worker never keeps the program alive); 1000
   * ms for scoped ones on a Deno that cannot unreference a web Worker. */
  idleTimeout?: number;
  /** The default module for targets; default: the module that made the
   * pool. Workers import it when they start. */
  module?: string | URL;
}

/**
 * The progress and cancellation options of a pool call: the last argument
 * of `map`, `imap`, `apply`, ..., and part of the `*Async` options.
 *
 * @example Cancel a map after a second, following its progress
 * ```ts no-eval
 * import { type CallOptions, Pool } from "@parallel/multiprocessing";
 *
 * export function cube(x: number): number {
 *   return x ** 3;
 * }
 *
 * if (import.meta.main) {
 *   await using pool = new Pool(2);
 *   const options: CallOptions = {
 *     signal: AbortSignal.timeout(1000),
 *     onProgress: (done, total) => console.log(`${done} of ${total}`),
 *   };
 *   await pool.map(cube, [1, 2, 3], undefined, options);
 * }
 * ```
 */
export interface CallOptions {
  /** Aborting it rejects the call's unfinished tasks with its reason. */
  readonly signal?: AbortSignal | undefined;
  /** Called as items complete, with the count and (when known) the total. */
  readonly onProgress?: ((done: number, total?: number) => void) | undefined;
}

/**
 * Options of the `*Async` methods: the call options plus callbacks.
 *
 * @typeParam T The value the work gives.
 *
 * @example Callbacks of a mapAsync
 * ```ts no-eval
 * import { type AsyncOptions, Pool } from "@parallel/multiprocessing";
 *
 * export function cube(x: number): number {
 *   return x ** 3;
 * }
 *
 * if (import.meta.main) {
 *   await using pool = new Pool(2);
 *   const options: AsyncOptions<number[]> = {
 *     chunksize: 2,
 *     callback: (cubes) => console.log(cubes),
 *     errorCallback: (error) => console.error(error),
 *   };
 *   await pool.mapAsync(cube, [1, 2, 3], options);
 * }
 * ```
 */
export interface AsyncOptions<T> extends CallOptions, AsyncResultCallbacks<T> {
  /** Items per task (map forms only). */
  chunksize?: number;
}

/**
 * Summary of a set of durations, in ms: part of {@linkcode PoolStats}.
 *
 * @example Read the median run time
 * ```ts
 * import type { Timing } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const runTime: Timing = { mean: 2, p50: 1.5, p99: 9, max: 12 };
 * assert.ok(runTime.p50 <= runTime.p99);
 * ```
 */
export interface Timing {
  /** Mean duration. */
  readonly mean: number;
  /** Median duration. */
  readonly p50: number;
  /** 99th percentile. */
  readonly p99: number;
  /** Longest duration. */
  readonly max: number;
}

/**
 * What `Pool.stats()` returns: the pool's counters and timings so far.
 * `failed` counts the items that gave no result because a task failed: the
 * failing item and the items after it in its chunk.
 *
 * @example After a map
 * ```ts no-eval
 * import { Pool } from "@parallel/multiprocessing";
 *
 * export function cube(x: number): number {
 *   return x ** 3;
 * }
 *
 * if (import.meta.main) {
 *   await using pool = new Pool(2);
 *   await pool.map(cube, [1, 2, 3]);
 *   const { completed, failed, runTime } = pool.stats();
 *   console.log(completed, failed, runTime.p50); // 3 0 …
 * }
 * ```
 */
export interface PoolStats {
  /** The pool size (with a remote backend: the worker processes seen). */
  readonly processes: number;
  /** Workers running a task now. */
  readonly busy: number;
  /** Items waiting to be sent to a worker (known input only). */
  readonly queued: number;
  /** Items finished. */
  readonly completed: number;
  /** Items that gave no result: a failing item and the rest of its chunk. */
  readonly failed: number;
  /** Share of worker time spent running tasks since the pool started, 0-1. */
  readonly utilization: number;
  /** Time a task (chunk) ran in its worker, ms. */
  readonly runTime: Timing;
  /** Time a task waited between being sent and starting, ms. */
  readonly waitTime: Timing;
}

/**
 * Any function a pool can run.
 *
 * @example
 * ```ts
 * import type { TaskFunction } from "@parallel/multiprocessing";
 *
 * const add: TaskFunction = (a: number, b: number) => a + b;
 * ```
 */
export type TaskFunction = (...args: never[]) => unknown;

/**
 * What a task of `F` gives: its awaited return value, `transfer()` unwrapped.
 *
 * @typeParam F The task function.
 *
 * @example
 * ```ts
 * import type { TaskResult, Transfer } from "@parallel/multiprocessing";
 *
 * type Bytes = TaskResult<() => Promise<Transfer<Uint8Array>>>; // Uint8Array
 * const bytes: Bytes = new Uint8Array(4);
 * ```
 */
export type TaskResult<F extends TaskFunction> = Awaited<ReturnType<F>> extends
  Transfer<infer U> ? U : Awaited<ReturnType<F>>;

/**
 * A pool's input: sync or async items, each may be marked by `transfer()`.
 *
 * @typeParam T The item type.
 *
 * @example
 * ```ts
 * import type { PoolInput } from "@parallel/multiprocessing";
 *
 * async function* numbers() {
 *   yield 1;
 *   yield 2;
 * }
 * const input: PoolInput<number> = numbers();
 * ```
 */
export type PoolInput<T> =
  | Iterable<T | Transfer<T>>
  | AsyncIterable<T | Transfer<T>>;

/**
 * Arguments, each of which may be marked by `transfer()`.
 *
 * @typeParam P The argument types.
 *
 * @example
 * ```ts
 * import { transfer, type TransferableArgs } from "@parallel/multiprocessing";
 *
 * const args: TransferableArgs<[Uint8Array, number]> = [
 *   transfer(new Uint8Array(8)),
 *   3,
 * ];
 * ```
 */
export type TransferableArgs<P extends unknown[]> = {
  [K in keyof P]: P[K] | Transfer<P[K]>;
};
