// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Python's typecodes for Value and SharedArray: the public types, and the
// checks and lock handling both classes share.

import { revive } from "../_shared/shareable.ts";
import { messages } from "../_messages.ts";
import { Lock } from "./lock.ts";
import { RLock } from "./rlock.ts";

/**
 * Python's typecodes for shared values and arrays: `b`/`B` 8-bit, `h`/`H`
 * 16-bit, `i`/`I` and `l`/`L` 32-bit, `q`/`Q` 64-bit signed/unsigned
 * integers (`q`/`Q` hold `bigint`), `f` 32-bit and `d` 64-bit floats.
 * `l`/`L` are 32-bit (C `long` on Windows, Python's minimum); use `q`/`Q`
 * for 64 bits.
 */
export type Typecode =
  | "b"
  | "B"
  | "h"
  | "H"
  | "i"
  | "I"
  | "l"
  | "L"
  | "q"
  | "Q"
  | "f"
  | "d";

/** What one element of typecode `C` holds: `bigint` for `q`/`Q`, else
 * `number`. */
export type ElementOf<C extends Typecode> = C extends "q" | "Q" ? bigint
  : number;

/** The typed array class behind typecode `C`. */
export type TypedArrayOf<C extends Typecode> = C extends "b" ? Int8Array
  : C extends "B" ? Uint8Array
  : C extends "h" ? Int16Array
  : C extends "H" ? Uint16Array
  : C extends "i" | "l" ? Int32Array
  : C extends "I" | "L" ? Uint32Array
  : C extends "q" ? BigInt64Array
  : C extends "Q" ? BigUint64Array
  : C extends "f" ? Float32Array
  : Float64Array;

/** The options of {@linkcode Value} and {@linkcode SharedArray}. */
export interface SharedMemoryOptions {
  /** `true` (the default) for a new `RLock`, a `Lock` or `RLock` to use,
   * or `false` for none. */
  lock?: boolean | Lock | RLock;
}

export type AnyTyped =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

export interface TypedCtor {
  new (buffer: SharedArrayBuffer, offset?: number, length?: number): AnyTyped;
  readonly BYTES_PER_ELEMENT: number;
}

export const CTORS: Record<Typecode, TypedCtor> = {
  b: Int8Array,
  B: Uint8Array,
  h: Int16Array,
  H: Uint16Array,
  i: Int32Array,
  I: Uint32Array,
  l: Int32Array,
  L: Uint32Array,
  q: BigInt64Array,
  Q: BigUint64Array,
  f: Float32Array,
  d: Float64Array,
};

export function ctorOf(typecode: unknown): TypedCtor {
  if (typeof typecode !== "string" || !Object.hasOwn(CTORS, typecode)) {
    throw new TypeError(messages.badTypecode(typecode));
  }
  return CTORS[typecode as Typecode];
}

export function isBig(typecode: string): boolean {
  return typecode === "q" || typecode === "Q";
}

export function isFloat(typecode: string): boolean {
  return typecode === "f" || typecode === "d";
}

/** Checks that `value` fits typecode `t`; integers wrap as in C. */
export function checkElement(t: string, value: unknown): void {
  if (isBig(t)) {
    if (typeof value !== "bigint") {
      throw new TypeError(messages.badElement(t, "a bigint", value));
    }
  } else if (isFloat(t)) {
    if (typeof value !== "number") {
      throw new TypeError(messages.badElement(t, "a number", value));
    }
  } else if (!Number.isInteger(value)) {
    throw new TypeError(messages.badElement(t, "an integer number", value));
  }
}

export function makeLock(
  lock: unknown,
  what: string,
): Lock | RLock | null {
  if (lock === undefined || lock === true) return new RLock();
  if (lock === false) return null;
  if (lock instanceof Lock || lock instanceof RLock) return lock;
  throw new TypeError(
    messages.badOption(
      `"lock" of ${what}`,
      "a boolean, a Lock or an RLock",
      lock,
    ),
  );
}

export function lockOf(
  lock: Lock | RLock | null,
  what: string,
): Lock | RLock {
  if (lock === null) throw new Error(messages.noLock(what));
  return revive(lock);
}
