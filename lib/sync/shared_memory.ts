// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { registerShareable, revive } from "../_shared/shareable.ts";
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

type AnyTyped =
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

interface TypedCtor {
  new (buffer: SharedArrayBuffer, offset?: number, length?: number): AnyTyped;
  readonly BYTES_PER_ELEMENT: number;
}

const CTORS: Record<Typecode, TypedCtor> = {
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

function ctorOf(typecode: unknown): TypedCtor {
  if (typeof typecode !== "string" || !Object.hasOwn(CTORS, typecode)) {
    throw new TypeError(messages.badTypecode(typecode));
  }
  return CTORS[typecode as Typecode];
}

function isBig(typecode: string): boolean {
  return typecode === "q" || typecode === "Q";
}

function isFloat(typecode: string): boolean {
  return typecode === "f" || typecode === "d";
}

/** Checks that `value` fits typecode `t`; integers wrap as in C. */
function checkElement(t: string, value: unknown): void {
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

function makeLock(
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

function lockOf(
  lock: Lock | RLock | null,
  what: string,
): Lock | RLock {
  if (lock === null) throw new Error(messages.noLock(what));
  return revive(lock);
}

/**
 * One number in shared memory, as Python's `multiprocessing.Value`: every
 * process that has it reads and writes the same `value`. Pass it in
 * `Process` args or pool task arguments.
 *
 * For integer typecodes, reading and writing `value` is one atomic
 * operation (lock-free), but `v.value += 1` is a read then a write: hold
 * `getLock()` around it, as in Python. For `f` and `d`, reads and writes
 * are plain memory accesses: hold the lock when another process may write
 * at the same time.
 *
 * @typeParam C The typecode.
 *
 * @example A counter two processes increment
 * ```ts no-eval
 * import { Process, Value } from "@parallel/multiprocessing";
 *
 * export async function count(counter: Value<"i">) {
 *   for (let i = 0; i < 1000; i++) {
 *     using _held = await counter.getLock().hold();
 *     counter.value += 1;
 *   }
 * }
 *
 * if (import.meta.main) {
 *   const counter = new Value("i", 0);
 *   const ps = [1, 2].map(() => new Process({ target: count, args: [counter] }));
 *   for (const p of ps) p.start();
 *   for (const p of ps) await p.join();
 *   console.log(counter.value); // 2000
 * }
 * ```
 *
 * @example In one process
 * ```ts
 * import { Value } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const v = new Value("d", 1.5);
 * v.value *= 2;
 * assert.equal(v.value, 3);
 * const big = new Value("q", 2n ** 40n, { lock: false });
 * assert.equal(big.value, 1099511627776n);
 * assert.throws(() => new Value("x" as "i", 0), TypeError);
 * ```
 */
export class Value<C extends Typecode = Typecode> {
  /** The class name, for workers to restore the prototype. @ignore */
  readonly $mp: string = "Value";
  /** The one-element typed array on shared memory. @ignore */
  readonly $data: TypedArrayOf<C>;
  /** The lock, or `null`. @ignore */
  readonly $lock: Lock | RLock | null;
  /** The typecode. */
  readonly typecode: C;

  /**
   * Makes a shared value.
   *
   * @param typecode One of `b B h H i I l L q Q f d`.
   * @param initial The first value: a `bigint` for `q`/`Q`, else a number
   * (an integer for integer typecodes). Default 0.
   * @param options `{ lock }`: `true` (default) for a new `RLock`, a lock to
   * use, or `false` for none.
   * @throws {TypeError} when `typecode` is not one of those, or `initial`
   * does not fit it.
   */
  constructor(
    typecode: C,
    initial?: ElementOf<C>,
    options?: SharedMemoryOptions,
  ) {
    const Ctor = ctorOf(typecode);
    this.typecode = typecode;
    const buffer = new SharedArrayBuffer(Ctor.BYTES_PER_ELEMENT);
    this.$data = new Ctor(buffer, 0, 1) as TypedArrayOf<C>;
    if (initial !== undefined) this.value = initial;
    this.$lock = makeLock(options?.lock, "Value");
  }

  /** The value: atomic for integer typecodes (see above). */
  get value(): ElementOf<C> {
    const t = this.typecode;
    return (isFloat(t) ? this.$data[0] : Atomics.load(
      this.$data as Int32Array,
      0,
    )) as ElementOf<C>;
  }
  set value(v: ElementOf<C>) {
    const t = this.typecode;
    checkElement(t, v);
    if (isFloat(t)) (this.$data as Float64Array)[0] = v as number;
    else Atomics.store(this.$data as Int32Array, 0, v as number);
  }

  /**
   * The lock that guards this value, as Python's `get_lock()`.
   *
   * @returns The lock (an `RLock` unless another was given).
   * @throws {Error} when the value was made with `lock: false`.
   */
  getLock(): Lock | RLock {
    return lockOf(this.$lock, "Value");
  }
}

registerShareable("Value", Value.prototype);

/**
 * A fixed-length array of numbers in shared memory, as Python's
 * `multiprocessing.Array`: every process that has it reads and writes the
 * same elements. Pass it in `Process` args or pool task arguments; nothing
 * is copied.
 *
 * `get(i)` and `set(i, v)` are single atomic operations for integer
 * typecodes (lock-free) and plain accesses for `f`/`d`; hold `getLock()`
 * around anything that reads then writes, as in Python.
 * `asTypedArray()` gives the underlying typed array for fast loops (plain
 * accesses, no bounds errors).
 *
 * @typeParam C The typecode.
 *
 * @example Share an array
 * ```ts
 * import { SharedArray } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const arr = new SharedArray("i", [1, 2, 3]);
 * arr.set(0, 10);
 * assert.equal(arr.get(0), 10);
 * assert.equal(arr.length, 3);
 * assert.deepEqual([...arr], [10, 2, 3]);
 * assert.deepEqual(arr.toArray(), [10, 2, 3]);
 * const zeros = new SharedArray("d", 4);
 * assert.equal(zeros.asTypedArray().reduce((a, b) => a + b, 0), 0);
 * assert.throws(() => arr.get(3), RangeError);
 * ```
 */
export class SharedArray<C extends Typecode = Typecode>
  implements Iterable<ElementOf<C>> {
  /** The class name, for workers to restore the prototype. @ignore */
  readonly $mp: string = "SharedArray";
  /** The typed array on shared memory. @ignore */
  readonly $data: TypedArrayOf<C>;
  /** The lock, or `null`. @ignore */
  readonly $lock: Lock | RLock | null;
  /** The typecode. */
  readonly typecode: C;

  /**
   * Makes a shared array.
   *
   * @param typecode One of `b B h H i I l L q Q f d`.
   * @param sizeOrValues The length (elements start at 0), or the values.
   * @param options `{ lock }`: `true` (default) for a new `RLock`, a lock to
   * use, or `false` for none.
   * @throws {TypeError} when `typecode` is not one of those, or a value
   * does not fit it.
   * @throws {RangeError} when the length is not an integer of 0 or more.
   */
  constructor(
    typecode: C,
    sizeOrValues: number | Iterable<ElementOf<C>>,
    options?: SharedMemoryOptions,
  ) {
    const Ctor = ctorOf(typecode);
    this.typecode = typecode;
    const values = typeof sizeOrValues === "number"
      ? null
      : Array.from(sizeOrValues);
    const length = values === null ? sizeOrValues as number : values.length;
    if (!Number.isInteger(length) || length < 0) {
      throw new RangeError(
        messages.badOption("array size", "an integer of 0 or more", length),
      );
    }
    this.$data = new Ctor(
      new SharedArrayBuffer(Ctor.BYTES_PER_ELEMENT * length),
      0,
      length,
    ) as TypedArrayOf<C>;
    if (values !== null) {
      for (let i = 0; i < length; i++) {
        checkElement(typecode, values[i]);
        (this.$data as Float64Array)[i] = values[i] as number;
      }
    }
    this.$lock = makeLock(options?.lock, "SharedArray");
  }

  /** The number of elements. */
  get length(): number {
    return this.$data.length;
  }

  /**
   * Reads element `index`.
   *
   * @param index From 0 to `length - 1`.
   * @returns The element.
   * @throws {RangeError} when `index` is out of range.
   */
  get(index: number): ElementOf<C> {
    const d = this.$data;
    if (!(Number.isInteger(index) && index >= 0 && index < d.length)) {
      throw new RangeError(messages.badIndex(index, d.length));
    }
    return (isFloat(this.typecode)
      ? d[index]
      : Atomics.load(d as Int32Array, index)) as ElementOf<C>;
  }

  /**
   * Writes element `index`.
   *
   * @param index From 0 to `length - 1`.
   * @param value A `bigint` for `q`/`Q`, else a number (an integer for
   * integer typecodes; out-of-range integers wrap, as in C).
   * @throws {RangeError} when `index` is out of range.
   * @throws {TypeError} when `value` does not fit the typecode.
   */
  set(index: number, value: ElementOf<C>): void {
    const d = this.$data;
    if (!(Number.isInteger(index) && index >= 0 && index < d.length)) {
      throw new RangeError(messages.badIndex(index, d.length));
    }
    const t = this.typecode;
    checkElement(t, value);
    if (isFloat(t)) (d as Float64Array)[index] = value as number;
    else Atomics.store(d as Int32Array, index, value as number);
  }

  /**
   * The elements, copied into a plain array (Python's `arr[:]`).
   *
   * @returns A new array.
   */
  toArray(): ElementOf<C>[] {
    return Array.from(this.$data as unknown as ArrayLike<ElementOf<C>>);
  }

  /**
   * The typed array on the shared memory itself: writes to it are seen by
   * every process. Plain (not atomic) accesses.
   *
   * @returns The live typed array.
   */
  asTypedArray(): TypedArrayOf<C> {
    return this.$data;
  }

  /**
   * The lock that guards this array, as Python's `get_lock()`.
   *
   * @returns The lock (an `RLock` unless another was given).
   * @throws {Error} when the array was made with `lock: false`.
   */
  getLock(): Lock | RLock {
    return lockOf(this.$lock, "SharedArray");
  }

  /**
   * Iterates over the elements.
   *
   * @returns An iterator of the elements.
   */
  *[Symbol.iterator](): IterableIterator<ElementOf<C>> {
    const n = this.$data.length;
    for (let i = 0; i < n; i++) yield this.get(i);
  }
}

registerShareable("SharedArray", SharedArray.prototype);
