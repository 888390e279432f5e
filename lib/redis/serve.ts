// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import type { Buffer } from "node:buffer";
import { hostname } from "node:os";
import { isAbsolute, join, normalize, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { deserialize, serialize } from "node:v8";
import { intOption } from "../_check.ts";
import { cpuCount } from "../process/cpu_count.ts";
import { Job } from "../_engine/job.ts";
import { Engine } from "../_engine/local_engine.ts";
import { encodeError } from "../_shared/wire.ts";
import { ProcessError } from "../errors.ts";
import {
  checkQueue,
  checkUrl,
  connect,
  describe,
  ensureGroup,
  type Redis,
  safeUrl,
  sleep,
} from "./_client.ts";
import { ModuleMismatchError, RedisUnavailableError } from "./errors.ts";
import {
  findRoot,
  GROUP,
  hashFile,
  HEARTBEAT_SCRIPT,
  keysOf,
  type ResultRecord,
} from "./_protocol.ts";

/** The options of {@linkcode serve}. */
export interface ServeOptions {
  /** The server, such as `"redis://127.0.0.1:6379"`. */
  url: string;
  /** The queue to serve, as given to `redisBackend()`. */
  queue: string;
  /** Local module Workers that run the tasks; default `cpuCount()`. */
  processes?: number;
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

interface Held {
  readonly entry: string;
  readonly reply: string;
  readonly start: number;
}

interface Task {
  readonly reply: string;
  /** The entry's chunk ids, and each one's item count. */
  readonly chunks: number[];
  readonly counts: number[];
  readonly spec: string;
  readonly hash: string;
  readonly name: string;
  readonly src: string;
  readonly star: boolean;
  readonly items: Buffer;
}

function parse(fields: Buffer[]): Task | undefined {
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

type Entries = [Buffer, Buffer[] | null][];

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
    throw new TypeError(
      `Cannot serve with ${
        String(options)
      }: pass { url: "redis://host:6379", queue: "jobs" }`,
    );
  }
  const worker = new Server({
    url: checkUrl(options.url),
    queue: checkQueue(options.queue),
    processes: intOption(options.processes, "processes", cpuCount()),
    root: options.root === undefined
      ? findRoot(Deno.cwd())
      : resolve(options.root),
    name: options.name ?? `${hostname()}:${Deno.pid}`,
    claimAfter: intOption(options.claimAfter, "claimAfter", 5000),
    heartbeat: intOption(options.heartbeat, "heartbeat", 1000),
    connectTimeout: intOption(options.connectTimeout, "connectTimeout", 5000),
    maxDeliveries: intOption(options.maxDeliveries, "maxDeliveries", 3),
    warn: options.onWarning ??
      ((m: string) => console.error(`[worker] ${m}`)),
  });
  await worker.start();
  return worker;
}

interface Settings {
  readonly url: string;
  readonly queue: string;
  readonly processes: number;
  readonly root: string;
  readonly name: string;
  readonly claimAfter: number;
  readonly heartbeat: number;
  readonly connectTimeout: number;
  readonly maxDeliveries: number;
  readonly warn: (message: string) => void;
}

class Server implements RedisWorker {
  readonly #s: Settings;
  readonly #keys: ReturnType<typeof keysOf>;
  readonly #cmd: Redis;
  readonly #blk: Redis;
  readonly #held = new Map<string, Held>();
  readonly #targets = new Map<string, object>();
  readonly #verified = new Map<string, { at: number; error?: Error }>();
  /** The hash of each module file when first run here. */
  readonly #loaded = new Map<string, string>();
  #engine: Engine | null = null;
  #out: { held: Held; records: ResultRecord[] | null }[] = [];
  readonly #replies = new Map<string, { at: number; alive: boolean }>();
  #flushing = false;
  #stopping = false;
  #wakeReader: (() => void) | null = null;
  #timers: ReturnType<typeof setInterval>[] = [];
  #cursor = "0-0";
  #lost = false;
  #counts = {
    entries: 0,
    chunks: 0,
    failed: 0,
    refused: 0,
    reclaimed: 0,
    skipped: 0,
  };
  #finish!: () => void;
  readonly finished: Promise<void>;
  #closing: Promise<void> | null = null;

  constructor(settings: Settings) {
    this.#s = settings;
    this.#keys = keysOf(settings.queue);
    this.#cmd = connect(settings.url, `mp-worker ${settings.name}`);
    this.#blk = connect(settings.url, `mp-worker-read ${settings.name}`);
    this.finished = new Promise((resolve) => this.#finish = resolve);
  }

  get name(): string {
    return this.#s.name;
  }

  get processes(): number {
    return this.#s.processes;
  }

  stats(): RedisWorkerStats {
    return { ...this.#counts, held: this.#held.size };
  }

  async start(): Promise<void> {
    const s = this.#s;
    let lastError: unknown;
    this.#cmd.on("error", (err: unknown) => lastError = err);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        Promise.all([this.#cmd.connect(), this.#blk.connect()]),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(lastError ?? new Error("no answer")),
            s.connectTimeout,
          );
        }),
      ]);
      clearTimeout(timer);
      await ensureGroup(this.#cmd, this.#keys.tasks, GROUP);
    } catch (err) {
      clearTimeout(timer);
      this.#cmd.disconnect();
      this.#blk.disconnect();
      const url = safeUrl(s.url);
      throw new RedisUnavailableError(
        `Cannot serve queue "${s.queue}": Redis at ${url} did not answer within ${s.connectTimeout} ms (${
          describe(lastError ?? err)
        }); start Redis there or fix --redis`,
        { url, cause: lastError ?? err },
      );
    }
    this.#cmd.on("close", () => {
      if (this.#stopping || this.#lost) return;
      this.#lost = true;
      s.warn(`lost Redis at ${safeUrl(s.url)}; reconnecting`);
    });
    this.#cmd.on("ready", () => {
      if (!this.#lost) return;
      this.#lost = false;
      s.warn(`Redis at ${safeUrl(s.url)} is back`);
      // A restarted server may have lost the group.
      ensureGroup(this.#cmd, this.#keys.tasks, GROUP).catch(() => {});
    });
    await this.#beat();
    this.#timers.push(setInterval(() => this.#beat(), s.heartbeat));
    const reclaimEvery = Math.max(100, Math.floor(s.claimAfter / 2));
    this.#timers.push(setInterval(() => this.#reclaim(), reclaimEvery));
    this.#loop().catch((err) => s.warn(`reader stopped: ${describe(err)}`));
  }

  /** Chunks to hold: enough per process to cover Redis round trips while
   * chunks are short (up to 32 each, ~4 ms of work), two when they are long,
   * so that long chunks spread over the workers. */
  get #capacity(): number {
    const mean = this.#engine?.meanRunTime ?? 0;
    const each = mean === 0
      ? 2
      : Math.max(2, Math.min(32, Math.ceil(4 / mean)));
    return this.#s.processes * each;
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      const room = this.#capacity - this.#held.size;
      if (room <= 0) {
        await new Promise<void>((r) => this.#wakeReader = r);
        continue;
      }
      let res: [Buffer, Entries][] | null;
      try {
        res = await this.#blk.callBuffer(
          "XREADGROUP",
          "GROUP",
          GROUP,
          this.#s.name,
          "COUNT",
          room,
          "BLOCK",
          1000,
          "STREAMS",
          this.#keys.tasks,
          ">",
        ) as [Buffer, Entries][] | null;
      } catch (err) {
        if (this.#stopping) break;
        if (describe(err).startsWith("NOGROUP")) {
          await ensureGroup(this.#cmd, this.#keys.tasks, GROUP).catch(() => {});
        }
        await sleep(200);
        continue;
      }
      // Entries read while stopping stay pending: another worker takes them.
      if (res === null || this.#stopping) continue;
      for (const [, entries] of res) this.#takeAll(entries);
    }
  }

  /** Takes entries read (or, with their delivery counts, taken over). */
  #takeAll(entries: Entries, deliveries?: Map<string, number>): void {
    for (const [id, fields] of entries) {
      const entry = id.toString();
      if (fields === null || this.#held.has(entry)) continue;
      const task = parse(fields);
      if (task === undefined) {
        // Not a task of ours: acknowledge it so that it is not retried.
        this.#cmd.xack(this.#keys.tasks, GROUP, entry).catch(() => {});
        continue;
      }
      this.#counts.entries++;
      if (deliveries !== undefined) this.#counts.reclaimed++;
      const held: Held = {
        entry,
        reply: task.reply,
        start: performance.now(),
      };
      this.#held.set(entry, held);
      const times = deliveries?.get(entry) ?? 1;
      if (times > this.#s.maxDeliveries) this.#abandon(task, held, times);
      else this.#run(task, held);
    }
  }

  /** Runs an entry's chunks (in parallel on the local pool), then queues
   * their results to be sent together. */
  async #run(task: Task, held: Held): Promise<void> {
    let values: Promise<unknown[]>[];
    try {
      if (!await this.#coordinatorAlive(task.reply)) {
        // Its coordinator is gone (its reply stream expired): skip it.
        this.#counts.skipped += task.chunks.length;
        this.#queue(held, null);
        return;
      }
      const module = this.#verify(task);
      const items = deserialize(task.items) as unknown[];
      let at = 0;
      values = task.counts.map((n) => {
        const part = items.slice(at, at += n);
        return this.#submit(task, module, part);
      });
    } catch (err) {
      // The whole entry is refused (module) or unreadable.
      values = task.chunks.map(() => Promise.reject(err));
    }
    // Each is awaited below, in order; until then a rejection is not
    // unhandled.
    for (const p of values) p.catch(() => {});
    const records: ResultRecord[] = [];
    for (const [j, promise] of values.entries()) {
      const chunk = task.chunks[j]!;
      try {
        records.push(this.#record(chunk, held, { v: await promise }));
      } catch (err) {
        if (err instanceof ModuleMismatchError) this.#counts.refused++;
        else this.#counts.failed++;
        records.push(this.#record(chunk, held, { e: encodeError(err) }));
      }
    }
    this.#queue(held, records);
  }

  #record(
    chunk: number,
    held: Held,
    outcome: Pick<ResultRecord, "v"> | Pick<ResultRecord, "e">,
  ): ResultRecord {
    return {
      i: chunk,
      ...outcome,
      t: performance.now() - held.start,
      w: this.#s.name,
      p: this.#s.processes,
      ...(this.#engine !== null && this.#engine.meanRunTime > 0
        ? { u: this.#engine.meanRunTime }
        : {}),
    };
  }

  /** Fails a chunk that every worker holding it died on, so that it cannot
   * take down worker after worker for ever. */
  #abandon(task: Task, held: Held, times: number): void {
    this.#counts.failed += task.chunks.length;
    const error = new ProcessError(
      `The chunk of "${task.name}" from "${task.spec}" was delivered ${times} times, and each worker that held it died or went silent (a task that ends its process, or a machine lost); it is not run again. Find what ends the worker, or raise --max-deliveries`,
      {
        processName: this.#s.name,
        exitCode: -1,
        code: "ERR_TOO_MANY_DELIVERIES",
      },
    );
    this.#queue(
      held,
      task.chunks.map((i) => this.#record(i, held, { e: encodeError(error) })),
    );
  }

  /** Whether a coordinator's reply stream exists; asked at most once a
   * second per coordinator. */
  async #coordinatorAlive(reply: string): Promise<boolean> {
    const now = performance.now();
    const known = this.#replies.get(reply);
    if (known !== undefined && now - known.at < 1000) return known.alive;
    let alive = true;
    try {
      alive = await this.#cmd.exists(reply) === 1;
    } catch {
      // Redis is away: run it; the result may still be delivered later
    }
    this.#replies.set(reply, { at: now, alive });
    if (this.#replies.size > 1024) {
      for (const [key, v] of this.#replies) {
        if (now - v.at >= 1000) this.#replies.delete(key);
      }
    }
    return alive;
  }

  #queue(held: Held, records: ResultRecord[] | null): void {
    this.#out.push({ held, records });
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => this.#flush());
    }
  }

  /** The module's URL, once its copy here is the coordinator's and the one
   * this worker has imported. */
  #verify(task: Task): string {
    const root = this.#s.root;
    const path = normalize(join(root, task.spec));
    if (
      isAbsolute(task.spec) || /^[a-z][a-z0-9+.-]*:/i.test(task.spec) ||
      !path.startsWith(root + sep)
    ) {
      throw new ModuleMismatchError(
        `Worker ${this.#s.name} refused a task of "${task.spec}": it runs only modules under its project root ${root}, named by a relative path`,
        { module: task.spec, workerName: this.#s.name },
      );
    }
    const key = `${task.spec}\0${task.hash}`;
    const now = performance.now();
    const known = this.#verified.get(key);
    if (known !== undefined && now - known.at < 1000) {
      if (known.error) throw known.error;
      return pathToFileURL(path).href;
    }
    let error: Error | undefined;
    let actual: string | undefined;
    try {
      actual = hashFile(path);
    } catch {
      error = new ModuleMismatchError(
        `Worker ${this.#s.name} cannot run "${task.name}" from "${task.spec}": there is no such file under its project root ${root}; deploy the project there, or start the worker with --root naming the project's folder`,
        { module: task.spec, workerName: this.#s.name },
      );
    }
    if (actual !== undefined && actual !== task.hash) {
      error = new ModuleMismatchError(
        `Worker ${this.#s.name} refused "${task.name}" from "${task.spec}": its copy (sha256 ${
          actual.slice(0, 12)
        }…) differs from the coordinator's (sha256 ${
          task.hash.slice(0, 12)
        }…); deploy the same code to every worker machine and restart the worker`,
        { module: task.spec, workerName: this.#s.name },
      );
    }
    const loaded = this.#loaded.get(path);
    if (error === undefined && loaded !== undefined && loaded !== task.hash) {
      error = new ModuleMismatchError(
        `Worker ${this.#s.name} refused "${task.name}" from "${task.spec}": the file changed since the worker imported it (sha256 ${
          loaded.slice(0, 12)
        }… then, ${
          task.hash.slice(0, 12)
        }… now), and a worker cannot import a module twice; restart the worker to run the new code`,
        { module: task.spec, workerName: this.#s.name },
      );
    }
    this.#verified.set(key, error ? { at: now, error } : { at: now });
    if (error) throw error;
    if (loaded === undefined) this.#loaded.set(path, task.hash);
    return pathToFileURL(path).href;
  }

  #submit(task: Task, module: string, items: unknown[]): Promise<unknown[]> {
    this.#engine ??= new Engine({
      processes: this.#s.processes,
      module,
      permissions: "inherit",
      resourceLimits: undefined,
      initializer: undefined,
      maxTasksPerChild: Infinity,
      idleTimeout: Infinity,
    });
    const tkey = `${module}\0${task.name}\0${task.src}`;
    let target = this.#targets.get(tkey);
    if (target === undefined) {
      target = {};
      this.#targets.set(tkey, target);
    }
    return new Promise((resolve, reject) => {
      const job = new Job({
        fn: { name: task.name, src: task.src },
        target: target!,
        module,
        star: task.star,
        chunksize: Math.max(1, items.length),
        total: items.length,
        source: items[Symbol.iterator](),
        isAsync: false,
        array: items,
        sink: {
          kind: "collect",
          single: false,
          resolve: (v) => resolve(v as unknown[]),
          reject,
        },
        options: {},
        bound: Infinity,
      });
      this.#engine!.submit(job);
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = false;
    const out = this.#out;
    this.#out = [];
    const byReply = new Map<string, ResultRecord[]>();
    const entries: string[] = [];
    let sent = 0;
    for (const o of out) {
      entries.push(o.held.entry);
      if (o.records === null) continue;
      let list = byReply.get(o.held.reply);
      if (list === undefined) byReply.set(o.held.reply, list = []);
      for (const r of o.records) list.push(r);
      sent += o.records.length;
    }
    const pipeline = this.#cmd.pipeline();
    for (const [reply, records] of byReply) {
      let data: Buffer;
      try {
        data = serialize(records);
      } catch {
        data = serialize(records.map((r) => this.#unsendable(r)));
      }
      pipeline.xadd(reply, "NOMKSTREAM", "*", "d", data);
    }
    pipeline.xack(this.#keys.tasks, GROUP, ...entries);
    pipeline.xdel(this.#keys.tasks, ...entries);
    try {
      await pipeline.exec();
      this.#counts.chunks += sent;
    } catch {
      // Redis is gone: the chunks stay pending and are run again later.
    }
    for (const o of out) this.#held.delete(o.held.entry);
    const wake = this.#wakeReader;
    this.#wakeReader = null;
    wake?.();
    this.#maybeDone();
  }

  /** A result V8 cannot serialize becomes an error naming the value. */
  #unsendable(record: ResultRecord): ResultRecord {
    if (record.v === undefined) {
      return { ...record, e: encodeError(String(record.e)) };
    }
    try {
      serialize(record.v);
      return record;
    } catch (err) {
      return {
        i: record.i,
        t: record.t,
        w: record.w,
        p: record.p,
        e: encodeError(
          new DOMException(
            `Cannot send a result of chunk ${record.i} back through Redis: ${
              describe(err)
            }; return structured-clone values (no functions or class instances)`,
            "DataCloneError",
          ),
        ),
      };
    }
  }

  async #beat(): Promise<void> {
    const s = this.#s;
    const pipeline = this.#cmd.pipeline();
    pipeline.eval(
      HEARTBEAT_SCRIPT,
      1,
      this.#keys.workers,
      `${s.name}|${s.processes}`,
    );
    const ids = [...this.#held.keys()];
    if (ids.length > 0) {
      // Claiming what we hold resets its idle time: the heartbeat that
      // keeps other workers from taking it over.
      pipeline.xclaim(this.#keys.tasks, GROUP, s.name, 0, ...ids, "JUSTID");
    }
    try {
      await pipeline.exec();
    } catch {
      // lost Redis: the "close" listener reports it
    }
  }

  async #reclaim(): Promise<void> {
    if (this.#stopping) return;
    const room = this.#capacity - this.#held.size;
    if (room <= 0) return;
    try {
      const [next, entries] = await this.#cmd.callBuffer(
        "XAUTOCLAIM",
        this.#keys.tasks,
        GROUP,
        this.#s.name,
        this.#s.claimAfter,
        this.#cursor,
        "COUNT",
        room,
      ) as unknown as [Buffer, Entries];
      this.#cursor = next.toString();
      if (this.#stopping || entries.length === 0) return;
      // How often each was delivered: XAUTOCLAIM counts a delivery, the
      // heartbeat's XCLAIM JUSTID does not, so this counts take-overs.
      const pending = await this.#cmd.xpending(
        this.#keys.tasks,
        GROUP,
        "-",
        "+",
        this.#capacity + entries.length,
        this.#s.name,
      ) as [string, string, number, number][];
      const deliveries = new Map(pending.map((p) => [p[0], p[3]]));
      this.#takeAll(entries, deliveries);
    } catch {
      // lost Redis: try again on the next tick
    }
  }

  #maybeDone(): void {
    if (this.#stopping && this.#held.size === 0 && this.#out.length === 0) {
      this.#doneResolve?.();
    }
  }

  #doneResolve: (() => void) | null = null;

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stopping = true;
    for (const t of this.#timers) clearInterval(t);
    const wake = this.#wakeReader;
    this.#wakeReader = null;
    wake?.();
    if (this.#held.size > 0) {
      await new Promise<void>((r) => {
        this.#doneResolve = r;
        this.#maybeDone();
      });
    }
    try {
      await this.#cmd.zrem(
        this.#keys.workers,
        `${this.#s.name}|${this.#s.processes}`,
      );
      await this.#cmd.xgroup(
        "DELCONSUMER",
        this.#keys.tasks,
        GROUP,
        this.#s.name,
      );
    } catch {
      // Redis is gone; the heartbeat entry expires on its own
    }
    this.#engine?.terminate(new Error("The worker is closing"));
    await this.#engine?.joined();
    this.#cmd.disconnect();
    this.#blk.disconnect();
    this.#finish();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
