// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { decode } from "./_codec.ts";
import {
  DEFAULT_CAPACITY_BYTES,
  encodeFor,
  getError,
  putError,
  ringFrom,
} from "./_queue_util.ts";
import { closeWriters, put, type Ring, size, take } from "./_ring.ts";
import { registerShareable } from "../_shared/shareable.ts";

/** The options of a {@linkcode SimpleQueue}. */
export interface SimpleQueueOptions {
  /**
   * The size in bytes of the queue's shared buffer: how many bytes of
   * serialized items it may hold at once. An integer from 64 to 2 ** 30
   * (1 GiB).
   *
   * `put()` waits while the buffer is full, until a `get()` makes room. An
   * item whose serialized form (plus a few bytes of framing) does not fit
   * can never be put: its `put()` rejects with a `RangeError`.
   *
   * @default {1048576}
   */
  capacityBytes?: number;
}

/**
 * A plain first-in, first-out queue shared by processes, as Python's
 * `multiprocessing.SimpleQueue`: `put`, `get`, `empty` and `close`, nothing
 * else. Items and capacity as for {@linkcode Queue}: `put()` waits only
 * when `capacityBytes` (default 1 MiB) are in use.
 *
 * @typeParam T The type of the items.
 *
 * @example Hand items over
 * ```ts
 * import { SimpleQueue } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const queue = new SimpleQueue<{ id: number }>();
 * await queue.put({ id: 1 });
 * assert.equal(queue.empty(), false);
 * assert.deepEqual(await queue.get(), { id: 1 });
 * queue.close();
 * ```
 */
export class SimpleQueue<T = unknown> {
  /**
   * The class name, for workers to restore the prototype.
   *
   * @ignore
   */
  readonly $mp: string = "SimpleQueue";
  /**
   * The shared state.
   *
   * @ignore
   */
  readonly $ring: Ring;

  /**
   * Makes a simple queue.
   *
   * @param options `{ capacityBytes }`.
   * @throws {RangeError} when `capacityBytes` is out of range.
   */
  constructor(options?: SimpleQueueOptions) {
    this.$ring = ringFrom(
      { capacityBytes: options?.capacityBytes ?? DEFAULT_CAPACITY_BYTES },
      "SimpleQueue",
    );
  }

  /**
   * Puts `item` at the end, waiting while the queue's bytes are in use.
   *
   * @param item A structured-clone value.
   * @returns A promise that resolves when the item is on the queue.
   * @throws {Error} (as a rejection) when the queue is closed.
   * @throws {RangeError} (as a rejection) when the item is larger than the
   * queue's capacity.
   */
  async put(item: T): Promise<void> {
    const bytes = encodeFor(this.$ring, item, "queue");
    const code = await put(this.$ring, bytes, Infinity, "queue");
    if (code !== 0) throw putError(code);
  }

  /**
   * Takes the first item, waiting while the queue is empty.
   *
   * @returns A promise of the item.
   * @throws {EOFError} (as a rejection) when the queue is closed and empty.
   * @throws {Error} (as a rejection) when the queue is broken: a process
   * ended in the middle of a put or get, or wrote garbage into its shared
   * memory.
   */
  async get(): Promise<T> {
    const got = await take(this.$ring, Infinity, "queue");
    if (typeof got !== "number") return decode(got, "queue") as T;
    throw getError(got);
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
   * Closes the queue for every process: later puts throw; gets return what
   * is left, then reject with `EOFError`.
   */
  close(): void {
    closeWriters(this.$ring, "queue");
  }
}

registerShareable("SimpleQueue", SimpleQueue.prototype);
