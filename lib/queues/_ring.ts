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
// under the guard, then look at the closing flags once more; a waiter counts
// itself in GET_WAITERS / PUT_WAITERS, so that nobody notifies when nobody
// waits. Closing sets a flag and bumps both sequence words without the
// guard: a waiter that missed the flag read the sequence word before the
// bump, so its wait ends at once.
//
// Any process that was handed the ring can write anything into it. So a
// guard held longer than a slice is waited for asynchronously (see
// lib/_shared/wait.ts), the capacity is the length of this process's own view
// (never the header's word), and a header or record length that no operation
// writes marks the ring broken (BROKEN = CORRUPT) before anything is read or
// allocated from it.
//
// Imports its codec, its header (_ring_header.ts: the layout, and the checks
// that report a ring broken), lib/_shared/wait.ts and lib/_messages.ts.

import { extract } from "./_codec.ts";
import { unlockGuard, waitGuard, waitWord } from "../_shared/wait.ts";
import { messages } from "../_messages.ts";
import { sharedBuffer } from "../_shared/alloc.ts";
import {
  CAPACITY,
  CLOSED,
  corrupt,
  COUNT,
  DATA,
  GET_WAITERS,
  GUARD,
  HEAD,
  HEADER,
  headerOf,
  lock,
  MAXSIZE,
  PUT_WAITERS,
  READER_CLOSED,
  type Ring,
  sane,
  SPACE,
  TAIL,
  UNFINISHED,
  USED,
  WORD,
  WORD_SHIFT,
} from "./_ring_header.ts";

export type { Ring } from "./_ring_header.ts";
/** Items put and not yet marked done (JoinableQueue). */
export { UNFINISHED } from "./_ring_header.ts";

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
/** (Internal) The guard stayed held for a whole slice: the caller must wait
 * for it asynchronously, then try again. */
const BUSY = 6;

/** The smallest capacity a ring takes, in bytes. */
export const MIN_CAPACITY = 64;
/** The largest capacity a ring takes, in bytes (1 GiB). */
export const MAX_CAPACITY = 2 ** 30;
/** The largest `maxsize` a ring takes: its header word is an Int32. */
export const MAX_MAXSIZE = 2 ** 31 - 1;

/** Makes a ring of `capacity` bytes (rounded up to a whole word). */
export function createRing(capacity: number, maxsize = 0): Ring {
  const cap = Math.ceil(capacity / WORD) * WORD;
  const sab = sharedBuffer(
    HEADER * WORD + cap,
    `a queue or pipe of ${cap} bytes`,
    'pass a smaller "capacityBytes"',
  );
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

/** Whether a payload of `n` bytes can ever fit. (The capacity is a whole
 * number of words, so this is `recordSize(n) <= capacity`, without the
 * overflow of `recordSize` near 2 ** 31.) */
export function fits(r: Ring, n: number): boolean {
  return n <= r.d.length - WORD;
}

/** The capacity in bytes. */
export function capacity(r: Ring): number {
  return r.d.length;
}

/** The `maxsize` (0: only bytes bound it). */
export function maxsize(r: Ring): number {
  return r.h[MAXSIZE]!;
}

// The sequence value a waiter read under the guard (set by `tryPut` and
// `tryTake` when they return WAIT).
let seen = 0;

function tryPut(r: Ring, bytes: Uint8Array, wait: boolean, what: string) {
  const h = r.h;
  const len = bytes.length;
  const rec = recordSize(len);
  let wake = false;
  if (!lock(r, what)) return wait ? BUSY : FULL;
  try {
    if (h[CLOSED] !== 0) return CLOSED_CODE;
    if (h[READER_CLOSED] !== 0) return READER_GONE;
    const count = h[COUNT]!;
    const max = h[MAXSIZE]!;
    const cap = r.d.length;
    const used = h[USED]!;
    let tail = h[TAIL]!;
    if (!sane(cap, h[HEAD]!, tail, used, count)) {
      throw corrupt(r, what, headerOf(r));
    }
    if ((max > 0 && count >= max) || cap - used < rec) {
      if (!wait) return FULL;
      // The flags again, after the sequence word: see the top of this file.
      seen = Atomics.load(h, SPACE);
      if (Atomics.load(h, CLOSED) !== 0) return CLOSED_CODE;
      if (Atomics.load(h, READER_CLOSED) !== 0) return READER_GONE;
      Atomics.add(h, PUT_WAITERS, 1);
      return WAIT;
    }
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
    h[USED] = used + rec;
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
  if (!lock(r, what)) return wait ? BUSY : EMPTY;
  try {
    if (h[READER_CLOSED] !== 0) return READER_GONE;
    const count = h[COUNT]!;
    if (count === 0) {
      if (h[CLOSED] !== 0) return CLOSED_CODE;
      if (!wait) return EMPTY;
      // The flags again, after the sequence word: see the top of this file.
      seen = Atomics.load(h, DATA);
      if (Atomics.load(h, READER_CLOSED) !== 0) return READER_GONE;
      if (Atomics.load(h, CLOSED) !== 0) return CLOSED_CODE;
      Atomics.add(h, GET_WAITERS, 1);
      return WAIT;
    }
    const cap = r.d.length;
    const used = h[USED]!;
    let head = h[HEAD]!;
    if (!sane(cap, head, h[TAIL]!, used, count)) {
      throw corrupt(r, what, headerOf(r));
    }
    // The record's length bounds what is read and allocated: it must lie
    // within the bytes in use.
    const len = r.w[head >> WORD_SHIFT]!;
    if (len < 1 || len > used - WORD) {
      throw corrupt(r, what, messages.ringLength(len, used));
    }
    let at = head + WORD;
    if (at === cap) at = 0;
    taken = extract(r.d, at, len);
    const rec = recordSize(len);
    head += rec;
    if (head >= cap) head -= cap;
    h[HEAD] = head;
    h[USED] = used - rec;
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
  if (code === WAIT || code === BUSY) {
    return putSlow(r, bytes.slice(), deadline, what, code);
  }
  return code;
}

async function putSlow(
  r: Ring,
  bytes: Uint8Array,
  deadline: number,
  what: string,
  code: number,
): Promise<number> {
  for (;;) {
    if (code === BUSY) {
      await waitGuard(r.h, GUARD, deadline);
    } else {
      try {
        await waitWord(r.h, SPACE, seen, deadline);
      } finally {
        Atomics.sub(r.h, PUT_WAITERS, 1);
      }
    }
    code = tryPut(r, bytes, deadline > performance.now(), what);
    if (code !== WAIT && code !== BUSY) return code;
  }
}

/**
 * Takes the next record, waiting until `deadline` (`-Infinity`: do not
 * wait). Gives what `extract` took (for `decode`), or EMPTY (timed out or
 * no wait), CLOSED_CODE (closed and empty) or READER_GONE.
 *
 * @throws {Error} when the ring is broken: a process ended in the middle of
 * an operation, or wrote garbage into it.
 */
export function take(
  r: Ring,
  deadline: number,
  what: string,
): string | Uint8Array | number | Promise<string | Uint8Array | number> {
  const code = tryTake(r, deadline > performance.now(), what);
  if (code === OK) return taken;
  return code === WAIT || code === BUSY
    ? takeSlow(r, deadline, what, code)
    : code;
}

async function takeSlow(
  r: Ring,
  deadline: number,
  what: string,
  code: number,
): Promise<string | Uint8Array | number> {
  for (;;) {
    if (code === BUSY) {
      await waitGuard(r.h, GUARD, deadline);
    } else {
      try {
        await waitWord(r.h, DATA, seen, deadline);
      } finally {
        Atomics.sub(r.h, GET_WAITERS, 1);
      }
    }
    code = tryTake(r, deadline > performance.now(), what);
    if (code === OK) return taken;
    if (code !== WAIT && code !== BUSY) return code;
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
    if (!lock(r, what)) {
      if (deadline <= performance.now()) return false;
      await waitGuard(h, GUARD, deadline);
      continue;
    }
    let wait = false;
    // Before the flags: see the top of this file.
    const data = Atomics.load(h, DATA);
    try {
      if (
        h[COUNT] !== 0 || Atomics.load(h, CLOSED) !== 0 ||
        Atomics.load(h, READER_CLOSED) !== 0
      ) {
        return true;
      }
      if (deadline <= performance.now()) return false;
      Atomics.add(h, GET_WAITERS, 1);
      wait = true;
    } finally {
      unlockGuard(h, GUARD);
    }
    if (wait) {
      try {
        await waitWord(h, DATA, data, deadline);
      } finally {
        Atomics.sub(h, GET_WAITERS, 1);
      }
    }
  }
}

/** Closes the writing side: puts are refused; takes drain, then end. */
export function closeWriters(r: Ring, _what?: string): void {
  setFlag(r, CLOSED);
}

/** Closes the reading side: puts are refused. */
export function closeReader(r: Ring, _what?: string): void {
  setFlag(r, READER_CLOSED);
}

// Without the guard, so that closing works whatever holds it: a waiter reads
// its sequence word before the flags, so it either sees the flag or waits on
// a word that this bump changes.
function setFlag(r: Ring, flag: number): void {
  const h = r.h;
  Atomics.store(h, flag, 1);
  Atomics.add(h, DATA, 1);
  Atomics.add(h, SPACE, 1);
  Atomics.notify(h, DATA);
  Atomics.notify(h, SPACE);
}

/** The number of records in the ring (0 when its word was trashed below). */
export function size(r: Ring): number {
  return Math.max(0, Atomics.load(r.h, COUNT));
}
