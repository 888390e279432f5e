// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Python's `multiprocessing.Value`: one number (or character) in shared
// memory.

import { registerShareable } from "../_shared/shareable.ts";
import { messages } from "../_messages.ts";
import type { Lock } from "./lock.ts";
import type { RLock } from "./rlock.ts";
import {
  closeChain,
  ctorOf,
  type ElementOf,
  load,
  lockOf,
  makeLock,
  type SharedMemoryOptions,
  store,
  type Typecode,
  type TypedArrayOf,
} from "./typecode.ts";

/**
 * One number (or character) in shared memory, as Python's
 * `multiprocessing.Value`: every process that has it reads and writes the
 * same `value`. Pass it in `Process` args or pool task arguments.
 *
 * `value` is the only property it takes: a mistaken `v.valu = 3` throws a
 * `TypeError` instead of quietly adding a property that no other process
 * would see.
 *
 * For integer and character typecodes, reading and writing `value` is one
 * atomic operation (lock-free), but `v.value += 1` is a read then a write: hold
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
 * const letter = new Value("c", "a");
 * letter.value = "b";
 * assert.equal(letter.value, "b");
 * assert.throws(() => {
 *   (v as unknown as { valu: number }).valu = 3;
 * }, TypeError);
 * ```
 */
export class Value<C extends Typecode = Typecode> {
  /**
   * The class name, for workers to restore the prototype.
   *
   * @ignore
   */
  readonly $mp: string = "Value";
  /**
   * The one-element typed array on shared memory.
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
   * The typecode the value was made with, one of
   * `b B h H i I l L q Q f d c u` (see {@linkcode Typecode}). It fixes what
   * `value` holds (a `bigint` for `q`/`Q`, a one-character string for
   * `c`/`u`, else a number), the range integers wrap into, and whether
   * reading and writing `value` is atomic (integer and character typecodes)
   * or a plain memory access (`f`, `d`). It never changes.
   *
   * @example
   * ```ts
   * import { Value } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * const v = new Value("B", 255);
   * assert.equal(v.typecode, "B");
   * v.value += 1; // 8-bit unsigned: wraps, as in C
   * assert.equal(v.value, 0);
   * ```
   */
  readonly typecode: C;

  /**
   * Makes a shared value.
   *
   * @param typecode One of `b B h H i I l L q Q f d c u`.
   * @param initial The first value: a `bigint` for `q`/`Q`, a
   * one-character string for `c`/`u`, else a number (an integer for integer
   * typecodes). Default 0 (`"\0"` for `c`/`u`).
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
    // No new properties: a mistaken `v.valu = 3` throws, as does writing
    // the fields. A subclass may still define its own fields.
    if (new.target === Value) Object.freeze(this);
  }

  /**
   * The number in shared memory: every process that has this `Value` reads
   * and writes the same one. A `bigint` for `q`/`Q`, a one-character string
   * for `c` (a code from 0 to 255) and `u` (one UTF-16 code unit), else a
   * number.
   *
   * For integer and character typecodes, a read or a write is one atomic
   * operation, and an out-of-range integer wraps, as in C; for `f` and `d`,
   * a plain memory access. `v.value += 1` is a read then a write, not one atomic step: hold
   * `getLock()` around it when another process may write at the same time.
   *
   * @throws {TypeError} on a write of a value that does not fit the
   * typecode: not a `bigint` for `q`/`Q`, not a number for `f`/`d`, not a
   * one-character string of the right range for `c`/`u`, not an integer
   * number for the other typecodes.
   *
   * @example Read, write, wrap
   * ```ts
   * import { Value } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * const v = new Value("h", 1);
   * v.value = 32767;
   * v.value += 1; // 16-bit signed: wraps, as in C
   * assert.equal(v.value, -32768);
   * assert.throws(() => (v.value = 1.5), TypeError);
   * ```
   */
  // An accessor pair, defined on the prototype below: `deno doc`'s text
  // output drops a class's getter/setter pairs (it takes them for overloads
  // and prints only overloads without a body), so the class declares the
  // property for the docs and the types.
  declare value: ElementOf<C>;

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

Object.defineProperty(Value.prototype, "value", {
  get(this: Value): unknown {
    return load(this.typecode, this.$data, 0);
  },
  set(this: Value, v: unknown): void {
    store(this.typecode, this.$data, 0, v);
  },
  // As a class accessor: not enumerable, configurable.
  enumerable: false,
  configurable: true,
});

// Also on a Value that structured clone re-created in a worker (extensible,
// unlike one made here): a write of any other property throws.
closeChain(Value.prototype, {
  set(_target, key) {
    throw new TypeError(
      messages.noNewProperty("Value", key, 'read and write "value"'),
    );
  },
});

registerShareable("Value", Value.prototype);
