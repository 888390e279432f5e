// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The slots of the shared table that one thread's client holds: a request
// takes a free slot (compare-and-swap of its OWNER word from 0 to the
// thread's pid, growing the table when all are taken), and gives it back
// once its reply is read. The thread keeps up to KEEP_SLOTS slots between
// requests, so the usual request takes none. Imported by the client.
//
// Imports the table.

import {
  growTable,
  IDLE,
  S_OWNER,
  S_STATE,
  slotCount,
  slotWord,
  type Table,
} from "./_table.ts";

/** Idle slots a thread keeps for its next requests. */
const KEEP_SLOTS = 2;

/** The slots of one table that one thread holds. */
export class SlotPool {
  readonly #t: Table;
  readonly #pid: number;
  readonly #free: number[] = [];
  #hint = 0;

  constructor(t: Table, pid: number) {
    this.#t = t;
    this.#pid = pid;
  }

  /** A slot for this thread, or -1 when all are taken. */
  take(): number {
    const t = this.#t;
    const mine = this.#free.pop();
    if (mine !== undefined) return mine;
    for (;;) {
      const n = slotCount(t);
      for (let k = 0; k < n; k++) {
        const i = (this.#hint + k) % n;
        if (
          Atomics.load(t.w, slotWord(i, S_OWNER)) === 0 &&
          Atomics.compareExchange(t.w, slotWord(i, S_OWNER), 0, this.#pid) ===
            0
        ) {
          this.#hint = i + 1;
          Atomics.store(t.w, slotWord(i, S_STATE), IDLE);
          return i;
        }
      }
      if (!growTable(t, n)) return -1;
    }
  }

  /** Gives back a slot whose reply was read. */
  release(slot: number): void {
    const t = this.#t;
    Atomics.store(t.w, slotWord(slot, S_STATE), IDLE);
    if (this.#free.length < KEEP_SLOTS) this.#free.push(slot);
    else Atomics.store(t.w, slotWord(slot, S_OWNER), 0);
  }
}
