// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The task protocol on Redis Streams, shared by the coordinator (a Pool with
// redisBackend) and the worker command: every key, field and record that
// crosses Redis is written and read here.
//
// - `mp:{queue}:tasks` is a stream of chunks read by the consumer group
//   `workers`. An entry holds one or more chunks of one call (several while
//   chunks are short). Its fields: r (the reply stream), i and n (the chunk
//   ids and their item counts, comma-separated), m (the module: a path
//   relative to the project root), h (the module's sha256), f and x (the
//   export's name and source), s ("1": spread each item as arguments), a (the
//   chunks' items, one flat array in V8's serialization format).
// - `mp:{queue}:reply:{coordinator}` is one coordinator's stream of results.
//   An entry's field d holds a V8-serialized `ResultRecord[]`. The
//   coordinator makes the stream with a first entry `hello`; workers add
//   with NOMKSTREAM, so results for a coordinator that is gone (its stream
//   expired) are dropped.
// - `mp:{queue}:workers` is a sorted set of live workers ("name|processes"),
//   scored by their last heartbeat in Redis's own clock.
//
// A worker acknowledges and deletes a task entry after adding its result, so
// a worker that dies in between makes a duplicate, which the coordinator
// drops: delivery is at least once, results exactly once.

import type { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import { deserialize } from "node:v8";
import { messages } from "../_messages.ts";
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

/** One task entry: one or more chunks of one call. */
export interface TaskEntry {
  /** The coordinator's reply stream. */
  readonly reply: string;
  /** The chunk ids. */
  readonly chunks: readonly number[];
  /** Each chunk's item count. */
  readonly counts: readonly number[];
  /** The module: a path relative to the project root, with `/`. */
  readonly spec: string;
  /** The module's sha256, in hex. */
  readonly hash: string;
  /** The export's name. */
  readonly name: string;
  /** The export's source. */
  readonly src: string;
  /** Spread each item as the target's arguments. */
  readonly star: boolean;
  /** The chunks' items, one flat array in V8's serialization format. */
  readonly items: Buffer;
}

/** Stream entries as XREADGROUP and XAUTOCLAIM return them: each an id
 * and its fields (null for an entry deleted while pending). */
export type StreamEntries = [Buffer, Buffer[] | null][];

/** The fields of a task entry, for XADD. */
export function taskFields(task: TaskEntry): (string | Buffer)[] {
  return [
    "r",
    task.reply,
    "i",
    task.chunks.join(","),
    "n",
    task.counts.join(","),
    "m",
    task.spec,
    "h",
    task.hash,
    "f",
    task.name,
    "x",
    task.src,
    "s",
    task.star ? "1" : "0",
    "a",
    task.items,
  ];
}

/** A task entry from its fields, or undefined if it is not one. */
export function parseTask(fields: Buffer[]): TaskEntry | undefined {
  const f: Record<string, Buffer> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    f[fields[i]!.toString()] = fields[i + 1]!;
  }
  if (!f.r || !f.i || !f.n || !f.m || !f.h || !f.f || !f.x || !f.s || !f.a) {
    return undefined;
  }
  const chunks = f.i.toString().split(",").map(Number);
  const counts = f.n.toString().split(",").map(Number);
  if (
    chunks.length !== counts.length ||
    !chunks.every(Number.isSafeInteger) || !counts.every(Number.isSafeInteger)
  ) return undefined;
  return {
    reply: f.r.toString(),
    chunks,
    counts,
    spec: f.m.toString(),
    hash: f.h.toString(),
    name: f.f.toString(),
    src: f.x.toString(),
    star: f.s.toString() === "1",
    items: f.a,
  };
}

/** The fields of the entry that makes a reply stream. */
export const REPLY_HELLO: readonly string[] = ["hello", "1"];
/** The field of a reply entry that holds its records. */
export const RESULTS_FIELD = "d";

/** One chunk's outcome, as a worker reports it. */
export interface ResultRecord {
  /** The chunk id. */
  readonly i: number;
  /** The values, one per item; absent when `e` is set. */
  readonly v?: unknown[];
  /** The error that stopped the chunk. */
  readonly e?: WireError | WireThrown;
  /** With `e`: the index in the chunk of the item whose task failed; it and
   * the items after it gave no result. 0 (or absent) when the chunk failed
   * as a whole: refused, lost, or its results could not be sent. */
  readonly f?: number;
  /** ms the chunk took in the worker. */
  readonly t: number;
  /** The worker's name. */
  readonly w: string;
  /** Its number of processes. */
  readonly p: number;
  /** Its mean run time of a chunk, ms (without queueing), when known. */
  readonly u?: number;
}

/** The records of a reply entry's fields; none from a foreign writer. */
export function parseResults(fields: Buffer[]): ResultRecord[] {
  const records: ResultRecord[] = [];
  for (let j = 0; j + 1 < fields.length; j += 2) {
    if (fields[j]!.toString() !== RESULTS_FIELD) continue;
    try {
      for (const r of deserialize(fields[j + 1]!) as ResultRecord[]) {
        records.push(r);
      }
    } catch {
      // not ours: a foreign writer on our stream
    }
  }
  return records;
}

/** The index in its chunk of `record`'s first item without a result: 0
 * unless the record names one inside a chunk of `items` items. */
export function failedAt(record: ResultRecord, items: number): number {
  const f = record.f;
  return Number.isSafeInteger(f) && f! > 0 && f! < items ? f! : 0;
}

/** A worker's member in the live-workers set. */
export function workerMember(name: string, processes: number): string {
  return `${name}|${processes}`;
}

/** The live workers and their processes, from the set's members. */
export function parseWorkers(members: string[]): Map<string, number> {
  const workers = new Map<string, number>();
  for (const member of members) {
    const bar = member.lastIndexOf("|");
    workers.set(member.slice(0, bar), Number(member.slice(bar + 1)) || 0);
  }
  return workers;
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
    throw new TypeError(messages.redisRemoteModule(url));
  }
  const path = decodeURIComponent(new URL(url).pathname);
  const rel = relative(root, path);
  if (rel.startsWith("..") || isAbsolute(rel)) {
    throw new Error(messages.redisOutsideRoot(url, root));
  }
  return { spec: rel.split(sep).join("/"), hash: hashFile(path) };
}
