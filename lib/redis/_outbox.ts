// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// A worker machine's results on their way back: the records of the entries
// finished in one turn go out together, one reply entry per coordinator, in
// the pipeline that then acknowledges and deletes the task entries. Also
// whether a coordinator still listens, so that its tasks are not run for
// nobody.

import type { Buffer } from "node:buffer";
import { serialize } from "node:v8";
import { messages } from "../_messages.ts";
import { encodeError } from "../_shared/error_codec.ts";
import { describe, type Redis } from "./_client.ts";
import { GROUP, type ResultRecord, RESULTS_FIELD } from "./_protocol.ts";

/** A task entry taken and not yet answered. */
export interface Held {
  /** Its id in the task stream. */
  readonly entry: string;
  /** Its coordinator's reply stream. */
  readonly reply: string;
  /** When it was taken, for the time a record reports. */
  readonly start: number;
}

/** ms a coordinator's liveness is reused before Redis is asked again. */
const LISTENING_MS = 1000;
/** Coordinators remembered before the stale ones are dropped. */
const LISTENING_KEPT = 1024;

/** Results waiting to be sent, and the coordinators heard of. */
export class Outbox {
  readonly #cmd: Redis;
  readonly #tasks: string;
  /** Called with the entries answered (or given up) by each flush. */
  readonly #sent: (held: Held[], records: number) => void;
  #out: { held: Held; records: ResultRecord[] | null }[] = [];
  #flushing = false;
  readonly #listening = new Map<string, { at: number; alive: boolean }>();

  /** `tasks`: the task stream; `sent`: told what each flush answered. */
  constructor(
    cmd: Redis,
    tasks: string,
    sent: (held: Held[], records: number) => void,
  ) {
    this.#cmd = cmd;
    this.#tasks = tasks;
    this.#sent = sent;
  }

  /** Whether results are waiting. */
  get pending(): boolean {
    return this.#out.length > 0;
  }

  /** Sends `records` for `held` with the turn's others; `null` only
   * acknowledges the entry (its coordinator is gone). */
  send(held: Held, records: ResultRecord[] | null): void {
    this.#out.push({ held, records });
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => this.#flush());
    }
  }

  /** Whether a coordinator's reply stream exists; asked at most once per
   * `LISTENING_MS` per coordinator. */
  async listening(reply: string): Promise<boolean> {
    const now = performance.now();
    const known = this.#listening.get(reply);
    if (known !== undefined && now - known.at < LISTENING_MS) {
      return known.alive;
    }
    let alive = true;
    try {
      alive = await this.#cmd.exists(reply) === 1;
    } catch {
      // Redis is away: run it; the result may still be delivered later
    }
    this.#listening.set(reply, { at: now, alive });
    if (this.#listening.size > LISTENING_KEPT) {
      for (const [key, v] of this.#listening) {
        if (now - v.at >= LISTENING_MS) this.#listening.delete(key);
      }
    }
    return alive;
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
        data = serialize(records.map(unsendable));
      }
      pipeline.xadd(reply, "NOMKSTREAM", "*", RESULTS_FIELD, data);
    }
    pipeline.xack(this.#tasks, GROUP, ...entries);
    pipeline.xdel(this.#tasks, ...entries);
    try {
      await pipeline.exec();
    } catch {
      // Redis is gone: the chunks stay pending and are run again later.
      sent = 0;
    }
    this.#sent(out.map((o) => o.held), sent);
  }
}

/** A result V8 cannot serialize becomes an error naming the value. */
function unsendable(record: ResultRecord): ResultRecord {
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
          messages.serveUnsendable(record.i, describe(err)),
          "DataCloneError",
        ),
      ),
    };
  }
}
