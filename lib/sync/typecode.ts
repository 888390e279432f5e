// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Python's typecodes for Value and SharedArray: the public types, the one
// place that reads and writes an element of each typecode, the lock handling
// both classes share, and the end of their prototype chains that refuses new
// properties.

import { revive } from "../_shared/shareable.ts";
import { messages } from "../_messages.ts";
import { Lock } from "./lock.ts";
import { RLock } from "./rlock.ts";

/**
 * Python's typecodes for shared values and arrays: `b`/`B` 8-bit, `h`/`H`
 * 16-bit, `i`/`I` and `l`/`L` 32-bit, `q`/`Q` 64-bit signed/unsigned
 * integers (`q`/`Q` hold `bigint`), `f` 32-bit and `d` 64-bit floats, and
 * two character typecodes that hold one-character strings: `c` one byte
 * (a character code from 0 to 255) and `u` one UTF-16 code unit (Python's
 * `u` is a 4-byte `wchar_t` on Linux; ours is 2 bytes, as a JavaScript
 * string's units are). `l`/`L` are 32-bit (C `long` on Windows, Python's
 * minimum); use `q`/`Q` for 64 bits.
 */
export type Typecode =
  | "b"
  | "B"
  | "c"
  | "u"
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

/** What one element of typecode `C` holds: `bigint` for `q`/`Q`, a
 * one-character `string` for `c`/`u`, else `number`. */
export type ElementOf<C extends Typecode> = C extends "q" | "Q" ? bigint
  : C extends "c" | "u" ? string
  : number;

/** The typed array class behind typecode `C`. */
export type TypedArrayOf<C extends Typecode> = C extends "b" ? Int8Array
  : C extends "B" | "c" ? Uint8Array
  : C extends "h" ? Int16Array
  : C extends "H" | "u" ? Uint16Array
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
  c: Uint8Array,
  u: Uint16Array,
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

/** The largest character code of typecode `c` (one byte). */
const MAX_BYTE_CHAR = 0xff;

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

export function isChar(typecode: string): boolean {
  return typecode === "c" || typecode === "u";
}

/**
 * What typecode `t` stores for `value`: the value itself, or a character's
 * code for `c`/`u`. Integers wrap as in C when stored.
 *
 * @throws {TypeError} when `value` does not fit `t`.
 */
export function toRaw(t: string, value: unknown): number | bigint {
  if (isFloat(t)) {
    if (typeof value === "number") return value;
    throw new TypeError(messages.badElement(t, "a number", value));
  }
  if (isBig(t)) {
    if (typeof value === "bigint") return value;
    throw new TypeError(messages.badElement(t, "a bigint", value));
  }
  if (isChar(t)) {
    const code = typeof value === "string" && value.length === 1
      ? value.charCodeAt(0)
      : -1;
    if (code >= 0 && (t === "u" || code <= MAX_BYTE_CHAR)) return code;
    throw new TypeError(
      messages.badElement(
        t,
        t === "c"
          ? `a one-character string with a code from 0 to ${MAX_BYTE_CHAR}`
          : "a one-character string of one UTF-16 code unit",
        value,
      ),
    );
  }
  if (Number.isInteger(value)) return value as number;
  throw new TypeError(messages.badElement(t, "an integer number", value));
}

/**
 * Element `i` of `d`, whose typecode is `t`: one atomic load for the
 * integer and character typecodes, a plain read for `f` and `d`. The caller
 * checks `i`.
 */
export function load(t: string, d: AnyTyped, i: number): unknown {
  if (isFloat(t)) return d[i];
  const x = Atomics.load(d as Int32Array, i);
  return isChar(t) ? String.fromCharCode(x) : x;
}

/**
 * Writes `value` to element `i` of `d`, whose typecode is `t`: one atomic
 * store for the integer and character typecodes (integers wrap, as in C), a
 * plain write for `f` and `d` (a `f` rounds to 32 bits). The caller checks
 * `i`.
 *
 * @throws {TypeError} when `value` does not fit `t`.
 */
export function store(t: string, d: AnyTyped, i: number, value: unknown): void {
  const raw = toRaw(t, value);
  if (isFloat(t)) (d as Float64Array)[i] = raw as number;
  else Atomics.store(d as Int32Array, i, raw as number);
}

/** The elements `start` to `end` of `d` (typecode `t`), as a plain array:
 * plain reads, characters as strings. */
export function elements(
  t: string,
  d: AnyTyped,
  start = 0,
  end = d.length,
): unknown[] {
  const part = d.subarray(start, end) as ArrayLike<unknown>;
  return isChar(t)
    ? Array.from(part as ArrayLike<number>, (x) => String.fromCharCode(x))
    : Array.from(part);
}

/**
 * Ends the prototype chain of `proto` with a proxy, so that writing a
 * property that no object on the chain has throws a TypeError (from `set`),
 * also in code that is not strict and on instances that structured clone
 * re-created in a worker, which are extensible. Reads of such properties
 * give what `get` returns, or `undefined`.
 *
 * The proxy sits after the class's own prototype, so methods and accessors
 * are found before it is reached: it costs only the lookups that miss. Its
 * target is an empty object on the chain's old rest (`Object.prototype`),
 * which lookups that the traps pass on continue to, and which keeps
 * `instanceof Object` true.
 */
export function closeChain(
  proto: object,
  traps: Pick<ProxyHandler<object>, "get" | "set">,
): void {
  const rest = Object.getPrototypeOf(proto);
  Object.setPrototypeOf(proto, new Proxy(Object.create(rest), traps));
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
