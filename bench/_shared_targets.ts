// Targets of bench/shared_bench.ts: queue producer and consumer, lock
// loops, and array sums. Each waits at a barrier so that the timing starts
// when every party is ready.
//
// The library itself must load in the worker (not only its types), so that
// the queues, locks and barriers that arrive get their classes back.
import "../mod.ts";
import type { Barrier, Event, Lock, Queue, SharedArray } from "../mod.ts";

/** Puts `n` items (numbers, or small objects when `objects`). */
export async function producer(
  queue: Queue<unknown>,
  n: number,
  objects: boolean,
  start: Barrier,
): Promise<void> {
  await start.wait();
  if (objects) {
    for (let i = 0; i < n; i++) await queue.put({ id: i, name: "item" });
  } else {
    for (let i = 0; i < n; i++) await queue.put(i);
  }
}

/** Gets `n` items, then sets `done`. */
export async function consumer(
  queue: Queue<unknown>,
  n: number,
  start: Barrier,
  done: Event,
): Promise<void> {
  await start.wait();
  for (let i = 0; i < n; i++) await queue.get();
  done.set();
}

/** Acquires and releases `lock` `n` times. */
export async function lockLoop(
  lock: Lock,
  n: number,
  start: Barrier,
): Promise<void> {
  await start.wait();
  for (let i = 0; i < n; i++) {
    await lock.acquire();
    lock.release();
  }
}

/** The sum of a shared array, read in place. */
export function sumShared(arr: SharedArray<"d">): number {
  const a = arr.asTypedArray();
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}

/** The sum of an array copied to the worker. */
export function sumCopied(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}
