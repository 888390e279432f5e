// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { registerShareable } from "../_shared/shareable.ts";
import { messages } from "../_messages.ts";
import { acquireLock, freeOwner, me } from "../_shared/wait.ts";
import { TimeoutError } from "../errors.ts";

const HOLDER = 0;
const TRUE: Promise<boolean> = Promise.resolve(true);

/**
 * A lock shared by processes, as Python's `multiprocessing.Lock`: one holder
 * at a time; `acquire()` waits (asynchronously) while another holds it.
 * Pass it in `Process` args or pool task arguments.
 *
 * The lock is one shared word holding the holder's pid (0 when free):
 * taking it is one compare-and-swap, releasing it a store (and a notify
 * when someone waits), so it is lock-free; a contended `acquire()` spins
 * briefly, then waits with `Atomics.waitAsync` on the word. A process
 * holds it, not a task: any process may release it (as in Python), and two
 * async tasks of one process exclude each other as two processes do.
 *
 * When the holder process ends without releasing it (it returned, threw,
 * called `exit()`, was terminated, ran out of memory), the next `acquire()`
 * rejects with {@linkcode AbandonedLockError} and frees the lock, instead of
 * waiting forever as Python would. A process that only started processes
 * from inside a worker may not learn of its grandchildren's ends.
 *
 * @example Scoped hold with `using`
 * ```ts
 * import { Lock } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const lock = new Lock();
 * {
 *   using _held = await lock.hold();
 *   assert.ok(lock.locked());
 *   assert.equal(await lock.acquire(10), false); // held: times out
 * }
 * assert.equal(lock.locked(), false);
 * ```
 *
 * @example Across processes
 * ```ts no-eval
 * import { Lock, Process } from "@parallel/multiprocessing";
 *
 * export async function report(lock: Lock, n: number) {
 *   using _held = await lock.hold();
 *   console.log(`process ${n} has the lock`);
 * }
 *
 * if (import.meta.main) {
 *   const lock = new Lock();
 *   const ps = [1, 2, 3].map((n) =>
 *     new Process({ target: report, args: [lock, n] })
 *   );
 *   for (const p of ps) p.start();
 *   for (const p of ps) await p.join();
 * }
 * ```
 */
export class Lock implements Disposable {
  /**
   * The class name, for workers to restore the prototype.
   *
   * @ignore
   */
  readonly $mp: string = "Lock";
  /**
   * The shared words: the holder's pid (or 0), and the waiters.
   *
   * @ignore
   */
  readonly $state: Int32Array;

  /** Makes an unlocked lock. */
  constructor() {
    this.$state = new Int32Array(new SharedArrayBuffer(8));
  }

  /**
   * Takes the lock, waiting while another process holds it.
   *
   * @param timeout The most milliseconds to wait; default no limit, `0` to
   * try once.
   * @returns A promise of `true` when the lock was taken, `false` when
   * `timeout` ran out first.
   * @throws {AbandonedLockError} (as a rejection) when the holder ended
   * while holding the lock; the lock is then free for the next `acquire()`.
   * @throws {RangeError} (as a rejection) when `timeout` is negative.
   */
  acquire(timeout?: number): Promise<boolean> {
    if (
      timeout === undefined &&
      Atomics.compareExchange(this.$state, HOLDER, 0, me()) === 0
    ) {
      return TRUE;
    }
    return acquireLock(this.$state, timeout, "lock");
  }

  /**
   * Frees the lock and wakes one waiter.
   *
   * @throws {Error} when the lock is not held.
   */
  release(): void {
    if (Atomics.load(this.$state, HOLDER) === 0) {
      throw new Error(messages.notAcquired("lock"));
    }
    freeOwner(this.$state);
  }

  /**
   * Whether some process holds the lock now. It neither takes nor waits for
   * the lock, and its answer may be out of date as soon as it returns
   * (another process may take or free the lock meanwhile): to take the lock
   * only when it is free, call `acquire(0)` rather than test this first.
   *
   * @returns `true` when a process holds the lock, `false` when it is free.
   *
   * @example Before and after acquire()
   * ```ts
   * import { Lock } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * const lock = new Lock();
   * assert.equal(lock.locked(), false);
   * await lock.acquire();
   * assert.equal(lock.locked(), true);
   * lock.release();
   * assert.equal(lock.locked(), false);
   * ```
   */
  locked(): boolean {
    return Atomics.load(this.$state, HOLDER) !== 0;
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
      throw new TimeoutError(messages.holdTimeout("lock", timeout ?? 0));
    }
    return this;
  }

  /**
   * Releases the lock at the end of a `using` scope, as `release()` does:
   * `using _held = await lock.hold()` takes the lock, and leaving the scope
   * calls this, even when the scope throws.
   *
   * @throws {Error} when the lock is not held (it was already released in
   * the scope).
   */
  [Symbol.dispose](): void {
    this.release();
  }
}

registerShareable("Lock", Lock.prototype);
