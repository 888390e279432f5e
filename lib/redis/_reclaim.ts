// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// A worker machine's hold on its chunks, and its take-over of others': a
// heartbeat every `heartbeat` ms marks it live and resets the idle time of
// the entries it holds; every half `claimAfter` it takes over entries that
// other workers left idle for `claimAfter` ms, with their delivery counts.

import type { Buffer } from "node:buffer";
import {
  GROUP,
  HEARTBEAT_SCRIPT,
  type StreamEntries,
  workerMember,
} from "./_protocol.ts";
import type { Intake } from "./_server.ts";

/** The shortest ms between looks for entries to take over. */
const MIN_RECLAIM_MS = 100;

/** Heartbeats and take-overs of one worker. */
export class Reclaimer {
  readonly #intake: Intake;
  #cursor = "0-0";
  #timers: ReturnType<typeof setInterval>[] = [];

  constructor(intake: Intake) {
    this.#intake = intake;
  }

  /** Beats once, then starts the heartbeat and the take-overs. */
  async start(): Promise<void> {
    const { heartbeat, claimAfter } = this.#intake.settings;
    await this.#beat();
    this.#timers.push(setInterval(() => this.#beat(), heartbeat));
    const every = Math.max(MIN_RECLAIM_MS, Math.floor(claimAfter / 2));
    this.#timers.push(setInterval(() => this.#reclaim(), every));
  }

  /** Stops both. */
  stop(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }

  async #beat(): Promise<void> {
    const { settings: s, keys, cmd } = this.#intake;
    const pipeline = cmd.pipeline();
    pipeline.eval(
      HEARTBEAT_SCRIPT,
      1,
      keys.workers,
      workerMember(s.name, s.processes),
    );
    const ids = this.#intake.heldIds();
    if (ids.length > 0) {
      // Claiming what we hold resets its idle time: the heartbeat that
      // keeps other workers from taking it over.
      pipeline.xclaim(keys.tasks, GROUP, s.name, 0, ...ids, "JUSTID");
    }
    try {
      await pipeline.exec();
    } catch {
      // lost Redis: the "close" listener reports it
    }
  }

  async #reclaim(): Promise<void> {
    const intake = this.#intake;
    if (intake.stopping()) return;
    const room = intake.room();
    if (room <= 0) return;
    const { settings: s, keys, cmd } = intake;
    try {
      const [next, entries] = await cmd.callBuffer(
        "XAUTOCLAIM",
        keys.tasks,
        GROUP,
        s.name,
        s.claimAfter,
        this.#cursor,
        "COUNT",
        room,
      ) as unknown as [Buffer, StreamEntries];
      this.#cursor = next.toString();
      if (intake.stopping() || entries.length === 0) return;
      // How often each was delivered: XAUTOCLAIM counts a delivery, the
      // heartbeat's XCLAIM JUSTID does not, so this counts take-overs.
      const pending = await cmd.xpending(
        keys.tasks,
        GROUP,
        "-",
        "+",
        intake.capacity() + entries.length,
        s.name,
      ) as [string, string, number, number][];
      const deliveries = new Map(pending.map((p) => [p[0], p[3]]));
      intake.take(entries, deliveries);
    } catch {
      // lost Redis: try again on the next tick
    }
  }
}
