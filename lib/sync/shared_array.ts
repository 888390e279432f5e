// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Python's `multiprocessing.Array`: numbers in shared memory.

import { registerShareable } from "../_shared/shareable.ts";
import { messages } from "../_messages.ts";
import type { Lock } from "./lock.ts";
import type { RLock } from "./rlock.ts";
import {
  checkElement,
  ctorOf,
  type ElementOf,
  isFloat,
  lockOf,
  makeLock,
  type SharedMemoryOptions,
  type Typecode,
  type TypedArrayOf,
} from "./typecode.ts";

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
  /**
   * The class name, for workers to restore the prototype.
   *
   * @ignore
   */
  readonly $mp: string = "SharedArray";
  /**
   * The typed array on shared memory.
   *
   * @ignore
   */
  readonly $data: TypedArrayOf<C>;
  /**
   * The lock, or `null`.
   *
   * @ignore
   */
  readonly $lock: Lock | RLock | null;
  /**
   * The typecode the array was made with, one of `b B h H i I l L q Q f d`
   * (see {@linkcode Typecode}). It fixes what each element holds (a
   * `bigint` for `q`/`Q`, else a number), the range integers wrap into, the
   * class `asTypedArray()` returns, and whether `get()` and `set()` are
   * atomic (integer typecodes) or plain memory accesses (`f`, `d`). It never
   * changes.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * const arr = new SharedArray("d", [0.5, 1.5]);
   * assert.equal(arr.typecode, "d");
   * assert.ok(arr.asTypedArray() instanceof Float64Array);
   * ```
   */
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
