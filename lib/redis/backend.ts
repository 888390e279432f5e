// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { resolve } from "node:path";
import { intOption, msOption } from "../_check.ts";
import { messages } from "../_messages.ts";
import { defineBackend } from "../_engine/backend.ts";
import type { PoolBackend } from "../pool/types.ts";
import { checkQueue, checkUrl, safeUrl } from "./_client.ts";
import { type CoordinatorOptions, RedisEngine } from "./_coordinator.ts";

/** The defaults of {@linkcode RedisBackendOptions}. */
const BACKEND_DEFAULTS = Object.freeze({
  maxPending: 1024,
  reconnectTimeout: 5000,
  workerTimeout: 30_000,
});

/** The options of {@linkcode redisBackend}. */
export interface RedisBackendOptions {
  /** The server, such as `"redis://127.0.0.1:6379"` (`rediss://` for TLS;
   * a password goes in the URL). */
  url: string;
  /** The queue's name; workers started with the same `--queue` serve it. */
  queue: string;
  /** The project root that task modules are named relative to; default:
   * the nearest folder above the target module that holds a deno.json,
   * deno.jsonc or package.json. Workers resolve the same relative paths
   * under their own root. */
  root?: string | URL;
  /** Most chunks in Redis at a time, per pool; default 1024. More input
   * is read only as results come back, so memory stays bounded. */
  maxPending?: number;
  /** ms to wait for Redis to come back (or answer at all) before the
   * pool's calls reject with `RedisUnavailableError`; default 5000. */
  reconnectTimeout?: number;
  /** ms that calls may wait with no live worker before they reject with
   * `NoWorkersError`; default 30000. `Infinity` waits for ever. */
  workerTimeout?: number;
  /** Called with problems that do not stop the pool (malformed results on
   * its reply stream, dropped); default: written to stderr. */
  onWarning?: (message: string) => void;
}

/**
 * Runs a pool's tasks on other machines through Redis Streams: pass the
 * result as `new Pool({ backend })`, and start the worker command on each
 * worker machine (`deno run -A jsr:@parallel/multiprocessing/worker --redis
 * URL --queue NAME`). `map`, `imap`, `apply`, their `*Async` forms,
 * `signal`, `onProgress` and `stats()` behave as they do locally.
 *
 * Targets are named by module and export: a local module travels as its
 * path relative to the project root with its sha256, and a worker whose
 * copy differs refuses the task with a `ModuleMismatchError`. Values cross
 * in V8's serialization format (the structured-clone types). A chunk whose
 * worker dies is run again by another; duplicate results are dropped, and
 * so are malformed ones (anything may be written to Redis), with a warning.
 *
 * Each chunk costs a few Redis round trips, so pass a `chunksize` that makes
 * a chunk take a few milliseconds at least (see the README).
 *
 * @param options The server, the queue and optional limits.
 * @returns A backend for `new Pool({ backend })`.
 * @throws {TypeError} when the url or queue is malformed, or `onWarning`
 * is not a function.
 * @throws {RangeError} when a limit is out of range (`maxPending` must be
 * a positive integer, the timeouts positive numbers of ms).
 *
 * @example Cubes on worker machines
 * ```ts no-eval
 * import { Pool } from "@parallel/multiprocessing";
 * import { redisBackend } from "@parallel/multiprocessing/redis";
 *
 * export function cube(x: number): number {
 *   return x ** 3;
 * }
 *
 * if (import.meta.main) {
 *   const backend = redisBackend({
 *     url: "redis://127.0.0.1:6379",
 *     queue: "jobs",
 *   });
 *   await using pool = new Pool({ backend });
 *   const cubes = await pool.map(cube, [0, 1, 2, 3]);
 *   console.log(cubes); // [ 0, 1, 8, 27 ]
 * }
 * ```
 */
export function redisBackend(options: RedisBackendOptions): PoolBackend {
  if (options === null || typeof options !== "object") {
    throw new TypeError(messages.redisBackendOptions(options));
  }
  const url = checkUrl(options.url);
  const queue = checkQueue(options.queue);
  let root: string | undefined;
  if (options.root !== undefined) {
    const r = options.root;
    if (r instanceof URL) root = decodeURIComponent(r.pathname);
    else if (typeof r === "string") {
      root = resolve(
        r.startsWith("file:") ? decodeURIComponent(new URL(r).pathname) : r,
      );
    } else {
      throw new TypeError(messages.redisRoot(r));
    }
  }
  const onWarning = options.onWarning;
  if (onWarning !== undefined && typeof onWarning !== "function") {
    throw new TypeError(
      messages.badOption('"onWarning"', "a function", onWarning),
    );
  }
  const cfg: CoordinatorOptions = {
    url,
    queue,
    root,
    maxPending: intOption(
      options.maxPending,
      "maxPending",
      BACKEND_DEFAULTS.maxPending,
    ),
    reconnectTimeout: msOption(
      options.reconnectTimeout,
      "reconnectTimeout",
      BACKEND_DEFAULTS.reconnectTimeout,
    ),
    workerTimeout: msOption(
      options.workerTimeout,
      "workerTimeout",
      BACKEND_DEFAULTS.workerTimeout,
      true,
    ),
    warn: onWarning ?? ((m: string) => console.error(`[pool] ${m}`)),
  };
  const backend: PoolBackend = {
    description: `${safeUrl(url)} queue "${queue}"`,
  };
  return defineBackend(backend, () => new RedisEngine(cfg));
}
