// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Python's `multiprocessing.Array`: numbers (or characters) in shared memory,
// read and written by index.
//
// Indexing (`arr[i]`, `arr[i] = v`) goes through a proxy at the end of the
// prototype chain (closeChain in typecode.ts), not through a proxy around
// each array: a proxy cannot be structured-cloned, so it could not be passed
// to a worker, while a plain instance can, and the worker's copy, which gets
// its prototype back from `revive`, indexes through the same chain. Methods
// and `length` are found on the class's prototype before the proxy, so they
// cost what they cost before (a proxy per array made `get(i)` 6× slower).
// Measured against index accessors (defined on each array, or on a prototype
// per length), the chain's proxy costs ~1.5× per access (120–200 ns against
// 80–100) but nothing to create or keep: accessors took 3–9 µs per element
// to define, more per element as arrays grow (minutes for 10^7), and ~65
// bytes each. `bench/shared_bench.ts` prints the cost; `asTypedArray()` is
// the way for hot loops.

import { sharedBuffer } from "../_shared/alloc.ts";
import { registerShareable } from "../_shared/shareable.ts";
import { messages } from "../_messages.ts";
import type { Lock } from "./lock.ts";
import type { RLock } from "./rlock.ts";
import {
  closeChain,
  ctorOf,
  type ElementOf,
  elements,
  load,
  lockOf,
  makeLock,
  type SharedMemoryOptions,
  store,
  toRaw,
  type Typecode,
  type TypedArrayOf,
} from "./typecode.ts";

/**
 * A fixed-length array of numbers (or characters) in shared memory, as
 * Python's `multiprocessing.Array`: every process that has it reads and
 * writes the same elements. Pass it in `Process` args or pool task
 * arguments; nothing is copied.
 *
 * Read and write elements as in Python: `arr[i]`, `arr[i] = v`,
 * `arr.length`, `for (const x of arr)`, `arr.slice(a, b)` (Python's
 * `arr[a:b]`). An index outside `0 … length - 1` throws a `RangeError`
 * (negative indices do not count from the end, except in `slice()`), and
 * the array takes no new properties: `arr.size = 3` or `arr[1.5] = 0`
 * throws a `TypeError` instead of quietly adding a property that no other
 * process would see. `get(i)` and `set(i, v)` do the same as `arr[i]` and
 * `arr[i] = v`, faster: indexing costs 100–200 ns per access (it goes
 * through a proxy), `get(i)` about 10 ns, a read of `asTypedArray()` 1 ns.
 *
 * Each read or write of an element is a single atomic operation for
 * integer and character typecodes (lock-free) and a plain access for
 * `f`/`d`. `arr[i] += 1` is a read then a write: hold `getLock()` around it
 * when another process may write at the same time, as in Python.
 * `asTypedArray()` gives the underlying typed array for fast loops (plain
 * accesses, no bounds errors).
 *
 * @typeParam C The typecode.
 *
 * @example Index it as in Python
 * ```ts
 * import { SharedArray } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const arr = new SharedArray("i", [1, 2, 3]);
 * arr[0] = 10;
 * arr[1]! += 5; // the "!" is for noUncheckedIndexedAccess
 * assert.equal(arr[0], 10);
 * assert.equal(arr.length, 3);
 * assert.deepEqual([...arr], [10, 7, 3]);
 * assert.deepEqual(arr.slice(-2), [7, 3]);
 * assert.throws(() => arr[3], RangeError);
 * assert.throws(() => {
 *   (arr as unknown as { size: number }).size = 3;
 * }, TypeError);
 * ```
 *
 * @example Methods, characters and the typed array
 * ```ts
 * import { SharedArray } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const arr = new SharedArray("i", [1, 2, 3]);
 * arr.set(0, 10);
 * assert.equal(arr.get(0), 10);
 * assert.deepEqual(arr.toArray(), [10, 2, 3]);
 * const text = new SharedArray("u", "héllo");
 * text[0] = "H";
 * assert.equal(text.toArray().join(""), "Héllo");
 * const zeros = new SharedArray("d", 4);
 * assert.equal(zeros.asTypedArray().reduce((a, b) => a + b, 0), 0);
 * ```
 */
export class SharedArray<C extends Typecode = Typecode>
  implements Iterable<ElementOf<C>> {
  /**
   * Element `index` of the shared memory, read and written as `get(index)`
   * and `set(index, value)` do: a `RangeError` for an index outside
   * `0 … length - 1`, a `TypeError` for a value that does not fit the
   * typecode, integers wrapping as in C.
   */
  [index: number]: ElementOf<C>;
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
   * The typecode the array was made with, one of
   * `b B h H i I l L q Q f d c u` (see {@linkcode Typecode}). It fixes what
   * each element holds (a `bigint` for `q`/`Q`, a one-character string for
   * `c`/`u`, else a number), the range integers wrap into, the class
   * `asTypedArray()` returns, and whether element accesses are atomic
   * (integer and character typecodes) or plain memory accesses (`f`, `d`).
   * It never changes.
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
   * @param typecode One of `b B h H i I l L q Q f d c u`.
   * @param sizeOrValues The length (elements start at 0, or `"\0"` for
   * `c`/`u`), or the values (a string gives its characters).
   * @param options `{ lock }`: `true` (default) for a new `RLock`, a lock to
   * use, or `false` for none.
   * @throws {TypeError} when `typecode` is not one of those, or a value
   * does not fit it.
   * @throws {RangeError} when the length is not an integer of 0 or more,
   * or the system cannot give that much shared memory.
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
      sharedBuffer(
        Ctor.BYTES_PER_ELEMENT * length,
        `a SharedArray of ${length} "${typecode}" elements`,
        "ask for fewer elements, or a smaller typecode",
      ),
      0,
      length,
    ) as TypedArrayOf<C>;
    if (values !== null) {
      const d = this.$data as Float64Array;
      for (let i = 0; i < length; i++) {
        d[i] = toRaw(typecode, values[i]) as number;
      }
    }
    this.$lock = makeLock(options?.lock, "SharedArray");
    // No new properties: a mistaken `arr.size = 3` throws, as does writing
    // the fields. A subclass may still define its own fields.
    if (new.target === SharedArray) Object.freeze(this);
  }

  /** The number of elements. */
  get length(): number {
    return this.$data.length;
  }

  /**
   * Reads element `index`, as `arr[index]` does, faster.
   *
   * @param index From 0 to `length - 1`.
   * @returns The element.
   * @throws {TypeError} when `index` is not a number.
   * @throws {RangeError} when `index` is not an integer from 0 to
   * `length - 1`.
   */
  get(index: number): ElementOf<C> {
    const d = this.$data;
    return load(this.typecode, d, checkIndex(index, d.length)) as ElementOf<
      C
    >;
  }

  /**
   * Writes element `index`, as `arr[index] = value` does, faster.
   *
   * @param index From 0 to `length - 1`.
   * @param value A `bigint` for `q`/`Q`, a one-character string for `c`
   * (a code from 0 to 255) and `u` (one UTF-16 code unit), else a number (an
   * integer for integer typecodes; out-of-range integers wrap, as in C).
   * @throws {TypeError} when `index` is not a number, or `value` does not
   * fit the typecode.
   * @throws {RangeError} when `index` is not an integer from 0 to
   * `length - 1`.
   */
  set(index: number, value: ElementOf<C>): void {
    const d = this.$data;
    store(this.typecode, d, checkIndex(index, d.length), value);
  }

  /**
   * The elements from `start` up to (not including) `end`, copied into a
   * plain array: Python's `arr[start:end]`. As with `Array.prototype.slice`,
   * a negative index counts from the end, and indices past either end are
   * clamped.
   *
   * @param start The first index; default 0.
   * @param end The index after the last; default `length`.
   * @returns A new array.
   * @throws {TypeError} when `start` or `end` is given and not a number.
   * @throws {RangeError} when `start` or `end` is not an integer (or
   * `±Infinity`).
   *
   * @example
   * ```ts
   * import { SharedArray } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * const arr = new SharedArray("b", [1, 2, 3, 4]);
   * assert.deepEqual(arr.slice(1, 3), [2, 3]);
   * assert.deepEqual(arr.slice(-1), [4]);
   * assert.deepEqual(arr.slice(), [1, 2, 3, 4]);
   * ```
   */
  slice(start?: number, end?: number): ElementOf<C>[] {
    return elements(
      this.typecode,
      this.$data,
      sliceIndex(start, "start"),
      sliceIndex(end, "end"),
    ) as ElementOf<C>[];
  }

  /**
   * The elements, copied into a plain array (Python's `arr[:]`).
   *
   * @returns A new array.
   */
  toArray(): ElementOf<C>[] {
    return elements(this.typecode, this.$data) as ElementOf<C>[];
  }

  /**
   * The typed array on the shared memory itself: writes to it are seen by
   * every process. Plain (not atomic) accesses; for `c` and `u`, character
   * codes.
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
    const t = this.typecode;
    const d = this.$data;
    for (let i = 0; i < d.length; i++) yield load(t, d, i) as ElementOf<C>;
  }
}

/** `index` if it is an integer from 0 to `length - 1`. */
function checkIndex(index: unknown, length: number): number {
  if (typeof index !== "number") {
    throw new TypeError(messages.badIndex(index, length));
  }
  if (!(Number.isInteger(index) && index >= 0 && index < length)) {
    throw new RangeError(messages.badIndex(index, length));
  }
  return index;
}

/** A `slice()` bound: `undefined`, an integer or `±Infinity`. */
function sliceIndex(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const expected = "an integer (negative counts from the end)";
  if (typeof value !== "number") {
    throw new TypeError(
      messages.badOption(`slice() "${name}"`, expected, value),
    );
  }
  if (!Number.isInteger(value) && Math.abs(value) !== Infinity) {
    throw new RangeError(
      messages.badOption(`slice() "${name}"`, expected, value),
    );
  }
  return value;
}

/**
 * The integer that a property key names when written as `String(n)` writes
 * it ("0", "42", "-1"), else `undefined`: `arr[1]` and `arr["1"]` are one
 * element, `arr["01"]` and `arr[1.5]` are (refused) properties.
 */
function integerKey(key: string | symbol): number | undefined {
  if (typeof key !== "string") return undefined;
  const n = +key;
  return Number.isSafeInteger(n) && String(n) === key ? n : undefined;
}

/** What to do instead, in the error of a write to a property that arrays
 * do not have. */
const NO_NEW = "write elements as arr[i] = value, with i from 0 to length - 1";

closeChain(SharedArray.prototype, {
  get(target, key, receiver: SharedArray) {
    const i = integerKey(key);
    // `$data` is missing when the receiver is SharedArray.prototype itself.
    const d = i === undefined ? undefined : receiver.$data;
    if (i === undefined || d === undefined) {
      return Reflect.get(target, key, receiver);
    }
    return load(receiver.typecode, d, checkIndex(i, d.length));
  },
  set(_target, key, value, receiver: SharedArray) {
    const i = integerKey(key);
    const d = i === undefined ? undefined : receiver.$data;
    if (i === undefined || d === undefined) {
      throw new TypeError(messages.noNewProperty("SharedArray", key, NO_NEW));
    }
    store(receiver.typecode, d, checkIndex(i, d.length), value);
    return true;
  },
});

registerShareable("SharedArray", SharedArray.prototype);
