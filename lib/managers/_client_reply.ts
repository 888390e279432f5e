// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// How a client waits for the server's reply in its slot and reads it. Used
// by the client (_client.ts), one Replies per client.
//
// The wait goes in three steps:
// - first by spinning for up to SPIN_MS: the server answers a small request
//   in a few µs, a wake-up through the kernel costs 10-25 µs (a thread
//   whose spins keep running out, as when it shares a CPU with the server,
//   stops spinning until a probe finds that it pays again: see _spin.ts);
// - then, in a worker, by blocking in Atomics.wait for up to SYNC_WAIT_MS
//   (a worker may block, and this wakes faster than the event loop);
//   requests that may wait long (a lock's acquire(), a queue's get() or
//   put()) skip this step, so a worker's other tasks go on meanwhile;
// - then with Atomics.waitAsync, which never blocks: the only way on the
//   main thread, which must never block (its spin is bounded). Waits are
//   cut into slices of WAIT_SLICE_MS, after each of which the client checks
//   that the manager is still up, so a proxy of a manager that is gone
//   rejects, never hangs.
//
// A reply longer than a slot comes in frames: each is copied out and
// acknowledged (REPLY_ACK) before the server writes the next. Every length
// is checked, as another thread may have written into the slot.
//
// Imports the table, the client's slots, the spinner, lib/_shared/wait.ts
// and the message table.

import {
  copyOut,
  MAX_MESSAGE,
  MORE,
  REPLY,
  REPLY_ACK,
  REPLY_MORE,
  REQUEST,
  ringBell,
  S_LEN,
  S_STATE,
  S_TOTAL,
  S_WAITING,
  SERVING,
  SLOT_DATA,
  slotData,
  slotWord,
  type Table,
} from "./_table.ts";
import type { SlotPool } from "./_client_slots.ts";
import { SPIN_MS, Spinner } from "./_spin.ts";
import { held } from "../_shared/wait.ts";
import { messages } from "../_messages.ts";

/** How long (ms), in all, a worker blocks in Atomics.wait for a reply. */
const SYNC_WAIT_MS = 5;
/** The longest single wait (ms), after which the client checks that the
 * manager is still up. */
const WAIT_SLICE_MS = 50;

/** Waits for and reads the replies in the slots of one client. */
export class Replies {
  readonly #t: Table;
  readonly #slots: SlotPool;
  /** Whether this thread may block (a worker, not the main thread). */
  readonly #mayBlock: boolean;
  /** Why the manager cannot be used, or undefined while it is up. */
  readonly #down: (what: string) => Error | undefined;
  readonly #spinner = new Spinner();

  constructor(
    t: Table,
    slots: SlotPool,
    mayBlock: boolean,
    down: (what: string) => Error | undefined,
  ) {
    this.#t = t;
    this.#slots = slots;
    this.#mayBlock = mayBlock;
    this.#down = down;
  }

  /**
   * Spins (and, in a worker, blocks) while the slot's request is pending
   * (posted, or held by the server). Returns the state seen last.
   */
  settle(slot: number, long: boolean): number {
    const t = this.#t;
    const at = slotWord(slot, S_STATE);
    let state = this.#spinner.while(t.w, at, pending, SPIN_MS);
    if (!pending(state)) return state;
    if (!this.#mayBlock || long) return state;
    const end = performance.now() + SYNC_WAIT_MS;
    const waiting = slotWord(slot, S_WAITING);
    Atomics.add(t.w, waiting, 1);
    try {
      for (;;) {
        const left = end - performance.now();
        if (left <= 0 || this.#down("the manager") !== undefined) break;
        Atomics.wait(t.w, at, state, left);
        state = Atomics.load(t.w, at);
        if (!pending(state)) return state;
      }
    } finally {
      Atomics.sub(t.w, waiting, 1);
    }
    return state;
  }

  /** Waits (spinning first) while the slot's request is pending; rejects
   * when the manager goes down meanwhile. */
  async until(slot: number, long: boolean, what: string): Promise<number> {
    const t = this.#t;
    const at = slotWord(slot, S_STATE);
    const waiting = slotWord(slot, S_WAITING);
    let state = this.settle(slot, long);
    while (pending(state)) {
      const down = this.#down(what);
      if (down !== undefined) throw down;
      Atomics.add(t.w, waiting, 1);
      try {
        const r = Atomics.waitAsync(t.w, at, state, WAIT_SLICE_MS);
        if (r.async) await held(r.value);
      } finally {
        Atomics.sub(t.w, waiting, 1);
      }
      state = Atomics.load(t.w, at);
    }
    return state;
  }

  /** Reads the reply in the slot, waiting for each of its frames. */
  async read(slot: number, long: boolean, what: string): Promise<Uint8Array> {
    const t = this.#t;
    const frames: Uint8Array[] = [];
    for (;;) {
      const state = await this.until(slot, long, what);
      if (state === REPLY) return this.finish(slot, frames);
      const error = state === REPLY_MORE
        ? this.#take(slot, frames)
        : new Error(messages.managerCorrupt(`a slot in state ${state}`));
      if (error !== undefined) {
        this.#slots.release(slot);
        throw error;
      }
      Atomics.store(t.w, slotWord(slot, S_STATE), REPLY_ACK);
      ringBell(t);
    }
  }

  /** Copies the slot's reply frame into `frames`; an error when its
   * lengths are not a reply's (another thread wrote into the slot). */
  #take(slot: number, frames: Uint8Array[]): Error | undefined {
    const t = this.#t;
    const len = Atomics.load(t.w, slotWord(slot, S_LEN));
    const total = Atomics.load(t.w, slotWord(slot, S_TOTAL));
    let got = len;
    for (const f of frames) got += f.length;
    if (len < 0 || len > SLOT_DATA || total > MAX_MESSAGE || got > total) {
      return new Error(
        messages.managerCorrupt(`a frame of ${len} bytes of ${total}`),
      );
    }
    const at = slotData(slot);
    frames.push(copyOut(t.b, at, len));
    return undefined;
  }

  /** The last reply frame is in: the reply's bytes (the slot is given
   * back). */
  finish(slot: number, frames: Uint8Array[]): Uint8Array {
    const error = this.#take(slot, frames);
    const total = Atomics.load(this.#t.w, slotWord(slot, S_TOTAL));
    this.#slots.release(slot);
    if (error !== undefined) throw error;
    if (frames.length === 1) {
      if (frames[0]!.length !== total) {
        throw new Error(messages.managerCorrupt(`a short reply`));
      }
      return frames[0]!;
    }
    let got = 0;
    for (const f of frames) got += f.length;
    if (got !== total) {
      throw new Error(messages.managerCorrupt(`a short reply`));
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const f of frames) {
      out.set(f, at);
      at += f.length;
    }
    return out;
  }
}

/** Whether a slot in `state` waits for the server (the client posted, or
 * the server holds the request). */
function pending(state: number): boolean {
  return state === REQUEST || state === MORE || state === REPLY_ACK ||
    state === SERVING;
}
