// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// `serve()`, the library side of the worker command: its options, checked
// and filled in once, and the worker it returns (_server.ts runs it).

import { hostname } from "node:os";
import { resolve } from "node:path";
import { intOption } from "../_check.ts";
import { messages } from "../_messages.ts";
import { cpuCount } from "../process/cpu_count.ts";
import { assertCanSpawn, childCommand } from "../_engine/flags.ts";
import { checkIsolation, checkPermissions } from "../_engine/permissions.ts";
import type { Isolation, Permissions } from "../process/worker_options.ts";
import type { LocalWorkers } from "./_runner.ts";
import { checkQueue, checkUrl } from "./_client.ts";
import { findRoot } from "./_protocol.ts";
import { Server } from "./_server.ts";

/** The options of {@linkcode serve}. */
export interface ServeOptions {
  /** The server, such as `"redis://127.0.0.1:6379"`. */
  url: string;
  /** The queue to serve, as given to `redisBackend()`. */
  queue: string;
  /** Local module Workers that run the tasks; default `cpuCount()`. */
  processes?: number;
  /** Whether they are threads (`"thread"`, the default) or OS processes
   * (`"process"`). */
  isolation?: Isolation;
  /** What the tasks may do; default `"inherit"`, all the worker may. Other
   * values need isolation `"process"`: each task's module is imported when
   * its first task comes, so give read access to the project root at
   * least, such as `{ read: ["/srv/app"] }`. */
  permissions?: Permissions;
  /** The project root task modules are resolved under; default: the
   * nearest folder at or above the working directory that holds a
   * deno.json, deno.jsonc or package.json. */
  root?: string;
  /** This worker's name in Redis and in errors; default `host:pid`. */
  name?: string;
  /** ms after which a chunk held by a silent worker is taken over;
   * default 5000. Workers refresh what they hold every `heartbeat` ms. */
  claimAfter?: number;
  /** ms between heartbeats; default 1000. Must be well under
   * `claimAfter`. */
  heartbeat?: number;
  /** Deliveries of a chunk (its first, plus each take-over from a worker
   * that died or went silent) before it is failed with a `ProcessError`
   * instead of being run again; default 3. */
  maxDeliveries?: number;
  /** ms to wait for Redis at start before giving up; default 5000. */
  connectTimeout?: number;
  /** Called with problems that do not stop the worker (Redis lost and
   * retried); default: written to stderr. */
  onWarning?: (message: string) => void;
}

/** What {@linkcode RedisWorker.stats} returns. */
export interface RedisWorkerStats {
  /** Task entries taken: each holds one chunk, or several short ones of
   * one call. */
  readonly entries: number;
  /** Chunks finished (their results sent). */
  readonly chunks: number;
  /** Chunks that failed in a task. */
  readonly failed: number;
  /** Chunks refused because the module differs or is missing. */
  readonly refused: number;
  /** Chunks taken over from silent workers. */
  readonly reclaimed: number;
  /** Chunks dropped unrun because their coordinator is gone. */
  readonly skipped: number;
  /** Task entries dropped unrun because they were malformed (written by
   * something other than a coordinator of this library). */
  readonly malformed: number;
  /** Chunks held now (running or queued locally). */
  readonly held: number;
}

/** A running worker: see {@linkcode serve}. */
export interface RedisWorker extends AsyncDisposable {
  /** Its name in Redis. */
  readonly name: string;
  /** Its local module Workers. */
  readonly processes: number;
  /** Its counters. */
  stats(): RedisWorkerStats;
  /** Stops taking tasks, finishes the ones held, then disconnects. */
  close(): Promise<void>;
  /** Resolves when the worker has stopped. */
  readonly finished: Promise<void>;
}

/** The defaults of {@linkcode ServeOptions}; `processes` defaults to
 * `cpuCount()`, `root` and `name` as documented there. */
const SERVE_DEFAULTS = Object.freeze({
  claimAfter: 5000,
  heartbeat: 1000,
  connectTimeout: 5000,
  maxDeliveries: 3,
});

/** How the worker's local Workers run, checked (a child's command line
 * too, so that an impossible one throws before anything starts). */
function localWorkers(isolation: unknown, permissions: unknown): LocalWorkers {
  const i = checkIsolation(isolation);
  const p = checkPermissions(permissions);
  if (i === "thread") {
    if (p !== "inherit") throw new TypeError(messages.scopedNeedsProcess());
    return { isolation: i, permissions: p, command: undefined };
  }
  assertCanSpawn();
  return { isolation: i, permissions: p, command: childCommand(p, undefined) };
}

/**
 * Serves a queue's tasks with a local pool of module Workers until closed:
 * the library side of the worker command
 * (`deno run -A jsr:@parallel/multiprocessing/worker --redis URL --queue
 * NAME`). It takes chunks from the queue's consumer group (up to two per
 * local Worker), runs them, sends each result to the coordinator that asked,
 * then acknowledges the chunk. It refreshes what it holds every `heartbeat`
 * ms, and takes over chunks that other workers left silent for `claimAfter`
 * ms. A task whose module differs from the coordinator's copy is refused
 * with a `ModuleMismatchError`.
 *
 * @param options The server, the queue, and optional settings.
 * @returns The running worker.
 * @throws {TypeError} when an option has the wrong type, or the url or
 * queue is malformed, or scoped `permissions` come without isolation
 * "process".
 * @throws {Deno.errors.NotCapable} with isolation "process", when this
 * program may not start a child, or `permissions` ask for more than it
 * holds.
 * @throws {RangeError} when a number is not a positive integer.
 * @throws {RedisUnavailableError} (as a rejection) when Redis does not
 * answer within `connectTimeout`.
 *
 * @example Serve a queue from a program
 * ```ts no-eval
 * import { serve } from "@parallel/multiprocessing/redis";
 *
 * const worker = await serve({ url: "redis://127.0.0.1:6379", queue: "jobs" });
 * Deno.addSignalListener("SIGTERM", () => worker.close());
 * await worker.finished;
 * ```
 */
export async function serve(options: ServeOptions): Promise<RedisWorker> {
  if (options === null || typeof options !== "object") {
    throw new TypeError(messages.serveOptions(options));
  }
  const worker = new Server({
    url: checkUrl(options.url),
    queue: checkQueue(options.queue),
    processes: intOption(options.processes, "processes", cpuCount()),
    workers: localWorkers(options.isolation, options.permissions),
    root: options.root === undefined
      ? findRoot(Deno.cwd())
      : resolve(options.root),
    name: options.name ?? `${hostname()}:${Deno.pid}`,
    claimAfter: intOption(
      options.claimAfter,
      "claimAfter",
      SERVE_DEFAULTS.claimAfter,
    ),
    heartbeat: intOption(
      options.heartbeat,
      "heartbeat",
      SERVE_DEFAULTS.heartbeat,
    ),
    connectTimeout: intOption(
      options.connectTimeout,
      "connectTimeout",
      SERVE_DEFAULTS.connectTimeout,
    ),
    maxDeliveries: intOption(
      options.maxDeliveries,
      "maxDeliveries",
      SERVE_DEFAULTS.maxDeliveries,
    ),
    warn: options.onWarning ??
      ((m: string) => console.error(`[worker] ${m}`)),
  });
  await worker.start();
  return worker;
}
