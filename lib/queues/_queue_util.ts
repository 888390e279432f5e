// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// What Queue, JoinableQueue, SimpleQueue and Pipe share: their options
// checked into a ring, items checked against it, and the errors of a refused
// put or get. Imported by both sides.
//
// Imports the ring and its codec, lib/_messages.ts and lib/errors.ts, and the
// `QueueOptions` type from queue.ts.

import { encode } from "./_codec.ts";
import {
  capacity,
  CLOSED_CODE,
  createRing,
  fits,
  FULL,
  MAX_CAPACITY,
  MAX_MAXSIZE,
  MIN_CAPACITY,
  type Ring,
} from "./_ring.ts";
import type { QueueOptions } from "./queue.ts";
import { messages } from "../_messages.ts";
import { Empty, EOFError, Full } from "../errors.ts";

/** The default capacity of a queue or of each direction of a pipe: 1 MiB. */
export const DEFAULT_CAPACITY_BYTES = 1_048_576;

/** Checks queue options; the ring they describe. */
export function ringFrom(
  options: number | QueueOptions | undefined,
  what: string,
): Ring {
  const o: QueueOptions = typeof options === "number"
    ? { maxsize: options }
    : options ?? {};
  if (o === null || typeof o !== "object") {
    throw new TypeError(
      messages.badOption(
        `${what} options`,
        "a maxsize number or an object such as { maxsize, capacityBytes }",
        options,
      ),
    );
  }
  const max = o.maxsize ?? 0;
  if (!Number.isInteger(max) || max < 0 || max > MAX_MAXSIZE) {
    throw new RangeError(
      messages.badOption('"maxsize"', "an integer of 0 or more", max),
    );
  }
  const cap = o.capacityBytes ?? DEFAULT_CAPACITY_BYTES;
  if (!Number.isInteger(cap) || cap < MIN_CAPACITY || cap > MAX_CAPACITY) {
    throw new RangeError(
      messages.badOption(
        '"capacityBytes"',
        `an integer from ${MIN_CAPACITY} to ${MAX_CAPACITY}`,
        cap,
      ),
    );
  }
  return createRing(cap, max);
}

/** Serializes `item` for `ring`; a RangeError when it can never fit. */
export function encodeFor(ring: Ring, item: unknown, what: string): Uint8Array {
  const bytes = encode(item, "item");
  if (!fits(ring, bytes.length)) {
    throw new RangeError(
      messages.tooLarge(what, bytes.length, capacity(ring)),
    );
  }
  return bytes;
}

/** The error for a refused put. */
export function putError(code: number, timeout?: number): Error {
  if (code === FULL) return new Full(messages.full(timeout));
  return new Error(messages.queueClosed());
}

/** The error for a refused get. */
export function getError(code: number, timeout?: number): Error {
  if (code === CLOSED_CODE) return new EOFError(messages.queueEnded());
  return new Empty(messages.empty(timeout));
}
