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

/** Most chunks one task entry may hold (a coordinator packs at most
 * REDIS_PACK.max, 64). */
const MAX_ENTRY_CHUNKS = 4096;
/** A module's sha256, as a task names it. */
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A task entry parsed from its fields, or what is wrong with them. */
export type ParsedTask =
  | { readonly task: TaskEntry; readonly problem?: undefined }
  | { readonly task?: undefined; readonly problem: string };

/** Comma-separated whole numbers (ids, counts) from a field, each at least
 * `min`; undefined if the field holds anything else. */
function numbers(field: Buffer, min: number): number[] | undefined {
  const parts = field.toString().split(",");
  if (parts.length > MAX_ENTRY_CHUNKS) return undefined;
  const out: number[] = [];
  for (const part of parts) {
    if (!/^\d{1,15}$/.test(part)) return undefined;
    const n = Number(part);
    if (n < min) return undefined;
    out.push(n);
  }
  return out;
}

/**
 * A task entry from its fields, checked: every field present, chunk ids and
 * item counts whole numbers (no more items than the items field has bytes,
 * since each takes at least one), a module hash, and a reply stream of this
 * queue (`replyPrefix`), so that a forged entry cannot make a worker write
 * anywhere else. Anyone who can write to the stream can write an entry:
 * what is wrong is reported, not thrown.
 */
export function parseTask(fields: Buffer[], replyPrefix: string): ParsedTask {
  const f: Record<string, Buffer> = Object.create(null);
  for (let i = 0; i + 1 < fields.length; i += 2) {
    f[fields[i]!.toString()] = fields[i + 1]!;
  }
  if (!f.r || !f.i || !f.n || !f.m || !f.h || !f.f || !f.x || !f.s || !f.a) {
    return { problem: "a field of a task entry is missing" };
  }
  const reply = f.r.toString();
  if (!reply.startsWith(replyPrefix) || reply.length === replyPrefix.length) {
    return { problem: `its reply stream is not one of this queue's` };
  }
  const chunks = numbers(f.i, 0);
  const counts = numbers(f.n, 1);
  if (
    chunks === undefined || counts === undefined ||
    chunks.length !== counts.length
  ) {
    return { problem: "its chunk ids or item counts are malformed" };
  }
  let items = 0;
  for (const n of counts) items += n;
  if (items > f.a.length) {
    return {
      problem: `it counts ${items} items in ${f.a.length} bytes of items`,
    };
  }
  const hash = f.h.toString();
  const star = f.s.toString();
  if (!SHA256_HEX.test(hash) || (star !== "0" && star !== "1")) {
    return { problem: "its module hash or spread flag is malformed" };
  }
  return {
    task: {
      reply,
      chunks,
      counts,
      spec: f.m.toString(),
      hash,
      name: f.f.toString(),
      src: f.x.toString(),
      star: star === "1",
      items: f.a,
    },
  };
}

/** The items of `task`, one array per chunk; undefined when the items field
 * is not an array of exactly the items its counts say. */
export function taskItems(task: TaskEntry): unknown[][] | undefined {
  let items: unknown;
  try {
    items = deserialize(task.items);
  } catch {
    return undefined;
  }
  let total = 0;
  for (const n of task.counts) total += n;
  if (!Array.isArray(items) || items.length !== total) return undefined;
  const out: unknown[][] = [];
  let at = 0;
  for (const n of task.counts) out.push(items.slice(at, at += n));
  return out;
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

/** Most worker processes one worker machine may claim (in a result or in
 * the live-workers set): more is a forgery, not a machine. */
export const MAX_WORKER_PROCESSES = 65_536;
/** Longest worker name a result may carry. */
const MAX_WORKER_NAME = 1024;

/** Whether `r` has the shape of a `ResultRecord`: a chunk id, a time, the
 * worker's name and processes, and values or an encoded error. Whether its
 * values fit its chunk is the coordinator's to check. */
function isRecord(r: unknown): r is ResultRecord {
  if (r === null || typeof r !== "object") return false;
  const x = r as Record<string, unknown>;
  if (
    !Number.isSafeInteger(x.i) || typeof x.t !== "number" ||
    !Number.isFinite(x.t) || typeof x.w !== "string" ||
    x.w.length > MAX_WORKER_NAME || !Number.isSafeInteger(x.p) ||
    (x.p as number) < 1 || (x.p as number) > MAX_WORKER_PROCESSES
  ) return false;
  if (
    x.u !== undefined &&
    (typeof x.u !== "number" || !(x.u >= 0) || x.u === Infinity)
  ) return false;
  if (x.e === undefined) return Array.isArray(x.v);
  if (x.f !== undefined && !Number.isSafeInteger(x.f)) return false;
  const e = x.e;
  return e !== null && typeof e === "object" &&
    ("$error" in e || "$thrown" in e);
}

/** The records of a reply entry's fields, and how many results in it were
 * malformed (a field that does not hold a list of records, or a record of
 * the wrong shape): anyone who can write to Redis can write to the stream. */
export function parseResults(
  fields: Buffer[],
): { records: ResultRecord[]; malformed: number } {
  const records: ResultRecord[] = [];
  let malformed = 0;
  for (let j = 0; j + 1 < fields.length; j += 2) {
    if (fields[j]!.toString() !== RESULTS_FIELD) continue;
    let list: unknown;
    try {
      list = deserialize(fields[j + 1]!);
    } catch {
      malformed++;
      continue;
    }
    if (!Array.isArray(list)) {
      malformed++;
      continue;
    }
    for (const r of list) {
      if (isRecord(r)) records.push(r);
      else malformed++;
    }
  }
  return { records, malformed };
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
    const processes = Number(member.slice(bar + 1));
    // A forged member must not make the pool think it has millions.
    if (!Number.isSafeInteger(processes) || processes < 1) continue;
    workers.set(
      member.slice(0, bar),
      Math.min(processes, MAX_WORKER_PROCESSES),
    );
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
