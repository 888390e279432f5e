// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Allocating shared memory with an error that says how much was asked for and
// what to change, where V8 says only "Array buffer allocation failed".
// Imports the message table only.

import { messages } from "../_messages.ts";

/**
 * A `SharedArrayBuffer` of `bytes` bytes.
 *
 * @param bytes The size.
 * @param what What it is for, for the message: "a SharedArray of 2 ** 40 "d"".
 * @param fix What to change, for the message.
 * @throws {RangeError} when the memory cannot be had.
 */
export function sharedBuffer(
  bytes: number,
  what: string,
  fix: string,
): SharedArrayBuffer {
  try {
    return new SharedArrayBuffer(bytes);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new RangeError(messages.allocationFailed(what, bytes, fix), {
      cause: err,
    });
  }
}
