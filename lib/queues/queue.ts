// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { decode } from "./_codec.ts";
import { encodeFor, getError, putError, ringFrom } from "./_queue_util.ts";
import { closeWriters, maxsize, put, type Ring, size, take } from "./_ring.ts";
import { registerShareable } from "../_shared/shareable.ts";
import { deadlineOf } from "../_shared/wait.ts";
import { EOFError } from "../errors.ts";

/** The options of a {@linkcode Queue}. */
export interface QueueOptions {
  /** The most items the queue holds at once; `0` (the default) for no
   * limit but its byte capacity. */
  maxsize?: number;
  /** The bytes the serialized items may take at once, from 64 to 2 ** 30;
   * default 1 MiB. A full queue makes `put()` wait; an item larger than
   * this can never be put. */
  capacityBytes?: number;
}

/**
 * A first-in, first-out queue shared by processes, as Python's
 * `multiprocessing.Queue`. Pass it in `Process` args or pool task
 * arguments; every process that has it puts and gets on the same queue.
 *
 * Items are structured-clone values (plain data, `Map`, `Set`, `Date`,
 * typed arrays, errors, `bigint`…), copied in and out: `node:v8`
 * serialization, or JSON when that is exact. A queue or lock cannot be put
 * on a queue (as in Python, share those through process arguments).
 *
 * The items live in a `SharedArrayBuffer` of `capacityBytes` (default
 * 1 MiB), so unlike Python's a queue is never unbounded: when the bytes or
 * `maxsize` items are used up, `put()` waits for room. Each item of one
 * producer arrives in the order it was put.
 *
 * `close()` is shared by every process: it refuses further puts (an
 * `Error`); `get()` still returns what is left, then rejects with
 * {@linkcode EOFError}, and `for await` over the queue ends.
 *
 * Not lock-free: a put or get holds the queue's guard word for the few
 * microseconds it takes to copy the bytes (other processes spin, then
 * sleep on it for at most ~10 ms at a time before they wait for it
 * asynchronously); waiting for an item or for room is an
 * `Atomics.waitAsync`, never a timer loop. `qsize()`, `empty()` and
 * `full()` read one word and are lock-free. As Python warns, a process that
 * is terminated in the middle of a put or get may leave the queue
 * half-updated: the queue then refuses every operation with an error that
 * says so, instead of hanging.
 *
 * Every process the queue was handed can write its shared memory, including
 * a scoped worker running untrusted code. Such a process can change or drop
 * items, but not freeze this one: a guard it never frees costs a call its
 * timeout, not the event loop, and a header or item length that no queue
 * operation writes makes every call reject with an error that says so,
 * before anything is read or allocated from it.
 *
 * @typeParam T The type of the items.
 *
 * @example Between two processes
 * ```ts no-eval
 * import { Process, Queue } from "@parallel/multiprocessing";
 *
 * export async function produce(queue: Queue<number>) {
 *   for (let i = 0; i < 3; i++) await queue.put(i);
 *   queue.close();
 * }
 *
 * if (import.meta.main) {
 *   const queue = new Queue<number>();
 *   const p = new Process({ target: produce, args: [queue] });
 *   p.start();
 *   for await (const item of queue) console.log(item); // 0, 1, 2
 *   await p.join();
 * }
 * ```
 *
 * @example In one process
 * ```ts
 * import { Empty, Queue } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const queue = new Queue<string>({ maxsize: 2 });
 * await queue.put("a");
 * queue.putNowait("b");
 * assert.equal(queue.qsize(), 2);
 * assert.ok(queue.full());
 * assert.equal(await queue.get(), "a");
 * assert.equal(queue.getNowait(), "b");
 * await assert.rejects(queue.get(10), Empty);
 * ```
 */
export class Queue<T = unknown> implements AsyncIterable<T> {
  /**
   * The class name, for workers to restore the prototype.
   *
   * @ignore
   */
  readonly $mp: string = "Queue";
  /**
   * The shared state.
   *
   * @ignore
   */
  readonly $ring: Ring;

  /**
   * Makes a queue.
   *
   * @param options `maxsize` (the most items at once; 0, the default, for
   * no limit but bytes), or `{ maxsize, capacityBytes }`.
   * @throws {RangeError} when `maxsize` is not an integer of 0 or more, or
   * `capacityBytes` is not an integer from 64 to 2 ** 30.
   */
  constructor(options?: number | QueueOptions) {
    this.$ring = ringFrom(options, "Queue");
  }

  /**
   * Puts `item` at the end, waiting while the queue is full.
   *
   * @param item A structured-clone value.
   * @param timeout The most milliseconds to wait for room; default no limit.
   * @returns A promise that resolves when the item is on the queue.
   * @throws {Full} (as a rejection) when `timeout` ran out.
   * @throws {Error} (as a rejection) when the queue is closed, or broken
   * (see the class notes).
   * @throws {RangeError} (as a rejection) when the item is larger than the
   * queue's capacity.
   * @throws {DOMException} (as a rejection) named `DataCloneError` when
   * structured clone cannot carry the item.
   */
  async put(item: T, timeout?: number): Promise<void> {
    const deadline = deadlineOf(timeout, "put() timeout");
    const bytes = encodeFor(this.$ring, item, "queue");
    const code = await put(this.$ring, bytes, deadline, "queue");
    if (code !== 0) throw putError(code, timeout);
  }

  /**
   * Puts `item` at the end now, or throws {@linkcode Full}. Like Python's
   * `put_nowait()`, it does not wait for another process that holds the
   * queue: one that holds it for more than ~10 ms makes it throw `Full`.
   *
   * @param item A structured-clone value.
   * @throws {Full} when the queue is full.
   * @throws {Error} when the queue is closed, or broken.
   * @throws {RangeError} when the item is larger than the queue's capacity.
   */
  putNowait(item: T): void {
    const bytes = encodeFor(this.$ring, item, "queue");
    const code = put(this.$ring, bytes, -Infinity, "queue") as number;
    if (code !== 0) throw putError(code);
  }

  /**
   * Takes the first item, waiting while the queue is empty.
   *
   * @param timeout The most milliseconds to wait; default no limit.
   * @returns A promise of the item.
   * @throws {Empty} (as a rejection) when `timeout` ran out.
   * @throws {EOFError} (as a rejection) when the queue is closed and empty.
   * @throws {Error} (as a rejection) when the queue is broken (see the class
   * notes).
   */
  async get(timeout?: number): Promise<T> {
    const deadline = deadlineOf(timeout, "get() timeout");
    const got = await take(this.$ring, deadline, "queue");
    if (typeof got !== "number") return decode(got, "queue") as T;
    throw getError(got, timeout);
  }

  /**
   * Takes the first item now, or throws {@linkcode Empty}. Like Python's
   * `get_nowait()`, it does not wait for another process that holds the
   * queue: one that holds it for more than ~10 ms makes it throw `Empty`.
   *
   * @returns The item.
   * @throws {Empty} when the queue is empty.
   * @throws {EOFError} when the queue is closed and empty.
   * @throws {Error} when the queue is broken.
   */
  getNowait(): T {
    const got = take(this.$ring, -Infinity, "queue") as
      | string
      | Uint8Array
      | number;
    if (typeof got !== "number") return decode(got, "queue") as T;
    throw getError(got);
  }

  /**
   * The number of items on the queue (a moment's answer: other processes
   * may change it at once).
   *
   * @returns The item count.
   */
  qsize(): number {
    return size(this.$ring);
  }

  /**
   * Whether the queue has no items (a moment's answer).
   *
   * @returns `true` when empty.
   */
  empty(): boolean {
    return size(this.$ring) === 0;
  }

  /**
   * Whether the queue holds `maxsize` items (a moment's answer). A queue
   * without `maxsize` is never reported full, though a put may wait for
   * bytes.
   *
   * @returns `true` when `maxsize` items are on it.
   */
  full(): boolean {
    const max = maxsize(this.$ring);
    return max > 0 && size(this.$ring) >= max;
  }

  /**
   * Closes the queue for every process: later puts throw; gets return what
   * is left, then reject with {@linkcode EOFError}. Waiting puts and gets
   * wake up to do the same. Closing twice is harmless.
   */
  close(): void {
    closeWriters(this.$ring, "queue");
  }

  /**
   * Iterates over the items as they come, until the queue is closed and
   * empty.
   *
   * @returns An async iterator of the items.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let item: T;
      try {
        item = await this.get();
      } catch (err) {
        if (err instanceof EOFError) return;
        throw err;
      }
      yield item;
    }
  }
}

registerShareable("Queue", Queue.prototype);
