// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// How the server takes the requests out of the slots: each frame is copied
// out of shared memory after its lengths are checked against the slot and
// MAX_MESSAGE; a request sent in frames (MORE, then REQUEST for the last)
// is kept as the frames that arrived, never as an allocation of a size read
// from the table, and all partial requests together stay within one
// largest message. Imported by the server.
//
// Imports the table.

import {
  copyOut,
  MAX_MESSAGE,
  S_LEN,
  S_TOTAL,
  SLOT_DATA,
  slotData,
  slotWord,
  type Table,
} from "./_table.ts";

/** A request's frames received so far. */
interface Partial {
  readonly total: number;
  readonly frames: Uint8Array[];
  got: number;
}

/** The requests, whole or in part, in the slots of one table. */
export class Inbox {
  readonly #t: Table;
  readonly #partials = new Map<number, Partial>();
  #partialBytes = 0;

  constructor(t: Table) {
    this.#t = t;
  }

  /** Keeps slot `i`'s MORE frame; what is wrong with it, if anything. */
  more(i: number): string | undefined {
    const frame = this.#frame(i);
    if (typeof frame === "string") {
      this.drop(i);
      return frame;
    }
    return this.#keep(i, frame.bytes, frame.total);
  }

  /** The whole request of slot `i`, whose last (or only) frame is in; or
   * what is wrong with it. */
  last(i: number): Uint8Array | string {
    const frame = this.#frame(i);
    if (typeof frame === "string") {
      this.drop(i);
      return frame;
    }
    const bytes = frame.bytes;
    if (!this.#partials.has(i)) {
      if (bytes.length !== frame.total) {
        return `${bytes.length} of ${frame.total} bytes`;
      }
      return bytes;
    }
    const error = this.#keep(i, bytes, frame.total);
    if (error !== undefined) return error;
    const p = this.#partials.get(i)!;
    this.drop(i);
    if (p.got !== p.total) return `${p.got} of ${p.total} bytes`;
    const whole = new Uint8Array(p.total);
    let at = 0;
    for (const f of p.frames) {
      whole.set(f, at);
      at += f.length;
    }
    return whole;
  }

  /** Forgets slot `i`'s partial request. */
  drop(i: number): void {
    const p = this.#partials.get(i);
    if (p === undefined) return;
    this.#partialBytes -= p.got;
    this.#partials.delete(i);
  }

  /** The frame in slot `i`, copied out of shared memory, or an error. */
  #frame(i: number): { bytes: Uint8Array; total: number } | string {
    const w = this.#t.w;
    const len = Atomics.load(w, slotWord(i, S_LEN));
    const total = Atomics.load(w, slotWord(i, S_TOTAL));
    if (len < 0 || len > SLOT_DATA) return `a frame of ${len} bytes`;
    if (total < len || total > MAX_MESSAGE) {
      return `a message of ${total} bytes`;
    }
    const at = slotData(i);
    return { bytes: copyOut(this.#t.b, at, len), total };
  }

  /** Adds a frame to slot `i`'s partial message; an error, if any. */
  #keep(i: number, bytes: Uint8Array, total: number): string | undefined {
    let p = this.#partials.get(i);
    if (p === undefined) {
      p = { total, frames: [], got: 0 };
      this.#partials.set(i, p);
    }
    if (p.total !== total || p.got + bytes.length > total) {
      this.drop(i);
      return `frames that do not add up to ${total} bytes`;
    }
    // All partial messages together stay within one largest message.
    if (this.#partialBytes + bytes.length > MAX_MESSAGE) {
      this.drop(i);
      return `more than ${MAX_MESSAGE} bytes in partial messages`;
    }
    p.frames.push(bytes);
    p.got += bytes.length;
    this.#partialBytes += bytes.length;
    return undefined;
  }
}
