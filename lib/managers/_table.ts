// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The shared table of a Manager: one growable SharedArrayBuffer through which
// every thread of the program reaches the manager's server thread. Imported
// by the client (every proxy holder) and the server.
//
// Layout: HEADER_BYTES of header words, then slots of SLOT_BYTES each. A slot
// is a mailbox for one request at a time: SLOT_HEADER_WORDS words, then
// SLOT_DATA bytes of frame. A thread takes a free slot (compare-and-swap of
// its OWNER word from 0 to its pid), writes its request, and sets STATE; the
// server answers in the same slot. A message longer than SLOT_DATA goes in
// frames, each acknowledged by the other side (MORE/ACK for a request,
// REPLY_MORE/REPLY_ACK for a reply). The table starts with INITIAL_SLOTS and
// grows (SharedArrayBuffer.prototype.grow, seen by every thread at once) up
// to MAX_SLOTS when every slot is taken.
//
// Any thread holding a proxy can write anything here, including a scoped
// worker running untrusted code: the server reads every word as hostile
// input (see _server_inbox.ts), and the slot count comes from the buffer's real
// length, never from a word.
//
// Imports nothing.

/** The bytes of a word. */
export const WORD = 4;

// ---- header words ----------------------------------------------------------
/** Bumped by each posted frame; the server sleeps on it. */
export const BELL = 0;
/** Nonzero once the manager is down: one of the DOWN_* codes. */
export const DOWN = 1;
/** 1 while the server sleeps on BELL (so a poster knows to notify it). */
export const SLEEPING = 2;
/** The ticket counter: requests of one scan are served in ticket order. */
export const TICKET = 3;
/** The next object id to hand out. */
export const NEXT_ID = 4;
/** The pid of the process (thread) that made the manager. */
export const OWNER_PID = 5;
/** The header's size in bytes (16 words). */
export const HEADER_BYTES = 64;

/** `DOWN` codes. */
export const DOWN_SHUTDOWN = 1;
/** The server thread ended without a shutdown (it crashed). */
export const DOWN_DIED = 2;
/** The process (thread) that made the manager ended, and its server with
 * it. */
export const DOWN_OWNER_ENDED = 3;

// ---- slot words -------------------------------------------------------------
/** The pid of the thread that holds the slot; 0 when free. */
export const S_OWNER = 0;
/** One of the states below. */
export const S_STATE = 1;
/** Bytes of the frame in the slot's data. */
export const S_LEN = 2;
/** Bytes of the whole message the frame belongs to. */
export const S_TOTAL = 3;
/** How many threads wait on S_STATE (so that a writer notifies only then). */
export const S_WAITING = 4;
/** The request's ticket (see TICKET). */
export const S_TICKET = 5;
/** The words of a slot's header. */
export const SLOT_HEADER_WORDS = 8;

/** The bytes of a slot: header and data. */
export const SLOT_BYTES = 16 * 1024;
/** The bytes of frame a slot carries. */
export const SLOT_DATA = SLOT_BYTES - SLOT_HEADER_WORDS * WORD;
/** The slots of a new table. */
export const INITIAL_SLOTS = 4;
/** The most slots a table grows to (16 MiB of address space). */
export const MAX_SLOTS = 1024;
/** The largest request or reply, in bytes (whatever its frames). */
export const MAX_MESSAGE = 256 * 1024 * 1024;

// ---- slot states ---------------------------------------------------------
/** The slot holds nothing for the server. */
export const IDLE = 0;
/** The client posted the last (or only) frame of a request. */
export const REQUEST = 1;
/** The client posted a frame with more to come; it waits for ACK. */
export const MORE = 2;
/** The server took a MORE frame: the client may write the next one. */
export const ACK = 3;
/** The server has the request (running, or parked until it can answer). */
export const SERVING = 4;
/** The server wrote the last (or only) frame of the reply. */
export const REPLY = 5;
/** The server wrote a frame of the reply with more to come. */
export const REPLY_MORE = 6;
/** The client took a REPLY_MORE frame: the server may write the next. */
export const REPLY_ACK = 7;

/**
 * Views of one table. They have a fixed length, remade by `refresh()` when
 * the table grew: atomics on a fixed-length view cost a third of those on a
 * view that tracks the buffer's length (Deno 2.9).
 */
export class Table {
  readonly sab: SharedArrayBuffer;
  /** Every word of the table, as it was at the last `refresh()`. */
  w: Int32Array;
  /** Every byte of the table, as it was at the last `refresh()`. */
  b: Uint8Array;
  /** How many slots the views hold. */
  slots = 0;
  #bytes = -1;

  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.w = new Int32Array(0);
    this.b = new Uint8Array(0);
    this.refresh();
  }

  /** Remakes the views if the table grew; returns its slot count. */
  refresh(): number {
    const bytes = this.sab.byteLength;
    if (bytes === this.#bytes) return this.slots;
    this.#bytes = bytes;
    this.w = new Int32Array(this.sab, 0, bytes >> 2);
    this.b = new Uint8Array(this.sab, 0, bytes);
    this.slots = Math.min(
      MAX_SLOTS,
      Math.floor((bytes - HEADER_BYTES) / SLOT_BYTES),
    );
    return this.slots;
  }
}

/** Makes a new, empty table. */
export function createTable(): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_BYTES + INITIAL_SLOTS * SLOT_BYTES, {
    maxByteLength: HEADER_BYTES + MAX_SLOTS * SLOT_BYTES,
  });
}

/** The views of table `sab`. */
export function tableOf(sab: SharedArrayBuffer): Table {
  return new Table(sab);
}

/** How many slots the table has now (from its real length, never from a
 * word another thread could have written). */
export function slotCount(t: Table): number {
  return t.refresh();
}

/** The word index of word `k` of slot `i`. */
export function slotWord(i: number, k: number): number {
  return (HEADER_BYTES + i * SLOT_BYTES) / WORD + k;
}

/** The byte offset of slot `i`'s data. */
export function slotData(i: number): number {
  return HEADER_BYTES + i * SLOT_BYTES + SLOT_HEADER_WORDS * WORD;
}

/**
 * Grows the table beyond `from` slots (doubling, up to MAX_SLOTS). Returns
 * whether it has more than `from` slots now: another thread may have grown
 * it meanwhile, which counts too. False when it is at its largest.
 */
export function growTable(t: Table, from: number): boolean {
  if (slotCount(t) > from) return true;
  if (from >= MAX_SLOTS) return false;
  const want = Math.min(MAX_SLOTS, Math.max(1, from * 2));
  try {
    t.sab.grow(HEADER_BYTES + want * SLOT_BYTES);
  } catch {
    // Another thread grew it meanwhile, to this size or more.
  }
  return slotCount(t) > from;
}

/** A copy of `len` bytes of the table from `at` (`set` is several times
 * faster than `slice` on shared memory). */
export function copyOut(b: Uint8Array, at: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  out.set(b.subarray(at, at + len));
  return out;
}

/** Writes `frame` (part of a message of `total` bytes) into slot `i`'s data
 * and its length words; the caller sets the slot's state after. Both sides
 * post frames this way: the client its requests, the server its replies. */
export function writeFrame(
  t: Table,
  i: number,
  frame: Uint8Array,
  total: number,
): void {
  t.b.set(frame, slotData(i));
  Atomics.store(t.w, slotWord(i, S_LEN), frame.length);
  Atomics.store(t.w, slotWord(i, S_TOTAL), total);
}

/** Rings the BELL, waking the server if it sleeps (a client posted). */
export function ringBell(t: Table): void {
  Atomics.add(t.w, BELL, 1);
  if (Atomics.load(t.w, SLEEPING) !== 0) Atomics.notify(t.w, BELL, 1);
}
