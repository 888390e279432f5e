// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The task protocol on Redis Streams, shared by the coordinator (a Pool with
// redisBackend) and the worker command.
//
// - `mp:{queue}:tasks` is a stream of chunks read by the consumer group
//   `workers`. An entry holds one or more chunks of one call (several while
//   chunks are short). Its fields: r (the reply stream), i and n (the chunk
//   ids and their item counts, comma-separated), m (the module: a path
//   relative to the project root), h (the module's sha256), f and x (the
//   export's name and source), s ("1": spread each item as arguments), a (the
//   chunks' items, one flat array in V8's serialization format).
// - `mp:{queue}:reply:{coordinator}` is one coordinator's stream of results.
//   An entry's field d holds a V8-serialized `ResultRecord[]`. Workers add
//   with NOMKSTREAM, so results for a coordinator that is gone (its stream
//   expired) are dropped.
// - `mp:{queue}:workers` is a sorted set of live workers ("name|processes"),
//   scored by their last heartbeat in Redis's own clock.
//
// A worker acknowledges and deletes a task entry after adding its result, so
// a worker that dies in between makes a duplicate, which the coordinator
// drops: delivery is at least once, results exactly once.

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import type { WireError, WireThrown } from "../_shared/wire.ts";

/** The consumer group of every queue. */
export const GROUP = "workers";

/** The keys of one queue. `{queue}` is a hash tag: one cluster slot. */
export function keysOf(queue: string): {
  tasks: string;
  workers: string;
  reply: (coordinator: string) => string;
} {
  const prefix = `mp:{${queue}}`;
  return {
    tasks: `${prefix}:tasks`,
    workers: `${prefix}:workers`,
    reply: (coordinator) => `${prefix}:reply:${coordinator}`,
  };
}

/** One chunk's outcome, as a worker reports it. */
export interface ResultRecord {
  /** The chunk id. */
  readonly i: number;
  /** The values, one per item; absent when `e` is set. */
  readonly v?: unknown[];
  /** The error that stopped the chunk. */
  readonly e?: WireError | WireThrown;
  /** ms the chunk took in the worker. */
  readonly t: number;
  /** The worker's name. */
  readonly w: string;
  /** Its number of processes. */
  readonly p: number;
  /** Its mean run time of a chunk, ms (without queueing), when known. */
  readonly u?: number;
}

/** Adds a worker's heartbeat, scored with Redis's clock (no clock skew). */
export const HEARTBEAT_SCRIPT =
  "redis.call('ZADD', KEYS[1], redis.call('TIME')[1], ARGV[1]) return 1";

/** The live workers ("name|processes"), dropping those silent for
 * ARGV[1] seconds. */
export const LIVE_WORKERS_SCRIPT = "local now = redis.call('TIME')[1] " +
  "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ARGV[1]) " +
  "return redis.call('ZRANGE', KEYS[1], 0, -1)";

const MARKERS = ["deno.json", "deno.jsonc", "package.json"];

/** The project root: the nearest folder at or above `dir` holding a
 * deno.json, deno.jsonc or package.json; else `dir` itself. */
export function findRoot(dir: string): string {
  let at = dir;
  while (true) {
    if (MARKERS.some((m) => existsSync(join(at, m)))) return at;
    const up = dirname(at);
    if (up === at) return dir;
    at = up;
  }
}

/** The sha256 of a file, in hex. */
export function hashFile(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** How a task names its module on the wire. */
export interface ModuleRef {
  /** A path relative to the project root, with `/`. */
  readonly spec: string;
  /** The file's sha256 in hex. */
  readonly hash: string;
}

/** The wire name of a module: its path relative to `root` and its hash.
 * Only local files can be named: a worker never imports what a task names
 * beyond its own project, so that writing to Redis cannot make it load code. */
export function moduleRef(url: string, root: string): ModuleRef {
  if (!url.startsWith("file:")) {
    throw new TypeError(
      `Cannot send a task of ${url} through Redis: workers run only modules of their project, named by a path under its root; export a function from a project module that imports this one, and pass that`,
    );
  }
  const path = decodeURIComponent(new URL(url).pathname);
  const rel = relative(root, path);
  if (rel.startsWith("..") || isAbsolute(rel)) {
    throw new Error(
      `Cannot send a task of ${url} through Redis: the module is outside the project root ${root}, so a worker could not find it by a relative path; pass "root" to redisBackend() naming a folder that holds it`,
    );
  }
  return { spec: rel.split(sep).join("/"), hash: hashFile(path) };
}
