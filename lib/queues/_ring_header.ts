// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The header of a message ring (_ring.ts): its layout (the word indices and
// the record sizes, as the top of _ring.ts describes them), and the checks
// that report a ring broken: `lock` (a process ended holding the guard, or
// the ring was found corrupt before), `sane` (a header that no put or take
// leaves), `corrupt` and `headerOf` (marking it broken, with what was found).
//
// Imports lib/_shared/wait.ts (the guard) and lib/_messages.ts.

import { GUARD_BUSY, lockGuard, me, unlockGuard } from "../_shared/wait.ts";
import { messages } from "../_messages.ts";

/** The bytes of a word: a record's length, and the unit records align to. */
export const WORD = 4;
/** log2(WORD): a byte offset shifted right by it is a word index. */
export const WORD_SHIFT = 2;
/** The bits of a byte offset that must be 0 for it to be on a word. */
export const WORD_MASK = WORD - 1;
/** The smallest record: its length word and a payload of at least one byte
 * (the codec's tag), padded to a word. */
export const MIN_RECORD = 2 * WORD;

export const GUARD = 0;
export const HEAD = 1;
export const TAIL = 2;
export const USED = 3;
export const COUNT = 4;
export const CLOSED = 5;
export const READER_CLOSED = 6;
export const BROKEN = 7;
export const DATA = 8;
export const SPACE = 9;
export const GET_WAITERS = 10;
export const PUT_WAITERS = 11;
export const MAXSIZE = 12;
/** Items put and not yet marked done (JoinableQueue). */
export const UNFINISHED = 13;
/** The capacity in bytes, for readers of the raw buffer; the ring itself
 * trusts only the length of its own view. */
export const CAPACITY = 14;
/** The header's words: those above, and one spare. */
export const HEADER = 16;

/** The state of a ring: views of one SharedArrayBuffer. */
export interface Ring {
  /** Header words. */
  readonly h: Int32Array;
  /** The record area, as bytes. */
  readonly d: Uint8Array;
  /** The record area, as words (record lengths). */
  readonly w: Int32Array;
}

/** BROKEN's value once the ring was found corrupt (a positive value is the
 * pid of a process that ended holding the guard). */
export const CORRUPT = -1;

/**
 * Takes the ring's guard: `true` when taken, `false` when it stayed held for
 * a whole slice (then wait with `waitGuard` and try again).
 *
 * @throws {Error} when the ring is broken; the guard is then free.
 */
export function lock(r: Ring, what: string): boolean {
  const h = r.h;
  const dead = lockGuard(h, GUARD, me());
  if (dead === GUARD_BUSY) return false;
  if (dead !== 0) Atomics.store(h, BROKEN, dead);
  const broken = Atomics.load(h, BROKEN);
  if (broken !== 0) {
    unlockGuard(h, GUARD);
    throw new Error(
      broken > 0
        ? messages.ringBroken(what, broken)
        : messages.ringCorrupt(what),
    );
  }
  return true;
}

/**
 * Whether a header is one that puts and takes can leave: head and tail on
 * words inside the buffer, `used` bytes from head to tail (modulo the
 * capacity: with both in range, tail - head - used is 0 or -cap), and
 * `count` records of at least MIN_RECORD bytes in them.
 */
export function sane(
  cap: number,
  head: number,
  tail: number,
  used: number,
  count: number,
): boolean {
  const gap = tail - head - used;
  return head >= 0 && head < cap && tail >= 0 && tail < cap &&
    ((head | tail) & WORD_MASK) === 0 &&
    used >= 0 && used <= cap && (gap === 0 || gap === -cap) &&
    count >= 0 && count * MIN_RECORD <= used && (count === 0) === (used === 0);
}

/** Marks the ring (whose guard the caller holds) broken: what it found is
 * garbage. Returns the error to throw. */
export function corrupt(r: Ring, what: string, found: string): Error {
  Atomics.store(r.h, BROKEN, CORRUPT);
  return new Error(messages.ringCorrupt(what, found));
}

/** What a header holds, for the message of a corrupt ring. */
export function headerOf(r: Ring): string {
  const h = r.h;
  return messages.ringHeader(
    h[HEAD]!,
    h[TAIL]!,
    h[USED]!,
    h[COUNT]!,
    r.d.length,
  );
}
