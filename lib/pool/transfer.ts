// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { markTransfer } from "../_shared/transferables.ts";
import { messages } from "../_messages.ts";

/**
 * A value marked by {@linkcode transfer}: its buffers move to the other side
 * instead of being copied. Pass it where the value would go; it is
 * unwrapped on the way.
 *
 * @typeParam T The marked value's type.
 */
export interface Transfer<T> {
  /** The brand that marks the wrapper. */
  readonly $transfer: true;
  /** The value to send. */
  readonly value: T;
  /** The buffers that move with it. */
  readonly list: Transferable[];
}

/**
 * Marks an argument, a map item or a returned value whose `ArrayBuffer`s
 * move to the other side instead of being copied, as Piscina's `move()`.
 * The buffers are found in `value` (typed arrays, nested objects), or are
 * the ones listed; after sending, the sender's buffers are detached
 * (`byteLength` 0). A target may `return transfer(result)` too.
 *
 * @typeParam T The value's type.
 * @param value The value to send.
 * @param transferables The buffers to move; by default all found in `value`.
 * @returns A marked value, unwrapped on the way.
 * @throws {TypeError} when `transferables` is not an array of `ArrayBuffer`
 * or `MessagePort`.
 *
 * @example Move a buffer to a worker
 * ```ts no-eval
 * import { Pool, transfer } from "@parallel/multiprocessing";
 *
 * export function sum(data: Float64Array): number {
 *   return data.reduce((a, b) => a + b, 0);
 * }
 *
 * if (import.meta.main) {
 *   await using pool = new Pool(2);
 *   const data = new Float64Array(1_000_000).fill(1);
 *   console.log(await pool.apply(sum, [transfer(data)])); // 1000000
 *   console.log(data.byteLength); // 0: moved, not copied
 * }
 * ```
 */
export function transfer<T>(
  value: T,
  transferables?: Transferable[],
): Transfer<T> {
  if (transferables !== undefined) {
    const ok = Array.isArray(transferables) &&
      transferables.every((t) =>
        t instanceof ArrayBuffer || t instanceof MessagePort
      );
    if (!ok) {
      throw new TypeError(
        messages.badOption(
          "transfer() transferables",
          "an array of ArrayBuffer or MessagePort",
          transferables,
        ),
      );
    }
  }
  return markTransfer(value, transferables);
}
