// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The worker machine's server behind `serve()`: it connects, takes task
// entries (_reader.ts, and _reclaim.ts for those of silent workers), checks
// their module (_verify.ts), runs their chunks on a local engine, sends the
// results back (_outbox.ts), and stops cleanly, finishing what it holds.

import { messages } from "../_messages.ts";
import { encodeError } from "../_shared/error_codec.ts";
import { ProcessError } from "../errors.ts";
import { inFlight, SERVE_HOLD } from "../_engine/inflight.ts";
import {
  connect,
  connectWithin,
  describe,
  ensureGroup,
  type Redis,
  safeUrl,
} from "./_client.ts";
import { ModuleMismatchError, RedisUnavailableError } from "./errors.ts";
import { type Held, Outbox } from "./_outbox.ts";
import {
  GROUP,
  keysOf,
  parseTask,
  type ResultRecord,
  type StreamEntries,
  type TaskEntry,
  taskItems,
  workerMember,
} from "./_protocol.ts";
import { readTasks } from "./_reader.ts";
import { ChunkRunner, type LocalWorkers, type Outcome } from "./_runner.ts";
import { Reclaimer } from "./_reclaim.ts";
import type { RedisWorker, RedisWorkerStats } from "./serve.ts";
import { ModuleVerifier } from "./_verify.ts";

/** A worker's settings, every default filled in. */
export interface ServerSettings {
  readonly url: string;
  readonly queue: string;
  readonly processes: number;
  /** How the local Workers run (threads, or scoped OS processes). */
  readonly workers: LocalWorkers;
  readonly root: string;
  readonly name: string;
  readonly claimAfter: number;
  readonly heartbeat: number;
  readonly connectTimeout: number;
  readonly maxDeliveries: number;
  readonly warn: (message: string) => void;
}

/** What the reader and the reclaimer see of a server. */
export interface Intake {
  readonly settings: ServerSettings;
  readonly keys: ReturnType<typeof keysOf>;
  readonly cmd: Redis;
  readonly blk: Redis;
  /** Whether it is stopping: it takes no more entries. */
  stopping(): boolean;
  /** Chunks it may hold: enough per process for ~4 ms of work. */
  capacity(): number;
  /** Chunks it may take now. */
  room(): number;
  /** Resolves when chunks are answered, or the server stops. */
  roomMade(): Promise<void>;
  /** The ids of the entries it holds. */
  heldIds(): string[];
  /** Takes entries read, or taken over with their delivery counts. */
  take(entries: StreamEntries, deliveries?: Map<string, number>): void;
}

/** A running worker. */
export class Server implements RedisWorker {
  readonly finished: Promise<void>;
  #finish!: () => void;
  #closing: Promise<void> | null = null;
  #stopping = false;
  #lost = false;

  readonly #s: ServerSettings;
  readonly #keys: ReturnType<typeof keysOf>;
  readonly #cmd: Redis;
  readonly #blk: Redis;
  /** What the reader and the reclaimer see of this server. */
  readonly #intake: Intake;

  /** Entries taken and not yet answered, by id. */
  readonly #held = new Map<string, Held>();
  readonly #verifier: ModuleVerifier;
  readonly #outbox: Outbox;
  readonly #reclaimer: Reclaimer;
  #wakeReader: (() => void) | null = null;
  #drained: (() => void) | null = null;
  #counts = {
    entries: 0,
    chunks: 0,
    failed: 0,
    refused: 0,
    reclaimed: 0,
    skipped: 0,
    malformed: 0,
  };
  readonly #runner: ChunkRunner;

  constructor(settings: ServerSettings) {
    this.#s = settings;
    this.#keys = keysOf(settings.queue);
    this.#cmd = connect(settings.url, `mp-worker ${settings.name}`);
    this.#blk = connect(settings.url, `mp-worker-read ${settings.name}`);
    this.finished = new Promise((resolve) => this.#finish = resolve);
    this.#verifier = new ModuleVerifier(settings.root, settings.name);
    this.#outbox = new Outbox(
      this.#cmd,
      this.#keys.tasks,
      (held, records) => this.#sent(held, records),
    );
    this.#intake = {
      settings,
      keys: this.#keys,
      cmd: this.#cmd,
      blk: this.#blk,
      stopping: () => this.#stopping,
      capacity: () => this.#capacity(),
      room: () => this.#capacity() - this.#held.size,
      roomMade: () =>
        new Promise<void>((resolve) => this.#wakeReader = resolve),
      heldIds: () => [...this.#held.keys()],
      take: (entries, deliveries) => this.#take(entries, deliveries),
    };
    this.#reclaimer = new Reclaimer(this.#intake);
    this.#runner = new ChunkRunner(settings.processes, settings.workers);
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

  /** Connects (within `connectTimeout`), then serves until closed. */
  async start(): Promise<void> {
    const s = this.#s;
    try {
      await connectWithin([this.#cmd, this.#blk], s.connectTimeout);
      await ensureGroup(this.#cmd, this.#keys.tasks, GROUP);
    } catch (cause) {
      this.#cmd.disconnect();
      this.#blk.disconnect();
      const url = safeUrl(s.url);
      throw new RedisUnavailableError(
        messages.serveUnreachable(
          s.queue,
          url,
          s.connectTimeout,
          describe(cause),
        ),
        { url, cause },
      );
    }
    this.#cmd.on("close", () => {
      if (this.#stopping || this.#lost) return;
      this.#lost = true;
      s.warn(messages.serveLost(safeUrl(s.url)));
    });
    this.#cmd.on("ready", () => {
      if (!this.#lost) return;
      this.#lost = false;
      s.warn(messages.serveBack(safeUrl(s.url)));
      // A restarted server may have lost the group.
      ensureGroup(this.#cmd, this.#keys.tasks, GROUP).catch(() => {});
    });
    await this.#reclaimer.start();
    readTasks(this.#intake).catch((err) =>
      s.warn(messages.serveReaderStopped(describe(err)))
    );
  }

  #capacity(): number {
    const each = inFlight(this.#runner.meanRunTime, SERVE_HOLD);
    return this.#s.processes * each;
  }

  #take(entries: StreamEntries, deliveries?: Map<string, number>): void {
    for (const [id, fields] of entries) {
      const entry = id.toString();
      if (fields === null || this.#held.has(entry)) continue;
      const { task, problem } = parseTask(fields, this.#keys.reply(""));
      if (task === undefined) {
        // Not a task of ours (anyone who can write to Redis can add one):
        // it is dropped, acknowledged and deleted so that no one retries it.
        this.#malformed(entry, problem);
        const pipeline = this.#cmd.pipeline();
        pipeline.xack(this.#keys.tasks, GROUP, entry);
        pipeline.xdel(this.#keys.tasks, entry);
        pipeline.exec().catch(() => {});
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
      else {
        this.#run(task, held).catch((err) => {
          // Nothing in #run should throw; if it does, the entry is dropped
          // and the worker goes on.
          this.#s.warn(messages.serveTaskFailed(entry, describe(err)));
          this.#outbox.send(held, null);
        });
      }
    }
  }

  /** Runs an entry's chunks (in parallel on the local engine), then sends
   * their results together. */
  async #run(task: TaskEntry, held: Held): Promise<void> {
    let outcomes: Promise<Outcome>[];
    try {
      if (!await this.#outbox.listening(task.reply)) {
        // Its coordinator is gone (its reply stream expired): skip it.
        this.#counts.skipped += task.chunks.length;
        this.#outbox.send(held, null);
        return;
      }
      const module = this.#verifier.verify(task);
      const chunks = taskItems(task);
      if (chunks === undefined) {
        // Not run; its coordinator hears why, rather than wait for ever.
        this.#malformed(held.entry, messages.serveBadItems());
        const e = encodeError(new TypeError(messages.serveBadItems()));
        const records = task.chunks.map((i) =>
          this.#record(i, held, { e, f: 0 })
        );
        this.#outbox.send(held, records);
        return;
      }
      outcomes = chunks.map((items) => this.#runner.run(task, module, items));
    } catch (error) {
      // The whole entry is refused (module) or unreadable.
      const whole = Promise.resolve({ error, at: 0 });
      outcomes = task.chunks.map(() => whole);
    }
    const records: ResultRecord[] = [];
    for (const [j, outcome] of outcomes.entries()) {
      const o = await outcome;
      const chunk = task.chunks[j]!;
      if ("v" in o) {
        records.push(this.#record(chunk, held, { v: o.v }));
        continue;
      }
      if (o.error instanceof ModuleMismatchError) this.#counts.refused++;
      else this.#counts.failed++;
      const e = encodeError(o.error);
      records.push(this.#record(chunk, held, { e, f: o.at }));
    }
    this.#outbox.send(held, records);
  }

  /** Counts a malformed entry, and says so. */
  #malformed(entry: string, problem: string): void {
    this.#counts.malformed++;
    this.#s.warn(
      messages.serveMalformedTask(entry, problem, this.#counts.malformed),
    );
  }

  #record(
    chunk: number,
    held: Held,
    outcome: Pick<ResultRecord, "v"> | Pick<ResultRecord, "e" | "f">,
  ): ResultRecord {
    const mean = this.#runner.meanRunTime;
    return {
      i: chunk,
      ...outcome,
      t: performance.now() - held.start,
      w: this.#s.name,
      p: this.#s.processes,
      ...(mean === undefined ? {} : { u: mean }),
    };
  }

  /** Fails an entry that every worker holding it died on, so that it cannot
   * take down worker after worker for ever. */
  #abandon(task: TaskEntry, held: Held, times: number): void {
    this.#counts.failed += task.chunks.length;
    const e = encodeError(
      new ProcessError(
        messages.serveTooManyDeliveries(task.name, task.spec, times),
        {
          processName: this.#s.name,
          exitCode: -1,
          code: "ERR_TOO_MANY_DELIVERIES",
        },
      ),
    );
    const records = task.chunks.map((i) => this.#record(i, held, { e, f: 0 }));
    this.#outbox.send(held, records);
  }

  /** The outbox answered `held`, `records` results among them. */
  #sent(held: Held[], records: number): void {
    this.#counts.chunks += records;
    for (const h of held) this.#held.delete(h.entry);
    const wake = this.#wakeReader;
    this.#wakeReader = null;
    wake?.();
    this.#maybeDone();
  }

  #maybeDone(): void {
    if (this.#stopping && this.#held.size === 0 && !this.#outbox.pending) {
      this.#drained?.();
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stopping = true;
    this.#reclaimer.stop();
    const wake = this.#wakeReader;
    this.#wakeReader = null;
    wake?.();
    if (this.#held.size > 0) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        this.#maybeDone();
      });
    }
    const s = this.#s;
    try {
      await this.#cmd.zrem(
        this.#keys.workers,
        workerMember(s.name, s.processes),
      );
      await this.#cmd.xgroup("DELCONSUMER", this.#keys.tasks, GROUP, s.name);
    } catch {
      // Redis is gone; the heartbeat entry expires on its own
    }
    await this.#runner.close(new Error(messages.serveClosing()));
    this.#cmd.disconnect();
    this.#blk.disconnect();
    this.#finish();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
