// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import {
  registerProcessSafe,
  registerShareable,
} from "../_shared/shareable.ts";
import * as P from "./_protocol.ts";
import { ask, call, first, num, timeoutOf } from "./_proxy.ts";
import { BaseProxy } from "./base_proxy.ts";
import { Empty, Full } from "../errors.ts";
import { messages } from "../_messages.ts";

const KIND = "queue";

/**
 * A first-in, first-out queue that lives in a {@linkcode Manager}, as
 * Python's `manager.Queue()`: items put by any process holding this proxy
 * are got by any other, once each. Made by `manager.queue(maxsize?)`; pass
 * it in `Process` args or pool task arguments.
 *
 * `get()` and `put()` wait in the manager (first come, first served)
 * without blocking the caller's thread. Items are structured-clone values,
 * copied in and out.
 *
 * @typeParam T The items' type.
 *
 * @example Put and get
 * ```ts
 * import { Empty, Manager } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * const q = manager.queue<string>();
 * await q.put("a");
 * assert.equal(await q.qsize(), 1);
 * assert.equal(await q.get(), "a");
 * await assert.rejects(q.get(10), Empty);
 * ```
 */
export class QueueProxy<T = unknown> extends BaseProxy {
  /**
   * Puts `value` at the end, waiting while the queue is full (only a queue
   * made with a `maxsize` fills).
   *
   * @param value The item, copied into the manager.
   * @param timeout The most milliseconds to wait for room; default no
   * limit, `0` not to wait (Python's `put_nowait`).
   * @returns A promise that resolves once the item is in the queue.
   * @throws {Full} (as a rejection) when `timeout` ran out.
   * @throws {RangeError} (as a rejection) when `timeout` is negative.
   */
  put(value: T, timeout?: number): Promise<void> {
    try {
      const ms = timeoutOf(timeout, "put() timeout");
      return call(
        this,
        KIND,
        P.QUEUE_PUT,
        ms,
        P.NONE,
        [[value, "the value of queue.put()"]],
        true,
        (r) => {
          if (r.status === P.FULL) {
            throw new Full(messages.full(r.num > 0 ? r.num : undefined));
          }
        },
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Takes the first item, waiting while the queue is empty.
   *
   * @param timeout The most milliseconds to wait; default no limit, `0`
   * not to wait (Python's `get_nowait`).
   * @returns A promise of the item.
   * @throws {Empty} (as a rejection) when `timeout` ran out.
   * @throws {RangeError} (as a rejection) when `timeout` is negative.
   */
  get(timeout?: number): Promise<T> {
    try {
      const ms = timeoutOf(timeout, "get() timeout");
      return call(this, KIND, P.QUEUE_GET, ms, P.NONE, [], true, (r) => {
        if (r.status === P.EMPTY) {
          throw new Empty(messages.empty(r.num > 0 ? r.num : undefined));
        }
        return first<T>(r);
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * How many items the queue holds now (Python's `q.qsize()`).
   *
   * @returns A promise of the count.
   */
  qsize(): Promise<number> {
    return ask(this, KIND, P.QUEUE_SIZE, num);
  }
}

registerShareable("QueueProxy", QueueProxy.prototype);
// It crosses to an OS child process as a token (manager_link.ts).
registerProcessSafe("QueueProxy");
