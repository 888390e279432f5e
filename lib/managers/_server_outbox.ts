// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// How the server writes its replies into the slots: a reply that fits in
// one slot at once, a longer one frame by frame (REPLY_MORE, each after the
// client acknowledged the one before with REPLY_ACK). A reply is written
// only while its request still holds the slot (its thread may have ended
// and the slot been reclaimed). Imported by the server, its parking and its
// operations.
//
// Imports the table.

import {
  IDLE,
  REPLY,
  REPLY_MORE,
  S_STATE,
  S_TICKET,
  S_WAITING,
  SERVING,
  SLOT_DATA,
  slotWord,
  type Table,
  writeFrame,
} from "./_table.ts";

/** A reply being sent frame by frame. */
interface Outgoing {
  readonly ticket: number;
  readonly bytes: Uint8Array;
  sent: number;
}

/** The replies the server writes into the slots of one table. */
export class Outbox {
  readonly #t: Table;
  readonly #outgoing = new Map<number, Outgoing>();

  constructor(t: Table) {
    this.#t = t;
  }

  /** Sets slot `i`'s state, waking its client if it waits. */
  setState(i: number, state: number): void {
    const w = this.#t.w;
    Atomics.store(w, slotWord(i, S_STATE), state);
    if (Atomics.load(w, slotWord(i, S_WAITING)) !== 0) {
      Atomics.notify(w, slotWord(i, S_STATE));
    }
  }

  /** Writes the reply to the request `ticket` in slot `i`, unless the slot
   * moved on (its thread ended and the slot was reclaimed). */
  answer(i: number, ticket: number, reply: Uint8Array): void {
    const w = this.#t.w;
    if (
      Atomics.load(w, slotWord(i, S_TICKET)) !== ticket ||
      Atomics.load(w, slotWord(i, S_STATE)) !== SERVING
    ) {
      return;
    }
    if (reply.length <= SLOT_DATA) {
      writeFrame(this.#t, i, reply, reply.length);
      this.setState(i, REPLY);
      return;
    }
    this.#outgoing.set(i, { ticket, bytes: reply.slice(), sent: 0 });
    this.sendFrame(i);
  }

  /** Writes the next frame of slot `i`'s long reply. */
  sendFrame(i: number): void {
    const w = this.#t.w;
    const out = this.#outgoing.get(i);
    Atomics.store(w, slotWord(i, S_STATE), SERVING);
    if (
      out === undefined ||
      Atomics.load(w, slotWord(i, S_TICKET)) !== out.ticket
    ) {
      // No reply of this request is under way (another thread wrote into
      // the slot): drop it, so the slot is not scanned again.
      this.#outgoing.delete(i);
      Atomics.store(w, slotWord(i, S_STATE), IDLE);
      return;
    }
    const n = Math.min(SLOT_DATA, out.bytes.length - out.sent);
    writeFrame(
      this.#t,
      i,
      out.bytes.subarray(out.sent, out.sent + n),
      out.bytes.length,
    );
    out.sent += n;
    const done = out.sent >= out.bytes.length;
    if (done) this.#outgoing.delete(i);
    this.setState(i, done ? REPLY : REPLY_MORE);
  }

  /** Forgets slot `i`'s reply under way (its thread ended). */
  drop(i: number): void {
    this.#outgoing.delete(i);
  }
}
