// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The engine of a Pool whose chunks run on worker machines through Redis
// Streams. Chunks are made lazily (at most `maxPending` in Redis at a time),
// added to the queue's task stream, and their results read from this
// coordinator's own reply stream. A result for a chunk no longer in flight
// (a duplicate of a re-run chunk, or of an aborted call) is dropped.

import type { Buffer } from "node:buffer";
import { hostname } from "node:os";
import { deserialize, serialize } from "node:v8";
import { cloneError } from "../_shared/clone.ts";
import { Dispatcher, type PoolStats } from "../_engine/dispatcher.ts";
import type { Chunk, Job } from "../_engine/job.ts";
import { Samples } from "../_engine/stats.ts";
import { decodeError } from "../_shared/wire.ts";
import {
  checkQueue,
  connect,
  describe,
  ensureGroup,
  type Redis,
  safeUrl,
  sleep,
  socketOf,
} from "./_client.ts";
import { NoWorkersError, RedisUnavailableError } from "./errors.ts";
import {
  findRoot,
  GROUP,
  keysOf,
  LIVE_WORKERS_SCRIPT,
  type ModuleRef,
  moduleRef,
  type ResultRecord,
} from "./_protocol.ts";

/** The backend's settings, every default filled in. */
export interface CoordinatorOptions {
  readonly url: string;
  readonly queue: string;
  readonly root: string | undefined;
  readonly maxPending: number;
  readonly reconnectTimeout: number;
  readonly workerTimeout: number;
}

interface Flight {
  readonly chunk: Chunk;
  /** The task entry's id, once added. */
  entry: string | undefined;
}

const TICK = 1000;
/** A worker silent this long (s) is not counted as live. */
const SILENT = 5;
/** The reply stream outlives a vanished coordinator this long (ms); a
 * coordinator whose stream expired anyway (a main thread blocked this long)
 * makes it again and sends its chunks again. */
const REPLY_TTL = 15_000;

/** The Redis engine behind a `Pool`. */
export class RedisEngine extends Dispatcher {
  readonly #cfg: CoordinatorOptions;
  readonly #module: string;
  readonly #keys: ReturnType<typeof keysOf>;
  readonly #reply: string;
  readonly #flights = new Map<number, Flight>();
  readonly #refs = new Map<string, ModuleRef>();
  readonly #run = new Samples();
  readonly #wait = new Samples();
  readonly #started = performance.now();
  #root: string | undefined;
  #cmd: Redis | null = null;
  #blk: Redis | null = null;
  #ready = false;
  #lastError: unknown = undefined;
  #lostTimer: ReturnType<typeof setTimeout> | undefined;
  #tick: ReturnType<typeof setInterval> | undefined;
  #out: Flight[] = [];
  #flushing = false;
  #reading = false;
  #lastId = "0-0";
  /** Live workers and their processes: from heartbeats and results. */
  #known = new Map<string, number>();
  /** The workers' mean run time of a chunk, ms; -1 before one reports. */
  #chunkMs = -1;
  #noWorkersSince = 0;
  #active = false;
  #shutdown: Promise<void> | null = null;

  constructor(cfg: CoordinatorOptions, module: string) {
    super();
    this.#cfg = cfg;
    this.#module = module;
    this.#root = cfg.root;
    this.#keys = keysOf(checkQueue(cfg.queue));
    const id = `${hostname()}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`;
    this.#reply = this.#keys.reply(id);
  }

  /** The pool's size as `Pool` sees it (for default chunk sizes): the
   * worker processes last seen, or 8 before any is seen. */
  get options(): { processes: number; module: string } {
    return { processes: this.#processes() || 8, module: this.#module };
  }

  #processes(): number {
    let sum = 0;
    for (const p of this.#known.values()) sum += p;
    return sum;
  }

  stats(): PoolStats {
    const elapsed = performance.now() - this.#started;
    const processes = this.#processes();
    return {
      processes,
      busy: Math.min(this.#flights.size, processes),
      queued: this.queuedItems(),
      completed: this.completed,
      failed: this.failed,
      utilization: elapsed > 0 && processes > 0
        ? Math.min(1, this.#run.sum / (elapsed * processes))
        : 0,
      runTime: this.#run.timing(),
      waitTime: this.#wait.timing(),
    };
  }

  // --- connection ---------------------------------------------------------

  #unavailable(): RedisUnavailableError {
    const url = safeUrl(this.#cfg.url);
    const why = this.#lastError === undefined
      ? "no connection"
      : describe(this.#lastError);
    return new RedisUnavailableError(
      `Redis at ${url} is unreachable (${why}), so the pool's calls cannot complete; start Redis there or fix the url, then call again`,
      this.#lastError === undefined ? { url } : { url, cause: this.#lastError },
    );
  }

  /** Connects when not connected; the lost timer bounds the wait. */
  #ensure(): void {
    if (this.#cmd !== null) return;
    const cmd = connect(this.#cfg.url, "mp-coordinator");
    const blk = connect(this.#cfg.url, "mp-coordinator-read");
    this.#cmd = cmd;
    this.#blk = blk;
    this.#ready = false;
    cmd.on("error", (err: unknown) => this.#lastError = err);
    cmd.on("close", () => this.#onClose(cmd));
    cmd.on("ready", () => this.#onReady(cmd));
    this.#startLostTimer();
    cmd.connect().catch((err: unknown) => this.#lastError = err);
    blk.connect().catch(() => {});
    this.#tick = setInterval(() => this.#onTick(), TICK);
    Deno.unrefTimer(this.#tick as unknown as number);
  }

  #startLostTimer(): void {
    if (this.#lostTimer !== undefined) return;
    this.#lostTimer = setTimeout(() => {
      this.#lostTimer = undefined;
      if (this.#ready) return;
      this.#giveUp(this.#unavailable());
    }, this.#cfg.reconnectTimeout);
    if (!this.#active) {
      Deno.unrefTimer(this.#lostTimer as unknown as number);
    }
  }

  #onClose(cmd: Redis): void {
    if (cmd !== this.#cmd) return;
    this.#ready = false;
    if (!this.#active) {
      // Nothing waits: drop the connection; the next call makes a new one.
      this.#disconnect();
      return;
    }
    this.#startLostTimer();
  }

  async #onReady(cmd: Redis): Promise<void> {
    try {
      await this.#setUp(cmd);
    } catch (err) {
      this.#lastError = err;
      return;
    }
    if (cmd !== this.#cmd) return;
    this.#ready = true;
    this.#lastError = undefined;
    clearTimeout(this.#lostTimer);
    this.#lostTimer = undefined;
    // Redis may have lost what was sent before (a restart without
    // persistence): send everything in flight again; duplicates are dropped.
    this.#resendAll();
    this.#startReading();
    this.pump();
    this.#onTick();
  }

  #resendAll(): void {
    this.#out = [...this.#flights.values()];
    for (const f of this.#out) f.entry = undefined;
    this.#scheduleFlush();
  }

  async #setUp(cmd: Redis): Promise<void> {
    await ensureGroup(cmd, this.#keys.tasks, GROUP);
    // The reply stream exists from the start (so that workers, which add
    // with NOMKSTREAM, can tell a live coordinator) and expires if we vanish.
    await cmd.xadd(this.#reply, "*", "hello", "1");
    await cmd.pexpire(this.#reply, REPLY_TTL);
  }

  /** Fails every call with `err` and drops the connection. */
  #giveUp(err: unknown): void {
    this.#flights.clear();
    this.#out = [];
    this.failAll(err);
    this.#disconnect();
    this.maybeFinish();
  }

  #disconnect(): void {
    clearTimeout(this.#lostTimer);
    this.#lostTimer = undefined;
    clearInterval(this.#tick);
    this.#tick = undefined;
    this.#ready = false;
    const cmd = this.#cmd;
    const blk = this.#blk;
    this.#cmd = null;
    this.#blk = null;
    cmd?.disconnect();
    blk?.disconnect();
  }

  /** Keeps the program alive while calls wait, and only then. */
  #setActive(active: boolean): void {
    if (active === this.#active) return;
    this.#active = active;
    if (active) this.#noWorkersSince = performance.now();
    for (const client of [this.#cmd, this.#blk]) {
      if (client === null) continue;
      const socket = socketOf(client);
      if (active) socket?.ref();
      else socket?.unref();
    }
  }

  async #onTick(): Promise<void> {
    const cmd = this.#cmd;
    if (cmd === null || !this.#ready) return;
    try {
      const live = await cmd.eval(
        LIVE_WORKERS_SCRIPT,
        1,
        this.#keys.workers,
        SILENT,
      ) as string[];
      if (await cmd.pexpire(this.#reply, REPLY_TTL) === 0) {
        // Our stream expired: workers dropped results meant for us.
        await this.#setUp(cmd);
        this.#resendAll();
      }
      const known = new Map<string, number>();
      for (const member of live) {
        const bar = member.lastIndexOf("|");
        known.set(member.slice(0, bar), Number(member.slice(bar + 1)) || 0);
      }
      this.#known = known;
    } catch (err) {
      this.#lastError = err;
      return;
    }
    const now = performance.now();
    if (this.#known.size > 0 || this.#flights.size === 0) {
      this.#noWorkersSince = now;
    } else if (now - this.#noWorkersSince >= this.#cfg.workerTimeout) {
      this.#noWorkersSince = now;
      const queue = this.#cfg.queue;
      this.#abandon(
        new NoWorkersError(
          `No worker has served queue "${queue}" on ${
            safeUrl(this.#cfg.url)
          } for ${this.#cfg.workerTimeout} ms, so the pool's calls cannot complete; start one with "deno run -A jsr:@parallel/multiprocessing/worker --redis ${
            safeUrl(this.#cfg.url)
          } --queue ${queue}", or raise "workerTimeout"`,
          { queue },
        ),
      );
    }
  }

  // --- sending ------------------------------------------------------------

  pump(): void {
    if (this.#shutdown !== null) return;
    if (this.jobs.size > 0) {
      this.#setActive(true);
      this.#ensure();
    }
    while (this.#flights.size < this.#cfg.maxPending) {
      const chunk = this.nextChunk();
      if (chunk === undefined) {
        this.compactFeeding();
        break;
      }
      if (!this.prepare(chunk, [])) continue;
      const flight: Flight = { chunk, entry: undefined };
      this.#flights.set(chunk.id, flight);
      this.#out.push(flight);
    }
    this.#scheduleFlush();
    if (this.#flights.size > 0) this.#startReading();
  }

  #scheduleFlush(): void {
    if (this.#flushing || this.#out.length === 0 || !this.#ready) return;
    this.#flushing = true;
    queueMicrotask(() => {
      this.#flushing = false;
      this.#flush();
    });
  }

  #refOf(job: Job): ModuleRef {
    let ref = this.#refs.get(job.module);
    if (ref === undefined) {
      if (this.#root === undefined && job.module.startsWith("file:")) {
        const path = decodeURIComponent(new URL(job.module).pathname);
        this.#root = findRoot(path.slice(0, path.lastIndexOf("/")) || "/");
      }
      ref = moduleRef(job.module, this.#root ?? Deno.cwd());
      this.#refs.set(job.module, ref);
    }
    return ref;
  }

  /** How many chunks of one call share a task entry: one while chunks are
   * slow (so they spread over the workers), up to 64 while they run in
   * microseconds (so each costs a fraction of a round trip). */
  #packSize(): number {
    const mean = this.#chunkMs;
    if (mean < 0) return 1;
    return Math.max(1, Math.min(64, Math.floor(2 / Math.max(mean, 0.001))));
  }

  #flush(): void {
    const cmd = this.#cmd;
    if (cmd === null || !this.#ready) return;
    const batch = this.#out.filter((f) =>
      !f.chunk.job.settled && this.#flights.get(f.chunk.id) === f
    );
    this.#out = [];
    const pipeline = cmd.pipeline();
    const entries: Flight[][] = [];
    const pack = this.#packSize();
    for (let i = 0; i < batch.length;) {
      const job = batch[i]!.chunk.job;
      const group = [batch[i++]!];
      while (
        i < batch.length && group.length < pack && batch[i]!.chunk.job === job
      ) group.push(batch[i++]!);
      const fields = this.#fields(group);
      if (fields === undefined) continue;
      const now = performance.now();
      for (const f of fields.sent) f.chunk.sentAt = now;
      pipeline.xadd(this.#keys.tasks, "*", ...fields.fields);
      entries.push(fields.sent);
    }
    if (entries.length === 0) {
      this.pump();
      return;
    }
    pipeline.exec().then((replies) => {
      replies?.forEach(([err, id], n) => {
        if (err !== null || typeof id !== "string") return;
        for (const f of entries[n]!) f.entry = id;
      });
      // Entries whose add failed are sent again when the connection is back.
    }, (err: unknown) => this.#lastError = err);
    this.pump();
  }

  /** The fields of one task entry for `group` (chunks of one call), or, if
   * their items cannot be serialized, undefined after failing the call. */
  #fields(
    group: Flight[],
  ): { fields: (string | Buffer)[]; sent: Flight[] } | undefined {
    const job = group[0]!.chunk.job;
    let data: Buffer;
    try {
      const ref = this.#refOf(job);
      if (group.length === 1) data = this.#encode(group[0]!.chunk);
      else {
        try {
          data = serialize(group.flatMap((f) => f.chunk.items));
        } catch (err) {
          // Find the chunk that cannot be sent, to name its item.
          for (const f of group) this.#encode(f.chunk);
          throw err;
        }
      }
      return {
        sent: group,
        fields: [
          "r",
          this.#reply,
          "i",
          group.map((f) => f.chunk.id).join(","),
          "n",
          group.map((f) => f.chunk.items.length).join(","),
          "m",
          ref.spec,
          "h",
          ref.hash,
          "f",
          job.fn.name,
          "x",
          job.fn.src,
          "s",
          job.star ? "1" : "0",
          "a",
          data,
        ],
      };
    } catch (err) {
      for (const f of group) this.#flights.delete(f.chunk.id);
      job.outstanding -= group.length;
      this.fail(job, err);
      this.#forgetJob(job);
      return undefined;
    }
  }

  #encode(chunk: Chunk): Buffer {
    try {
      return serialize(chunk.items);
    } catch (err) {
      throw cloneError(
        chunk.items.length === 1 ? chunk.items[0] : chunk.items,
        this.pathOf(chunk),
        err,
      );
    }
  }

  // --- receiving ----------------------------------------------------------

  #startReading(): void {
    if (this.#reading || !this.#ready) return;
    this.#reading = true;
    this.#read().finally(() => {
      this.#reading = false;
      if (this.#flights.size > 0 && this.#ready) this.#startReading();
    });
  }

  async #read(): Promise<void> {
    while (this.#flights.size > 0) {
      const blk = this.#blk;
      if (blk === null || !this.#ready) return;
      let res: [Buffer, [Buffer, Buffer[]][]][] | null;
      try {
        res = await blk.xreadBuffer(
          "COUNT",
          256,
          "BLOCK",
          1000,
          "STREAMS",
          this.#reply,
          this.#lastId,
        ) as [Buffer, [Buffer, Buffer[]][]][] | null;
      } catch (err) {
        this.#lastError = err;
        await sleep(100, this.#active);
        continue;
      }
      if (res === null) continue;
      const ids: string[] = [];
      for (const [, entries] of res) {
        for (const [id, fields] of entries) {
          const key = id.toString();
          this.#lastId = key;
          ids.push(key);
          for (let j = 0; j + 1 < fields.length; j += 2) {
            if (fields[j]!.toString() === "d") {
              this.#onRecords(fields[j + 1]!);
            }
          }
        }
      }
      this.#cmd?.xdel(this.#reply, ...ids).catch(() => {});
      this.pump();
      this.maybeFinish();
    }
  }

  #onRecords(data: Buffer): void {
    let records: ResultRecord[];
    try {
      records = deserialize(data) as ResultRecord[];
    } catch {
      return; // not ours: a foreign writer on our stream
    }
    const now = performance.now();
    for (const r of records) {
      this.#known.set(r.w, r.p);
      if (r.u !== undefined) this.#chunkMs = r.u;
      const flight = this.#flights.get(r.i);
      if (flight === undefined) continue; // a duplicate, or of a dropped call
      this.#flights.delete(r.i);
      const chunk = flight.chunk;
      this.#run.add(r.t);
      this.#wait.add(Math.max(0, now - chunk.sentAt - r.t));
      if (r.e === undefined) {
        const values = r.v ?? [];
        this.deliver(chunk, values, 0, values.length);
        continue;
      }
      const job = chunk.job;
      job.outstanding--;
      this.failed += chunk.items.length;
      this.fail(job, decodeError(r.e), chunk);
      if (job.settled) this.#forgetJob(job);
    }
  }

  // --- ending -------------------------------------------------------------

  /** Removes a settled call's chunks from Redis, so no worker runs them. */
  #forgetJob(job: Job): void {
    const entries: string[] = [];
    for (const [id, f] of this.#flights) {
      if (f.chunk.job !== job) continue;
      this.#flights.delete(id);
      if (f.entry !== undefined) entries.push(f.entry);
    }
    if (entries.length > 0 && this.#ready) {
      this.#cmd?.xdel(this.#keys.tasks, ...entries).catch(() => {});
    }
  }

  /** Fails every call with `err`, keeping the connection. */
  #abandon(err: unknown): void {
    for (const job of [...this.jobs]) {
      this.fail(job, err);
      this.#forgetJob(job);
    }
    this.retry.length = 0;
    this.maybeFinish();
  }

  abort(job: Job, reason: unknown): void {
    if (job.settled) return;
    this.fail(job, reason);
    this.#forgetJob(job);
  }

  override cancel(job: Job): void {
    super.cancel(job);
    this.#forgetJob(job);
  }

  terminate(reason: unknown): void {
    this.isClosed = true;
    this.#abandon(reason);
  }

  protected maybeFinish(): void {
    if (this.jobs.size === 0 && this.#flights.size === 0) {
      this.#setActive(false);
    }
    if (!this.isClosed || this.jobs.size > 0 || this.#flights.size > 0) return;
    this.#shutdown ??= this.#close();
    this.#shutdown.then(() => this.resolveJoined());
  }

  async #close(): Promise<void> {
    const cmd = this.#cmd;
    if (cmd !== null && this.#ready) {
      try {
        await cmd.del(this.#reply);
      } catch {
        // the stream expires on its own
      }
    }
    this.#disconnect();
  }
}
