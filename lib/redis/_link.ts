// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// A coordinator's two connections to Redis (one for commands, one for the
// blocking reads of its reply stream) and their life: made on demand, set
// up, watched, given up after `reconnectTimeout` ms without Redis, and
// holding the program open only while calls wait.

import { messages } from "../_messages.ts";
import { connect, describe, type Redis, safeUrl, socketOf } from "./_client.ts";
import { RedisUnavailableError } from "./errors.ts";

/** ms between the coordinator's ticks while connected. */
const TICK_MS = 1000;

/** What a link tells its coordinator. */
export interface LinkEvents {
  /** Sets up a fresh connection; a rejection leaves the link not ready. */
  setUp(cmd: Redis): Promise<void>;
  /** Connected and set up: ready to send (again). */
  ready(): void;
  /** Redis was away for `reconnectTimeout` ms: the calls fail with this. */
  lost(error: RedisUnavailableError): void;
  /** Every `TICK_MS` while connected. */
  tick(): void;
}

/** A coordinator's connections to Redis. */
export class Link {
  readonly #url: string;
  readonly #reconnectTimeout: number;
  readonly #events: LinkEvents;
  #cmd: Redis | null = null;
  #blk: Redis | null = null;
  #ready = false;
  #active = false;
  #lostTimer: ReturnType<typeof setTimeout> | undefined;
  #tick: ReturnType<typeof setInterval> | undefined;
  /** The last error of a command or connection, for messages. */
  lastError: unknown = undefined;

  constructor(url: string, reconnectTimeout: number, events: LinkEvents) {
    this.#url = url;
    this.#reconnectTimeout = reconnectTimeout;
    this.#events = events;
  }

  /** Whether the connections are up and set up. */
  get ready(): boolean {
    return this.#ready;
  }

  /** The command connection, while ready. */
  get cmd(): Redis | null {
    return this.#ready ? this.#cmd : null;
  }

  /** The reading connection, while ready. */
  get blk(): Redis | null {
    return this.#ready ? this.#blk : null;
  }

  /** Whether calls wait, so that the program is kept alive. */
  get active(): boolean {
    return this.#active;
  }

  /** Connects when not connected; the lost timer bounds the wait. */
  ensure(): void {
    if (this.#cmd !== null) return;
    const cmd = connect(this.#url, "mp-coordinator");
    const blk = connect(this.#url, "mp-coordinator-read");
    this.#cmd = cmd;
    this.#blk = blk;
    this.#ready = false;
    cmd.on("error", (err: unknown) => this.lastError = err);
    cmd.on("close", () => this.#onClose(cmd));
    cmd.on("ready", () => this.#onReady(cmd));
    this.#startLostTimer();
    cmd.connect().catch((err: unknown) => this.lastError = err);
    blk.connect().catch(() => {});
    this.#tick = setInterval(() => this.#events.tick(), TICK_MS);
    Deno.unrefTimer(this.#tick as unknown as number);
  }

  /** Keeps the program alive while calls wait, and only then. */
  setActive(active: boolean): void {
    if (active === this.#active) return;
    this.#active = active;
    for (const client of [this.#cmd, this.#blk]) {
      if (client === null) continue;
      const socket = socketOf(client);
      if (active) socket?.ref();
      else socket?.unref();
    }
  }

  /** Closes the connections; `ensure()` makes new ones. */
  disconnect(): void {
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

  #unavailable(): RedisUnavailableError {
    const url = safeUrl(this.#url);
    const why = this.lastError === undefined
      ? messages.redisNoConnection()
      : describe(this.lastError);
    return new RedisUnavailableError(
      messages.redisUnreachable(url, why),
      this.lastError === undefined ? { url } : { url, cause: this.lastError },
    );
  }

  #startLostTimer(): void {
    if (this.#lostTimer !== undefined) return;
    this.#lostTimer = setTimeout(() => {
      this.#lostTimer = undefined;
      if (this.#ready) return;
      this.#events.lost(this.#unavailable());
    }, this.#reconnectTimeout);
    if (!this.#active) {
      Deno.unrefTimer(this.#lostTimer as unknown as number);
    }
  }

  #onClose(cmd: Redis): void {
    if (cmd !== this.#cmd) return;
    this.#ready = false;
    if (!this.#active) {
      // Nothing waits: drop the connection; the next call makes a new one.
      this.disconnect();
      return;
    }
    this.#startLostTimer();
  }

  async #onReady(cmd: Redis): Promise<void> {
    try {
      await this.#events.setUp(cmd);
    } catch (err) {
      this.lastError = err;
      return;
    }
    if (cmd !== this.#cmd) return;
    this.#ready = true;
    this.lastError = undefined;
    clearTimeout(this.#lostTimer);
    this.#lostTimer = undefined;
    this.#events.ready();
  }
}
