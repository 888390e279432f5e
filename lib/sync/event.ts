// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { registerShareable } from "../_shared/shareable.ts";
import { deadlineOf, remaining, waitWord } from "../_shared/wait.ts";

/** The flag word: 0 when clear, set otherwise (`set()` writes 1; any other
 * value, which only a process writing garbage leaves, counts as set, so that
 * `wait()` never spins on a word it does not wait for). */
const FLAG = 0;

/**
 * A flag shared by processes, as Python's `multiprocessing.Event`: `set()`
 * raises it and wakes every waiter, `clear()` lowers it, `wait()` waits
 * until it is raised. Pass it in `Process` args or pool task arguments.
 *
 * One shared word: `set()`, `clear()` and `isSet()` are single atomic
 * operations (lock-free); waiting is an `Atomics.waitAsync`.
 *
 * @example Wait for a signal
 * ```ts
 * import { Event } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const ready = new Event();
 * assert.equal(await ready.wait(10), false); // not set: times out
 * setTimeout(() => ready.set(), 10);
 * assert.equal(await ready.wait(1000), true);
 * assert.ok(ready.isSet());
 * ready.clear();
 * assert.equal(ready.isSet(), false);
 * ```
 */
export class Event {
  /**
   * The class name, for workers to restore the prototype.
   *
   * @ignore
   */
  readonly $mp: string = "Event";
  /**
   * The shared word: 1 when set.
   *
   * @ignore
   */
  readonly $state: Int32Array;

  /** Makes an event that is not set. */
  constructor() {
    this.$state = new Int32Array(new SharedArrayBuffer(4));
  }

  /**
   * Whether the flag is raised.
   *
   * @returns `true` when set.
   */
  isSet(): boolean {
    return Atomics.load(this.$state, FLAG) !== 0;
  }

  /** Raises the flag and wakes every waiter, in every process. */
  set(): void {
    Atomics.store(this.$state, FLAG, 1);
    Atomics.notify(this.$state, FLAG);
  }

  /** Lowers the flag. */
  clear(): void {
    Atomics.store(this.$state, FLAG, 0);
  }

  /**
   * Waits until the flag is raised.
   *
   * @param timeout The most milliseconds to wait; default no limit.
   * @returns A promise of the flag: `true` when set, `false` when `timeout`
   * ran out first.
   * @throws {RangeError} (as a rejection) when `timeout` is negative.
   */
  async wait(timeout?: number): Promise<boolean> {
    const s = this.$state;
    const deadline = deadlineOf(timeout, "wait() timeout");
    for (;;) {
      if (Atomics.load(s, FLAG) !== 0) return true;
      if (remaining(deadline) === 0) return false;
      await waitWord(s, FLAG, 0, deadline);
    }
  }
}

registerShareable("Event", Event.prototype);
