// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { registerShareable } from "../_shared/shareable.ts";
import { messages } from "../_messages.ts";
import { acquireLock, freeOwner, me } from "../_shared/wait.ts";
import { TimeoutError } from "../errors.ts";

const OWNER = 0;
const DEPTH = 2;

/**
 * A re-entrant lock shared by processes, as Python's `multiprocessing.RLock`:
 * the process that holds it may acquire it again, and must release it as
 * many times. Pass it in `Process` args or pool task arguments.
 *
 * The owner is a **process**, not an async task: Python's RLock belongs to a
 * thread, and a Deno process has one thread, so every async task of the
 * owning process passes `acquire()` at once. To exclude other tasks of the
 * same process, use a {@linkcode Lock}.
 *
 * Shared words, the owner's pid and the depth: taking a free lock is
 * one compare-and-swap, re-taking it or releasing it a store, so it is
 * lock-free; waiting is an `Atomics.waitAsync`. When the owner ends while
 * holding it, the next `acquire()` rejects with `AbandonedLockError` and
 * frees it, as for {@linkcode Lock}.
 *
 * @example Re-enter, then release as many times
 * ```ts
 * import { RLock } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const lock = new RLock();
 * assert.equal(await lock.acquire(), true);
 * assert.equal(await lock.acquire(), true); // the same process: no wait
 * lock.release();
 * lock.release();
 * assert.throws(() => lock.release());
 * {
 *   using _held = await lock.hold();
 * }
 * ```
 */
export class RLock implements Disposable {
  /**
   * The class name, for workers to restore the prototype.
   *
   * @ignore
   */
  readonly $mp: string = "RLock";
  /** The shared words: the owner's pid (or 0), the waiters, the depth.
   * @ignore */
  readonly $state: Int32Array;

  /** Makes an unlocked re-entrant lock. */
  constructor() {
    this.$state = new Int32Array(new SharedArrayBuffer(12));
  }

  /**
   * Takes the lock, or takes it once more if this process holds it.
   *
   * @param timeout The most milliseconds to wait; default no limit, `0` to
   * try once.
   * @returns A promise of `true` when taken, `false` when `timeout` ran out.
   * @throws {AbandonedLockError} (as a rejection) when the owner ended while
   * holding the lock; the lock is then free for the next `acquire()`.
   * @throws {RangeError} (as a rejection) when `timeout` is negative.
   */
  async acquire(timeout?: number): Promise<boolean> {
    const s = this.$state;
    const pid = me();
    if (Atomics.load(s, OWNER) === pid) {
      Atomics.add(s, DEPTH, 1);
      return true;
    }
    if (!(await acquireLock(s, timeout, "RLock"))) return false;
    Atomics.store(s, DEPTH, 1);
    return true;
  }

  /**
   * Releases one level; the last frees the lock and wakes one waiter.
   *
   * @throws {Error} when this process does not hold the lock.
   */
  release(): void {
    const s = this.$state;
    const owner = Atomics.load(s, OWNER);
    const pid = me();
    if (owner === 0) throw new Error(messages.notAcquired("RLock"));
    if (owner !== pid) throw new Error(messages.notOwner(owner, pid));
    if (Atomics.sub(s, DEPTH, 1) === 1) freeOwner(s);
  }

  /**
   * Takes the lock for a `using` scope: `using _ = await lock.hold()`
   * releases it when the scope ends.
   *
   * @param timeout The most milliseconds to wait; default no limit.
   * @returns A promise of the lock, to be disposed of.
   * @throws {TimeoutError} (as a rejection) when `timeout` ran out.
   * @throws {AbandonedLockError} (as a rejection) as for `acquire()`.
   */
  async hold(timeout?: number): Promise<Disposable> {
    if (!(await this.acquire(timeout))) {
      throw new TimeoutError(messages.holdTimeout("RLock", timeout ?? 0));
    }
    return this;
  }

  /**
   * Releases one level at the end of a `using` scope, as `release()` does:
   * `using _held = await rlock.hold()` takes one level, and leaving the
   * scope calls this, even when the scope throws; the last level frees the
   * lock.
   *
   * @throws {Error} when this process does not hold the lock.
   */
  [Symbol.dispose](): void {
    this.release();
  }
}

registerShareable("RLock", RLock.prototype);
