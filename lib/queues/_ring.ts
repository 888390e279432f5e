// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// A message ring on one SharedArrayBuffer: the body of Queue, SimpleQueue and
// each direction of a Pipe. Imported by both sides.
//
// Layout: HEADER Int32 words, then `capacity` bytes of records. A record is
// its byte length (one aligned Int32 word) and the bytes, padded to a whole
// word, wrapping at the end of the buffer. A guard word (the pid of the
// process inside) serialises every change; it is held only for a few
// synchronous statements. Waiters wait on two sequence words, DATA (bumped
// by each put and by close) and SPACE (bumped by each take), which they read
// under the guard; a waiter counts itself in GET_WAITERS / PUT_WAITERS, so
// that nobody notifies when nobody waits.
//
// Imports its codec, lib/_shared/wait.ts and lib/_messages.ts.

import { extract } from "./_codec.ts";
import { lockGuard, me, unlockGuard, waitWord } from "../_shared/wait.ts";
import { messages } from "../_messages.ts";

/** The bytes of a word: a record's length, and the unit records align to. */
const WORD = 4;
/** log2(WORD): a byte offset shifted right by it is a word index. */
const WORD_SHIFT = 2;

const GUARD = 0;
const HEAD = 1;
const TAIL = 2;
const USED = 3;
const COUNT = 4;
const CLOSED = 5;
const READER_CLOSED = 6;
const BROKEN = 7;
const DATA = 8;
const SPACE = 9;
const GET_WAITERS = 10;
const PUT_WAITERS = 11;
const MAXSIZE = 12;
/** Items put and not yet marked done (JoinableQueue). */
export const UNFINISHED = 13;
const CAPACITY = 14;
/** The header's words: those above, and one spare. */
const HEADER = 16;

/** The state of a ring: views of one SharedArrayBuffer. */
export interface Ring {
  /** Header words. */
  readonly h: Int32Array;
  /** The record area, as bytes. */
  readonly d: Uint8Array;
  /** The record area, as words (record lengths). */
  readonly w: Int32Array;
}

/** Outcome codes of a put or a take. */
export const OK = 0;
/** No room (or `maxsize` items already). */
export const FULL = 1;
/** Nothing to take. */
export const EMPTY = 2;
/** The writers closed the ring (put refused; take: closed and empty). */
export const CLOSED_CODE = 3;
/** The reader closed the ring: puts are refused. */
export const READER_GONE = 4;
/** (Internal) The caller must wait: `seen` holds the word to wait on. */
const WAIT = 5;

/** The smallest capacity a ring takes, in bytes. */
export const MIN_CAPACITY = 64;
/** The largest capacity a ring takes, in bytes (1 GiB). */
export const MAX_CAPACITY = 2 ** 30;
/** The largest `maxsize` a ring takes: its header word is an Int32. */
export const MAX_MAXSIZE = 2 ** 31 - 1;

/** Makes a ring of `capacity` bytes (rounded up to a whole word). */
export function createRing(capacity: number, maxsize = 0): Ring {
  const cap = Math.ceil(capacity / WORD) * WORD;
  const sab = new SharedArrayBuffer(HEADER * WORD + cap);
  const h = new Int32Array(sab, 0, HEADER);
  h[CAPACITY] = cap;
  h[MAXSIZE] = maxsize;
  return {
    h,
    d: new Uint8Array(sab, HEADER * WORD, cap),
    w: new Int32Array(sab, HEADER * WORD, cap / WORD),
  };
}

/** The bytes a record of `n` payload bytes takes: its length word, then the
 * payload padded to a whole word. */
function recordSize(n: number): number {
  return WORD + ((n + WORD - 1) & -WORD);
}

/** Whether a payload of `n` bytes can ever fit. */
export function fits(r: Ring, n: number): boolean {
  return recordSize(n) <= r.h[CAPACITY]!;
}

/** The capacity in bytes. */
export function capacity(r: Ring): number {
  return r.h[CAPACITY]!;
}

/** The `maxsize` (0: only bytes bound it). */
export function maxsize(r: Ring): number {
  return r.h[MAXSIZE]!;
}

function lock(r: Ring, what: string): void {
  const h = r.h;
  const dead = lockGuard(h, GUARD, me());
  if (dead !== 0) Atomics.store(h, BROKEN, dead);
  const broken = Atomics.load(h, BROKEN);
  if (broken !== 0) {
    unlockGuard(h, GUARD);
    throw new Error(messages.ringBroken(what, broken));
  }
}

// The sequence value a waiter read under the guard (set by `tryPut` and
// `tryTake` when they return WAIT).
let seen = 0;

function tryPut(r: Ring, bytes: Uint8Array, wait: boolean, what: string) {
  const h = r.h;
  const len = bytes.length;
  const rec = recordSize(len);
  let wake = false;
  lock(r, what);
  try {
    if (h[CLOSED] !== 0) return CLOSED_CODE;
    if (h[READER_CLOSED] !== 0) return READER_GONE;
    const count = h[COUNT]!;
    const max = h[MAXSIZE]!;
    const cap = h[CAPACITY]!;
    if ((max > 0 && count >= max) || cap - h[USED]! < rec) {
      if (!wait) return FULL;
      Atomics.add(h, PUT_WAITERS, 1);
      seen = Atomics.load(h, SPACE);
      return WAIT;
    }
    let tail = h[TAIL]!;
    r.w[tail >> WORD_SHIFT] = len;
    let at = tail + WORD;
    if (at === cap) at = 0;
    const first = cap - at;
    if (len <= first) {
      r.d.set(bytes, at);
    } else {
      r.d.set(bytes.subarray(0, first), at);
      r.d.set(bytes.subarray(first), 0);
    }
    tail += rec;
    if (tail >= cap) tail -= cap;
    h[TAIL] = tail;
    h[USED] = h[USED]! + rec;
    Atomics.store(h, COUNT, count + 1);
    Atomics.add(h, UNFINISHED, 1);
    Atomics.add(h, DATA, 1);
    wake = Atomics.load(h, GET_WAITERS) > 0;
    return OK;
  } finally {
    unlockGuard(h, GUARD);
    if (wake) Atomics.notify(h, DATA, 1);
  }
}

// What the last successful `tryTake` took.
let taken: string | Uint8Array = "";

function tryTake(r: Ring, wait: boolean, what: string) {
  const h = r.h;
  let wake = false;
  lock(r, what);
  try {
    if (h[READER_CLOSED] !== 0) return READER_GONE;
    const count = h[COUNT]!;
    if (count === 0) {
      if (h[CLOSED] !== 0) return CLOSED_CODE;
      if (!wait) return EMPTY;
      Atomics.add(h, GET_WAITERS, 1);
      seen = Atomics.load(h, DATA);
      return WAIT;
    }
    const cap = h[CAPACITY]!;
    let head = h[HEAD]!;
    const len = r.w[head >> WORD_SHIFT]!;
    let at = head + WORD;
    if (at === cap) at = 0;
    taken = extract(r.d, at, len);
    const rec = recordSize(len);
    head += rec;
    if (head >= cap) head -= cap;
    h[HEAD] = head;
    h[USED] = h[USED]! - rec;
    Atomics.store(h, COUNT, count - 1);
    Atomics.add(h, SPACE, 1);
    wake = Atomics.load(h, PUT_WAITERS) > 0;
    return OK;
  } finally {
    unlockGuard(h, GUARD);
    // Freed room may fit several waiting puts, of any size: wake them all.
    if (wake) Atomics.notify(h, SPACE);
  }
}

/**
 * Puts `bytes`, waiting for room until `deadline` (`-Infinity`: do not
 * wait). Resolves OK, FULL (timed out or no wait), CLOSED_CODE or
 * READER_GONE.
 */
export function put(
  r: Ring,
  bytes: Uint8Array,
  deadline: number,
  what: string,
): number | Promise<number> {
  const code = tryPut(r, bytes, deadline > performance.now(), what);
  // `bytes` may be the codec's scratch buffer: keep a copy while waiting.
  return code === WAIT ? putSlow(r, bytes.slice(), deadline, what) : code;
}

async function putSlow(
  r: Ring,
  bytes: Uint8Array,
  deadline: number,
  what: string,
): Promise<number> {
  for (;;) {
    try {
      await waitWord(r.h, SPACE, seen, deadline);
    } finally {
      Atomics.sub(r.h, PUT_WAITERS, 1);
    }
    const code = tryPut(r, bytes, deadline > performance.now(), what);
    if (code !== WAIT) return code;
  }
}

/**
 * Takes the next record, waiting until `deadline` (`-Infinity`: do not
 * wait). Gives what `extract` took (for `decode`), or EMPTY (timed out or
 * no wait), CLOSED_CODE (closed and empty) or READER_GONE.
 */
export function take(
  r: Ring,
  deadline: number,
  what: string,
): string | Uint8Array | number | Promise<string | Uint8Array | number> {
  const code = tryTake(r, deadline > performance.now(), what);
  if (code === OK) return taken;
  return code === WAIT ? takeSlow(r, deadline, what) : code;
}

async function takeSlow(
  r: Ring,
  deadline: number,
  what: string,
): Promise<string | Uint8Array | number> {
  for (;;) {
    try {
      await waitWord(r.h, DATA, seen, deadline);
    } finally {
      Atomics.sub(r.h, GET_WAITERS, 1);
    }
    const code = tryTake(r, deadline > performance.now(), what);
    if (code === OK) return taken;
    if (code !== WAIT) return code;
  }
}

/**
 * Waits until a record can be taken or the ring is closed (true), or the
 * deadline passes (false).
 */
export async function waitReadable(
  r: Ring,
  deadline: number,
  what: string,
): Promise<boolean> {
  const h = r.h;
  for (;;) {
    lock(r, what);
    let wait = false;
    try {
      if (h[COUNT] !== 0 || h[CLOSED] !== 0 || h[READER_CLOSED] !== 0) {
        return true;
      }
      if (deadline <= performance.now()) return false;
      Atomics.add(h, GET_WAITERS, 1);
      seen = Atomics.load(h, DATA);
      wait = true;
    } finally {
      unlockGuard(h, GUARD);
    }
    if (wait) {
      try {
        await waitWord(h, DATA, seen, deadline);
      } finally {
        Atomics.sub(h, GET_WAITERS, 1);
      }
    }
  }
}

/** Closes the writing side: puts are refused; takes drain, then end. */
export function closeWriters(r: Ring, what: string): void {
  setFlag(r, CLOSED, what);
}

/** Closes the reading side: puts are refused. */
export function closeReader(r: Ring, what: string): void {
  setFlag(r, READER_CLOSED, what);
}

function setFlag(r: Ring, flag: number, what: string): void {
  const h = r.h;
  lock(r, what);
  try {
    Atomics.store(h, flag, 1);
    Atomics.add(h, DATA, 1);
    Atomics.add(h, SPACE, 1);
  } finally {
    unlockGuard(h, GUARD);
  }
  Atomics.notify(h, DATA);
  Atomics.notify(h, SPACE);
}

/** The number of records in the ring. */
export function size(r: Ring): number {
  return Atomics.load(r.h, COUNT);
}
