// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The engine of a Pool whose chunks run on worker machines through Redis
// Streams. Chunks are made lazily (at most `maxPending` in Redis at a time),
// added to the queue's task stream (_task_writer.ts), and their results read
// from this coordinator's own reply stream (_reply_reader.ts). A result for a
// chunk no longer in flight (a duplicate of a re-run chunk, or of an aborted
// call) is dropped. The connections and their loss are _link.ts's; the wire
// format is _protocol.ts's.

import type { Buffer } from "node:buffer";
import { hostname } from "node:os";
import { messages } from "../_messages.ts";
import { decodeError } from "../_shared/error_codec.ts";
import { errorClasses } from "../_engine/error_classes.ts";
import { Dispatcher } from "../_engine/dispatcher.ts";
import { inFlight, REDIS_PACK } from "../_engine/inflight.ts";
import type { Chunk, Job } from "../_engine/job.ts";
import { checkQueue, ensureGroup, type Redis, safeUrl } from "./_client.ts";
import { NoWorkersError, type RedisUnavailableError } from "./errors.ts";
import { Link } from "./_link.ts";
import { ReplyReader } from "./_reply_reader.ts";
import {
  failedAt,
  GROUP,
  keysOf,
  REPLY_HELLO,
  type ResultRecord,
} from "./_protocol.ts";
import { TaskWriter } from "./_task_writer.ts";
import { WorkersSeen } from "./_workers_seen.ts";

/** The backend's settings, every default filled in. */
export interface CoordinatorOptions {
  readonly url: string;
  readonly queue: string;
  readonly root: string | undefined;
  readonly maxPending: number;
  readonly reconnectTimeout: number;
  readonly workerTimeout: number;
  /** Told of problems that do not stop the pool (malformed results). */
  readonly warn: (message: string) => void;
}

interface Flight {
  readonly chunk: Chunk;
  /** The task entry's id, once added. */
  entry: string | undefined;
}

/** The reply stream outlives a vanished coordinator this long (ms); a
 * coordinator whose stream expired anyway (a main thread blocked this long)
 * makes it again and sends its chunks again. */
const REPLY_TTL_MS = 15_000;
/** Random characters that tell apart coordinators of one host and pid. */
const ID_RANDOM = 8;
/** The pool size that default chunk sizes assume before a worker is seen. */
const ASSUMED_PROCESSES = 8;
/** The shortest ms between two warnings about malformed results: a flood
 * of forged entries gives one line a second, with the running count. */
const MALFORMED_WARN_MS = 1000;

/** The Redis engine behind a `Pool`. */
export class RedisEngine extends Dispatcher {
  readonly #cfg: CoordinatorOptions;
  readonly #keys: ReturnType<typeof keysOf>;
  /** This coordinator's reply stream. */
  readonly #reply: string;
  #shutdown: Promise<void> | null = null;

  readonly #link: Link;
  readonly #writer: TaskWriter;
  readonly #reader: ReplyReader;
  /** Chunks sent (or to send) and not yet answered, by chunk id. */
  readonly #flights = new Map<number, Flight>();
  /** Flights to add to the task stream in the next flush. */
  #out: Flight[] = [];
  #flushing = false;

  readonly #workers = new WorkersSeen();
  /** Malformed results dropped so far, and when that was last said. */
  #malformed = 0;
  #warnedAt = -Infinity;
  /** The workers' mean run time of a chunk, ms, once one reports it. */
  #chunkMs: number | undefined;

  constructor(cfg: CoordinatorOptions) {
    super();
    this.#cfg = cfg;
    this.#keys = keysOf(checkQueue(cfg.queue));
    const id = `${hostname()}:${Deno.pid}:${
      crypto.randomUUID().slice(0, ID_RANDOM)
    }`;
    this.#reply = this.#keys.reply(id);
    this.#writer = new TaskWriter(this.#reply, cfg.root);
    this.#link = new Link(cfg.url, cfg.reconnectTimeout, {
      setUp: (cmd) => this.#setUp(cmd),
      ready: () => this.#onReady(),
      lost: (err) => this.#giveUp(err),
      tick: () => this.#onTick(),
    });
    this.#reader = new ReplyReader(this.#link, this.#reply, {
      awaiting: () => this.#flights.size > 0,
      records: (records) => this.#onRecords(records),
      malformed: (count) => this.#dropped(count),
      read: () => {
        this.pump();
        this.maybeFinish();
      },
    });
  }

  /** The pool's size as default chunk sizes see it: the worker processes
   * last seen, or `ASSUMED_PROCESSES` before any is seen. */
  protected poolSize(): number {
    return this.workerProcesses() || ASSUMED_PROCESSES;
  }

  protected workerProcesses(): number {
    return this.#workers.processes;
  }

  protected busyWorkers(): number {
    return Math.min(this.#flights.size, this.workerProcesses());
  }

  // --- connection ---------------------------------------------------------

  async #setUp(cmd: Redis): Promise<void> {
    await ensureGroup(cmd, this.#keys.tasks, GROUP);
    // The reply stream exists from the start (so that workers, which add
    // with NOMKSTREAM, can tell a live coordinator) and expires if we vanish.
    await cmd.xadd(this.#reply, "*", ...REPLY_HELLO);
    await cmd.pexpire(this.#reply, REPLY_TTL_MS);
  }

  #onReady(): void {
    // Redis may have lost what was sent before (a restart without
    // persistence): send everything in flight again; duplicates are dropped.
    this.#resendAll();
    this.#reader.start();
    this.pump();
    this.#onTick();
  }

  #resendAll(): void {
    this.#out = [...this.#flights.values()];
    for (const f of this.#out) f.entry = undefined;
    this.#scheduleFlush();
  }

  /** Fails every call with `err` and drops the connection. */
  #giveUp(err: RedisUnavailableError): void {
    this.#flights.clear();
    this.#out = [];
    this.failAll(err);
    this.#link.disconnect();
    this.maybeFinish();
  }

  /** Keeps the program alive while calls wait, and only then. */
  #setActive(active: boolean): void {
    if (active && !this.#link.active) this.#workers.waiting();
    this.#link.setActive(active);
  }

  async #onTick(): Promise<void> {
    const cmd = this.#link.cmd;
    if (cmd === null) return;
    try {
      await this.#workers.refresh(cmd, this.#keys.workers);
      if (await cmd.pexpire(this.#reply, REPLY_TTL_MS) === 0) {
        // Our stream expired: workers dropped results meant for us.
        await this.#setUp(cmd);
        this.#resendAll();
      }
    } catch (err) {
      this.#link.lastError = err;
      return;
    }
    const { queue, url, workerTimeout } = this.#cfg;
    if (this.#workers.noneFor(workerTimeout, this.#flights.size > 0)) {
      const message = messages.redisNoWorkers(
        queue,
        safeUrl(url),
        workerTimeout,
      );
      this.#abandon(new NoWorkersError(message, { queue }));
    }
  }

  // --- sending ------------------------------------------------------------

  pump(): void {
    if (this.#shutdown !== null) return;
    if (this.jobs.size > 0) {
      this.#setActive(true);
      this.#link.ensure();
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
    if (this.#flights.size > 0) this.#reader.start();
  }

  #scheduleFlush(): void {
    if (this.#flushing || this.#out.length === 0 || !this.#link.ready) return;
    this.#flushing = true;
    queueMicrotask(() => {
      this.#flushing = false;
      this.#flush();
    });
  }

  /** Adds the chunks waiting to be sent as task entries: consecutive chunks
   * of one call share an entry, as many as `REDIS_PACK` allows. */
  #flush(): void {
    const cmd = this.#link.cmd;
    if (cmd === null) return;
    const batch = this.#out.filter((f) =>
      !f.chunk.job.settled && this.#flights.get(f.chunk.id) === f
    );
    this.#out = [];
    const pipeline = cmd.pipeline();
    const entries: Flight[][] = [];
    const pack = inFlight(this.#chunkMs, REDIS_PACK);
    for (let i = 0; i < batch.length;) {
      const job = batch[i]!.chunk.job;
      const group = [batch[i++]!];
      while (
        i < batch.length && group.length < pack && batch[i]!.chunk.job === job
      ) group.push(batch[i++]!);
      const fields = this.#fields(group);
      if (fields === undefined) continue;
      const now = performance.now();
      for (const f of group) f.chunk.sentAt = now;
      pipeline.xadd(this.#keys.tasks, "*", ...fields);
      entries.push(group);
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
    }, (err: unknown) => this.#link.lastError = err);
    this.pump();
  }

  /** The fields of the task entry of `group` (chunks of one call), or, if
   * they cannot be sent, undefined after failing the call. */
  #fields(group: Flight[]): (string | Buffer)[] | undefined {
    try {
      return this.#writer.fields(
        group.map((f) => f.chunk),
        (chunk) => this.pathOf(chunk),
      );
    } catch (err) {
      const job = group[0]!.chunk.job;
      for (const f of group) this.#flights.delete(f.chunk.id);
      job.outstanding -= group.length;
      this.fail(job, err);
      this.#forgetJob(job);
      return undefined;
    }
  }

  // --- receiving ----------------------------------------------------------

  /** Results read from the reply stream. Their shape was checked
   * (_protocol.ts); here, that each fits its chunk: a record that does not
   * (a forgery, or a worker of another version) is dropped and the chunk
   * stays in flight, so that the real result can still complete it. */
  #onRecords(records: ResultRecord[]): void {
    const now = performance.now();
    for (const r of records) {
      const flight = this.#flights.get(r.i);
      if (flight === undefined) {
        this.#workers.heard(r.w, r.p);
        continue; // a duplicate, or of a dropped call
      }
      const chunk = flight.chunk;
      if (r.e === undefined && r.v!.length !== chunk.items.length) {
        this.#dropped(1);
        continue;
      }
      this.#workers.heard(r.w, r.p);
      if (r.u !== undefined) this.#chunkMs = r.u;
      this.#flights.delete(r.i);
      this.timings.add(Math.max(0, r.t), now - chunk.sentAt);
      if (r.e === undefined) {
        this.deliver(chunk, r.v!, 0, chunk.items.length);
        continue;
      }
      const at = failedAt(r, chunk.items.length);
      const classes = errorClasses(chunk.job.module);
      this.failChunk(chunk, decodeError(r.e, classes), at);
      if (chunk.job.settled) this.#forgetJob(chunk.job);
    }
  }

  /** `count` malformed results were dropped: counted, and said at most
   * once a second. */
  #dropped(count: number): void {
    this.#malformed += count;
    const now = performance.now();
    if (now - this.#warnedAt < MALFORMED_WARN_MS) return;
    this.#warnedAt = now;
    try {
      this.#cfg.warn(
        messages.redisMalformedReply(this.#reply, this.#malformed),
      );
    } catch {
      // a failing warning callback must not stop the reader
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
    if (entries.length > 0) {
      this.#link.cmd?.xdel(this.#keys.tasks, ...entries).catch(() => {});
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
    const cmd = this.#link.cmd;
    if (cmd !== null) {
      try {
        await cmd.del(this.#reply);
      } catch {
        // the stream expires on its own
      }
    }
    this.#link.disconnect();
  }
}
