// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { registerShareable } from "../_shared/shareable.ts";
import { messages } from "../_messages.ts";
import { deadlineOf, remaining, waitWord } from "../_shared/wait.ts";
import { TimeoutError } from "../errors.ts";

const VALUE = 0;
/** The initial value of a BoundedSemaphore; -1 for a Semaphore. */
const BOUND = 1;
/** The most units a semaphore holds: its value is one Int32 word. */
const MAX_VALUE = 2 ** 31 - 1;

/**
 * A counter shared by processes, as Python's `multiprocessing.Semaphore`:
 * `acquire()` takes one unit, waiting while there is none; `release()` gives
 * one back. Pass it in `Process` args or pool task arguments.
 *
 * One shared word, changed by compare-and-swap: lock-free; waiting is an
 * `Atomics.waitAsync`. A semaphore has no owner, so (as in Python) the
 * units a process held when it ended are not given back.
 *
 * @example At most two at a time
 * ```ts
 * import { Semaphore } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const slots = new Semaphore(2);
 * assert.equal(await slots.acquire(), true);
 * assert.equal(await slots.acquire(), true);
 * assert.equal(await slots.acquire(10), false); // none left
 * slots.release();
 * assert.equal(slots.getValue(), 1);
 * {
 *   using _slot = await slots.hold();
 *   assert.equal(slots.getValue(), 0);
 * }
 * assert.equal(slots.getValue(), 1);
 * ```
 */
export class Semaphore implements Disposable {
  /**
   * The class name, for workers to restore the prototype.
   *
   * @ignore
   */
  readonly $mp: string = "Semaphore";
  /**
   * The shared words: the value and the bound (-1: none).
   *
   * @ignore
   */
  readonly $state: Int32Array;

  /**
   * Makes a semaphore.
   *
   * @param value The initial number of units; default 1.
   * @throws {RangeError} when `value` is not an integer from 0 to
   * 2 ** 31 - 1.
   */
  constructor(value = 1) {
    if (!Number.isInteger(value) || value < 0 || value > MAX_VALUE) {
      throw new RangeError(
        messages.badOption(
          "semaphore value",
          `an integer from 0 to ${MAX_VALUE}`,
          value,
        ),
      );
    }
    this.$state = new Int32Array(new SharedArrayBuffer(8));
    this.$state[VALUE] = value;
    this.$state[BOUND] = -1;
  }

  /**
   * Takes one unit, waiting while there is none.
   *
   * @param timeout The most milliseconds to wait; default no limit, `0` to
   * try once.
   * @returns A promise of `true` when taken, `false` when `timeout` ran out.
   * @throws {RangeError} (as a rejection) when `timeout` is negative.
   */
  async acquire(timeout?: number): Promise<boolean> {
    const s = this.$state;
    const deadline = deadlineOf(timeout, "acquire() timeout");
    for (;;) {
      const v = Atomics.load(s, VALUE);
      if (v > 0) {
        if (Atomics.compareExchange(s, VALUE, v, v - 1) === v) return true;
        continue;
      }
      if (remaining(deadline) === 0) return false;
      await waitWord(s, VALUE, v, deadline);
    }
  }

  /**
   * Gives one unit back and wakes one waiter.
   *
   * @throws {RangeError} when the value is already 2 ** 31 - 1, the most a
   * semaphore holds (Python raises an error there too, instead of wrapping
   * around to a negative value).
   * @throws {Error} for a {@linkcode BoundedSemaphore}, when it would go
   * above its initial value.
   */
  release(): void {
    const s = this.$state;
    const bound = Atomics.load(s, BOUND);
    const most = bound < 0 ? MAX_VALUE : bound;
    for (;;) {
      const v = Atomics.load(s, VALUE);
      if (v >= most) {
        throw bound < 0
          ? new RangeError(messages.semaphoreMax(v))
          : new Error(messages.overReleased(bound));
      }
      if (Atomics.compareExchange(s, VALUE, v, v + 1) === v) break;
    }
    Atomics.notify(s, VALUE, 1);
  }

  /**
   * The number of units free now (a moment's answer), as Python's
   * `get_value()`.
   *
   * @returns The value.
   */
  getValue(): number {
    return Atomics.load(this.$state, VALUE);
  }

  /**
   * Takes one unit for a `using` scope: `using _ = await sem.hold()` gives
   * it back when the scope ends.
   *
   * @param timeout The most milliseconds to wait; default no limit.
   * @returns A promise of the semaphore, to be disposed of.
   * @throws {TimeoutError} (as a rejection) when `timeout` ran out.
   */
  async hold(timeout?: number): Promise<Disposable> {
    if (!(await this.acquire(timeout))) {
      throw new TimeoutError(messages.holdTimeout(this.$mp, timeout ?? 0));
    }
    return this;
  }

  /**
   * Gives one unit back at the end of a `using` scope, as `release()` does:
   * `using _held = await sem.hold()` takes one unit, and leaving the scope
   * calls this, even when the scope throws.
   *
   * @throws {RangeError} when the value is already 2 ** 31 - 1.
   * @throws {Error} for a {@linkcode BoundedSemaphore}, when it would go
   * above its initial value.
   */
  [Symbol.dispose](): void {
    this.release();
  }
}

registerShareable("Semaphore", Semaphore.prototype);

/**
 * A {@linkcode Semaphore} that refuses to go above its initial value, as
 * Python's `multiprocessing.BoundedSemaphore`: a `release()` without a
 * matching `acquire()` throws instead of adding a unit.
 *
 * @example Catch an extra release
 * ```ts
 * import { BoundedSemaphore } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const sem = new BoundedSemaphore(1);
 * await sem.acquire();
 * sem.release();
 * assert.throws(() => sem.release(), /released more times than acquired/);
 * ```
 */
export class BoundedSemaphore extends Semaphore {
  /**
   * The class name, for workers to restore the prototype.
   *
   * @ignore
   */
  override readonly $mp: string = "BoundedSemaphore";

  /**
   * Makes a bounded semaphore.
   *
   * @param value The initial (and largest) number of units; default 1.
   * @throws {RangeError} when `value` is not an integer of 0 or more.
   */
  constructor(value = 1) {
    super(value);
    this.$state[BOUND] = value;
  }
}

registerShareable("BoundedSemaphore", BoundedSemaphore.prototype);
