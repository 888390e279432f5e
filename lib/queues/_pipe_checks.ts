// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The private checks of pipe.ts's `Connection`: the checks of an end
// before it sends or receives, and the checks of the bytes of `sendBytes()`
// and `recvBytes()`. Module functions, not private methods: a Connection
// revived in a worker has the prototype but none of the class's private
// names.
//
// Imports lib/_messages.ts and a type from ./_ring.ts only.

import type { Ring } from "./_ring.ts";
import { messages } from "../_messages.ts";

/** What `writer` and `reader` read of a `Connection`. */
interface End {
  readonly closed: boolean;
  readonly $in: Ring | null;
  readonly $out: Ring | null;
}

/** The ring `conn` writes; throws when it is closed or only receives. */
export function writer(conn: End, op: string): Ring {
  if (conn.closed) throw new Error(messages.connectionClosed(op));
  if (conn.$out === null) throw new Error(messages.receiveOnly());
  return conn.$out;
}

/** The ring `conn` reads; throws when it is closed or only sends. */
export function reader(conn: End, op: string): Ring {
  if (conn.closed) throw new Error(messages.connectionClosed(op));
  if (conn.$in === null) throw new Error(messages.sendOnly(op));
  return conn.$in;
}

/** A copy of the `size` bytes of `data` from byte `offset`, for
 * `sendBytes()`: a view would carry its whole buffer. */
export function bytesToSend(
  data: unknown,
  offset: unknown,
  size: unknown,
): Uint8Array {
  const all = bytesOf(data);
  const from = byteCount(offset, "offset", all.length, 0);
  const n = byteCount(size, "size", all.length - from, all.length - from);
  return all.slice(from, from + n);
}

/** The most bytes `recvBytes(maxLength)` accepts: `Infinity` when
 * `maxLength` is absent; throws when it is not an integer of 0 or more. */
export function maxLengthOf(maxLength: unknown): number {
  return byteCount(maxLength, "maxLength", Infinity, Infinity);
}

/** What `recvBytes()` returns for the received value `got`: its bytes in
 * a buffer of their own; throws when `got` is not bytes or is longer than
 * `max`. */
export function receivedBytes(got: unknown, max: number): Uint8Array {
  if (!(got instanceof Uint8Array)) {
    throw new TypeError(messages.notBytes(kindOf(got)));
  }
  if (got.length > max) {
    throw new RangeError(messages.bytesTooLong(got.length, max));
  }
  // node:v8 gives a view into the buffer it read from: copy, so that the
  // caller's `.buffer` holds these bytes and no others.
  return got.byteOffset === 0 && got.byteLength === got.buffer.byteLength
    ? got
    : got.slice();
}

/** The bytes of `data`, as a view (not a copy). */
function bytesOf(data: unknown): Uint8Array {
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) {
    return new Uint8Array(data);
  }
  throw new TypeError(
    messages.badOption(
      "sendBytes() data",
      "bytes: a Uint8Array, an ArrayBuffer or another typed array or DataView",
      data,
    ),
  );
}

/** A count of bytes for `name`: `fallback` when absent, else an integer
 * from 0 to `most`. */
function byteCount(
  value: unknown,
  name: string,
  most: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const expected = most === Infinity
    ? "an integer of 0 or more"
    : `an integer from 0 to ${most}`;
  if (typeof value !== "number") {
    throw new TypeError(messages.badOption(`"${name}"`, expected, value));
  }
  if (!Number.isInteger(value) || value < 0 || value > most) {
    throw new RangeError(messages.badOption(`"${name}"`, expected, value));
  }
  return value;
}

/** The type of a received value, for a message: "string", "Array". */
function kindOf(value: unknown): string {
  if (value === null || typeof value !== "object") {
    return value === null ? "null" : typeof value;
  }
  return Object.getPrototypeOf(value)?.constructor?.name ?? "object";
}
