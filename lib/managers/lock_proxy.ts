// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import {
  registerProcessSafe,
  registerShareable,
} from "../_shared/shareable.ts";
import * as P from "./_protocol.ts";
import { ask, bool, call, none, timeoutOf } from "./_proxy.ts";
import { BaseProxy } from "./base_proxy.ts";
import { TimeoutError } from "../errors.ts";
import { messages } from "../_messages.ts";

const KIND = "lock";

/**
 * A lock that lives in a {@linkcode Manager}, as Python's `manager.Lock()`:
 * one holder at a time among every process holding this proxy. Made by
 * `manager.lock()`; pass it in `Process` args or pool task arguments.
 *
 * `acquire()` waits in the manager, first come first served, without
 * blocking the caller's thread. Any process may release it (as in Python).
 * When the process that holds it ends without releasing it, the next
 * `acquire()` rejects with {@linkcode AbandonedLockError} and frees the
 * lock, instead of waiting forever as Python would.
 *
 * @example Read-modify-write under the lock
 * ```ts
 * import { Manager } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * const lock = manager.lock();
 * const ns = manager.namespace({ count: 0 });
 * {
 *   await using _held = await lock.hold();
 *   await ns.set("count", (await ns.get("count")) + 1);
 * }
 * assert.equal(await ns.get("count"), 1);
 * assert.equal(await lock.acquire(0), true); // free again
 * await lock.release();
 * ```
 */
export class LockProxy extends BaseProxy {
  /**
   * Takes the lock, waiting while another holds it.
   *
   * @param timeout The most milliseconds to wait; default no limit, `0` to
   * try once.
   * @returns A promise of `true` when the lock was taken, `false` when
   * `timeout` ran out first.
   * @throws {AbandonedLockError} (as a rejection) when the holder ended
   * while holding the lock; the lock is then free for the next
   * `acquire()`.
   * @throws {RangeError} (as a rejection) when `timeout` is negative.
   */
  acquire(timeout?: number): Promise<boolean> {
    try {
      const ms = timeoutOf(timeout, "acquire() timeout");
      return call(this, KIND, P.LOCK_ACQUIRE, ms, P.NONE, [], true, bool);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Frees the lock; the longest waiter takes it.
   *
   * @returns A promise that resolves once the lock is free (or taken by
   * the next waiter).
   * @throws {Error} (as a rejection) when the lock is not held.
   */
  release(): Promise<void> {
    return ask(this, KIND, P.LOCK_RELEASE, (r) => {
      if (r.status === P.NOT_HELD) {
        throw new Error(messages.notAcquired("manager's lock"));
      }
      none();
    });
  }

  /**
   * Takes the lock for an `await using` scope, which releases it at its
   * end, also when the scope throws (Python's `with lock:`).
   *
   * @param timeout The most milliseconds to wait; default no limit.
   * @returns A promise of the held lock, to be disposed of.
   * @throws {TimeoutError} (as a rejection) when `timeout` ran out.
   * @throws {AbandonedLockError} (as a rejection) as for `acquire()`.
   */
  async hold(timeout?: number): Promise<AsyncDisposable> {
    if (!(await this.acquire(timeout))) {
      throw new TimeoutError(
        messages.holdTimeout("manager's lock", timeout ?? 0),
      );
    }
    return { [Symbol.asyncDispose]: () => this.release() };
  }
}

registerShareable("LockProxy", LockProxy.prototype);
// It crosses to an OS child process as a token (manager_link.ts).
registerProcessSafe("LockProxy");
