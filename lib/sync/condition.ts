// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { registerShareable, revive } from "../_shared/shareable.ts";
import { messages } from "../_messages.ts";
import {
  acquireLock,
  deadlineOf,
  freeOwner,
  held,
  me,
  remaining,
} from "../_shared/wait.ts";
import { TimeoutError } from "../errors.ts";
import { Lock } from "./lock.ts";
import { RLock } from "./rlock.ts";

const SEQ = 0;

/**
 * A condition variable shared by processes, as Python's
 * `multiprocessing.Condition`: a lock (an {@linkcode RLock} unless one is
 * given), and `wait()` / `notify()` on it. Pass it in `Process` args or pool
 * task arguments.
 *
 * `wait()` must be called holding the lock: it releases the lock, waits for
 * a `notify()`, and takes the lock again before it resolves. `notify(n)`
 * wakes the `n` longest waiting, across processes. As with any condition
 * variable, check what you wait for in a loop, or use `waitFor()`.
 *
 * A shared sequence word: `notify()` bumps it and wakes waiters with
 * `Atomics.notify`; a waiter queues itself on the word with
 * `Atomics.waitAsync` before it releases the lock, so no notify is lost.
 * Taking the lock is as for `Lock`/`RLock` (lock-free, with
 * `AbandonedLockError` when a holder ended).
 *
 * @example Wait for a value in one process
 * ```ts
 * import { Condition } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const cond = new Condition();
 * const box: number[] = [];
 * setTimeout(async () => {
 *   using _held = await cond.hold();
 *   box.push(42);
 *   cond.notifyAll();
 * }, 10);
 * {
 *   using _held = await cond.hold();
 *   assert.equal(await cond.waitFor(() => box.length > 0, 1000), true);
 * }
 * assert.deepEqual(box, [42]);
 * ```
 */
export class Condition implements Disposable {
  /**
   * The class name, for workers to restore the prototype.
   *
   * @ignore
   */
  readonly $mp: string = "Condition";
  /**
   * The underlying lock.
   *
   * @ignore
   */
  readonly $lock: Lock | RLock;
  /**
   * The shared sequence word.
   *
   * @ignore
   */
  readonly $state: Int32Array;

  /**
   * Makes a condition variable.
   *
   * @param lock The lock to use (a `Lock` or `RLock`); default a new
   * `RLock`.
   * @throws {TypeError} when `lock` is not a `Lock` or `RLock`.
   */
  constructor(lock?: Lock | RLock) {
    if (
      lock !== undefined && !(lock instanceof Lock || lock instanceof RLock)
    ) {
      throw new TypeError(
        messages.badOption('"lock"', "a Lock or an RLock", lock),
      );
    }
    this.$lock = lock ?? new RLock();
    this.$state = new Int32Array(new SharedArrayBuffer(4));
  }

  /**
   * Takes the lock.
   *
   * @param timeout The most milliseconds to wait; default no limit.
   * @returns A promise of `true` when taken, `false` when `timeout` ran out.
   * @throws {AbandonedLockError} (as a rejection) when the holder ended.
   */
  acquire(timeout?: number): Promise<boolean> {
    return lockOf(this).acquire(timeout);
  }

  /**
   * Releases the lock.
   *
   * @throws {Error} when the lock is not held.
   */
  release(): void {
    lockOf(this).release();
  }

  /**
   * Takes the lock for a `using` scope.
   *
   * @param timeout The most milliseconds to wait; default no limit.
   * @returns A promise of the condition, to be disposed of.
   * @throws {TimeoutError} (as a rejection) when `timeout` ran out.
   */
  async hold(timeout?: number): Promise<Disposable> {
    if (!(await this.acquire(timeout))) {
      throw new TimeoutError(messages.holdTimeout("Condition", timeout ?? 0));
    }
    return this;
  }

  /**
   * Releases the underlying lock at the end of a `using` scope, as
   * `release()` does: `using _held = await cond.hold()` takes it, and
   * leaving the scope calls this, even when the scope throws.
   *
   * @throws {Error} when the lock is not held (or, for an `RLock`, is held
   * by another process).
   */
  [Symbol.dispose](): void {
    this.release();
  }

  /**
   * Releases the lock, waits for a `notify()` (or the timeout), then takes
   * the lock again.
   *
   * @param timeout The most milliseconds to wait for the notify; default no
   * limit. Taking the lock back is not limited.
   * @returns A promise of `true` when notified, `false` when `timeout` ran
   * out.
   * @throws {Error} (as a rejection) when this process does not hold the
   * lock.
   * @throws {AbandonedLockError} (as a rejection) when, taking the lock back,
   * its holder had ended (this process then does not hold it).
   */
  async wait(timeout?: number): Promise<boolean> {
    const deadline = deadlineOf(timeout, "wait() timeout");
    const lock = lockOf(this);
    const s = lock.$state;
    if (Atomics.load(s, 0) !== me()) {
      throw new Error(messages.conditionNotHeld("wait"));
    }
    // Queue up before letting go of the lock: a notify after that finds us.
    const seen = Atomics.load(this.$state, SEQ);
    const r = Atomics.waitAsync(this.$state, SEQ, seen, remaining(deadline));
    const isR = lock.$mp === "RLock";
    const depth = isR ? Atomics.exchange(s, 2, 0) : 1;
    freeOwner(s);
    const result = r.async ? await held(r.value) : r.value;
    await acquireLock(s, undefined, isR ? "RLock" : "lock");
    if (isR) Atomics.store(s, 2, depth);
    return result !== "timed-out";
  }

  /**
   * Waits until `predicate()` is truthy, as Python's `wait_for`: checks it,
   * then waits for notifies and checks again, holding the lock each time.
   *
   * @typeParam T What the predicate returns.
   * @param predicate The condition to wait for; may be async.
   * @param timeout The most milliseconds to wait in all; default no limit.
   * @returns A promise of the predicate's last result.
   * @throws {Error} (as a rejection) when this process does not hold the
   * lock.
   */
  async waitFor<T>(
    predicate: () => T | Promise<T>,
    timeout?: number,
  ): Promise<T> {
    const deadline = deadlineOf(timeout, "waitFor() timeout");
    let result = await predicate();
    while (!result) {
      const left = remaining(deadline);
      if (left === 0) break;
      await this.wait(left);
      result = await predicate();
    }
    return result;
  }

  /**
   * Wakes up to `n` waiting processes (the longest waiting first).
   *
   * @param n How many to wake; default 1.
   * @throws {Error} when this process does not hold the lock.
   */
  notify(n = 1): void {
    if (Atomics.load(lockOf(this).$state, 0) !== me()) {
      throw new Error(messages.conditionNotHeld("notify"));
    }
    Atomics.add(this.$state, SEQ, 1);
    Atomics.notify(this.$state, SEQ, n);
  }

  /**
   * Wakes every waiter.
   *
   * @throws {Error} when this process does not hold the lock.
   */
  notifyAll(): void {
    this.notify(Infinity);
  }
}

/** The condition's lock, with its class restored in a worker. */
function lockOf(cond: Condition): Lock | RLock {
  return revive(cond.$lock);
}

registerShareable("Condition", Condition.prototype);
