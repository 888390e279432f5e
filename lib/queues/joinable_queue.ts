// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { UNFINISHED } from "./_ring.ts";
import { registerShareable } from "../_shared/shareable.ts";
import { messages } from "../_messages.ts";
import { deadlineOf, remaining, waitWord } from "../_shared/wait.ts";
import { Queue, type QueueOptions } from "./queue.ts";

/**
 * A {@linkcode Queue} that counts unfinished tasks, as Python's
 * `multiprocessing.JoinableQueue`: each `put()` adds one, each
 * `taskDone()` (called by a consumer when it has handled an item) removes
 * one, and `join()` waits until none is left.
 *
 * The count is one shared word, changed atomically (lock-free); `join()`
 * waits on it with `Atomics.waitAsync`.
 *
 * @typeParam T The type of the items.
 *
 * @example Wait until every item was handled
 * ```ts no-eval
 * import { JoinableQueue, Process } from "@parallel/multiprocessing";
 *
 * export async function worker(queue: JoinableQueue<string>) {
 *   for (;;) {
 *     console.log(`handled ${await queue.get()}`);
 *     queue.taskDone();
 *   }
 * }
 *
 * if (import.meta.main) {
 *   const queue = new JoinableQueue<string>();
 *   const p = new Process({ target: worker, args: [queue], daemon: true });
 *   p.start();
 *   for (const job of ["a", "b", "c"]) await queue.put(job);
 *   await queue.join(); // all three handled
 * }
 * ```
 *
 * @example In one process
 * ```ts
 * import { JoinableQueue } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const queue = new JoinableQueue<number>();
 * await queue.put(1);
 * assert.equal(await queue.join(10), false); // one task unfinished
 * await queue.get();
 * queue.taskDone();
 * assert.equal(await queue.join(), true);
 * ```
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /**
   * The class name, for workers to restore the prototype.
   *
   * @ignore
   */
  override readonly $mp: string = "JoinableQueue";

  /**
   * Makes a joinable queue.
   *
   * @param options `maxsize`, or `{ maxsize, capacityBytes }` as for
   * {@linkcode Queue}.
   * @throws {RangeError} when an option is out of range.
   */
  constructor(options?: number | QueueOptions) {
    super(options);
  }

  /**
   * Marks one item taken from the queue as handled.
   *
   * @throws {Error} when called more times than items were put.
   */
  taskDone(): void {
    const h = this.$ring.h;
    for (;;) {
      const n = Atomics.load(h, UNFINISHED);
      if (n <= 0) throw new Error(messages.taskDoneTooMany());
      if (Atomics.compareExchange(h, UNFINISHED, n, n - 1) === n) {
        if (n === 1) Atomics.notify(h, UNFINISHED);
        return;
      }
    }
  }

  /**
   * Waits until every item put on the queue was marked done with
   * {@linkcode JoinableQueue.taskDone}.
   *
   * @param timeout The most milliseconds to wait; default no limit.
   * @returns A promise of `true` when no task is unfinished, `false` when
   * `timeout` ran out first.
   * @throws {RangeError} (as a rejection) when `timeout` is negative.
   */
  async join(timeout?: number): Promise<boolean> {
    const deadline = deadlineOf(timeout, "join() timeout");
    const h = this.$ring.h;
    for (;;) {
      const n = Atomics.load(h, UNFINISHED);
      if (n === 0) return true;
      if (remaining(deadline) === 0) return false;
      await waitWord(h, UNFINISHED, n, deadline);
    }
  }
}

registerShareable("JoinableQueue", JoinableQueue.prototype);
