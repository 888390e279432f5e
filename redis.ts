// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

/**
 * The same `Pool` on many machines, through Redis Streams. Pass
 * `redisBackend({ url, queue })` as the pool's `backend`, and run the worker
 * command (`@parallel/multiprocessing/worker`) on each worker machine. The
 * Redis client (`npm:ioredis`) is imported only by this entry point: the
 * core module keeps zero dependencies.
 *
 * @example A coordinator
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
 *   console.log(await pool.map(cube, [0, 1, 2, 3], 2)); // [ 0, 1, 8, 27 ]
 * }
 * ```
 *
 * @module
 */

export { redisBackend, type RedisBackendOptions } from "./lib/redis/backend.ts";
export {
  ModuleMismatchError,
  NoWorkersError,
  RedisUnavailableError,
} from "./lib/redis/errors.ts";
export {
  type RedisWorker,
  type RedisWorkerStats,
  serve,
  type ServeOptions,
} from "./lib/redis/serve.ts";
