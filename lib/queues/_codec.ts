// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Values to bytes and back, for queues and pipes. Imported by both sides.
//
// Structured-clone semantics, as `node:v8`'s serialize/deserialize give. In
// Deno those cost ~10-20 µs for a small object, so values that JSON carries
// exactly (plain objects and dense arrays of strings, finite numbers other
// than -0, booleans and null, without shared references) go as JSON, which
// costs ~1-2 µs. The first byte says which.
//
// Imports node:v8, lib/_shared/clone.ts and lib/_messages.ts only.

import { deserialize, serialize } from "node:v8";
import { cloneError } from "../_shared/clone.ts";
import { messages } from "../_messages.ts";

/** The first byte of a record: JSON text follows. */
const JSON_TAG = 1;
/** The first byte of a record: `node:v8` serialized bytes follow. */
const V8_TAG = 2;
/** Deeper values go the V8 way, without checking further. */
const JSON_MAX_DEPTH = 64;
/** The scratch buffer's first size, in bytes; it grows as needed. */
const SCRATCH_BYTES = 4096;
/** The most UTF-8 bytes one UTF-16 code unit encodes to. */
const UTF8_PER_UNIT = 3;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Objects met on the current path and before (shared references are kept
// by structured clone, duplicated by JSON).
let seen: Set<object> | null = null;

/** Whether JSON round-trips `value` exactly. */
function jsonExact(value: unknown, depth: number): boolean {
  if (depth === 0) seen = null;
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object":
      break;
    default:
      return false;
  }
  if (value === null) return true;
  seen ??= new Set();
  if (depth > JSON_MAX_DEPTH || seen.has(value)) return false;
  seen.add(value);
  if (Array.isArray(value)) {
    const n = value.length;
    for (let i = 0; i < n; i++) {
      if (!(i in value) || !jsonExact(value[i], depth + 1)) return false;
    }
    // Extra named properties survive structured clone, not JSON. All n
    // indices exist, so any further key is one.
    let keys = 0;
    for (const _ in value) keys++;
    return keys === n;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) {
    if (!jsonExact((value as Record<string, unknown>)[key], depth + 1)) {
      return false;
    }
  }
  return true;
}

let scratch = new Uint8Array(SCRATCH_BYTES);
let scratchBody = scratch.subarray(1);

function grow(n: number): void {
  if (scratch.length >= n) return;
  scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  scratchBody = scratch.subarray(1);
}

/**
 * Encodes `value` as bytes. `what` names it in a `DataCloneError` when
 * structured clone cannot carry it. The bytes may be a view of a buffer
 * that the next call reuses: copy them before anything else encodes.
 */
export function encode(value: unknown, what: string): Uint8Array {
  if (jsonExact(value, 0)) {
    const text = JSON.stringify(value);
    grow(1 + text.length * UTF8_PER_UNIT);
    scratch[0] = JSON_TAG;
    const { written } = encoder.encodeInto(text, scratchBody);
    return scratch.subarray(0, 1 + written);
  }
  let bytes: Uint8Array;
  try {
    bytes = serialize(value);
  } catch (err) {
    throw cloneError(value, what, err);
  }
  const out = new Uint8Array(1 + bytes.length);
  out[0] = V8_TAG;
  out.set(bytes, 1);
  return out;
}

/**
 * Takes the record of `len` bytes at `at` out of the ring area `d`
 * (wrapping at its end), as something that no longer refers to `d`: the
 * JSON text, or a copy of the V8 bytes. Runs under the ring's guard; give
 * the result to {@linkcode decode} after it.
 */
export function extract(
  d: Uint8Array,
  at: number,
  len: number,
): string | Uint8Array {
  const cap = d.length;
  const end = at + len;
  if (d[at] === JSON_TAG) {
    if (end <= cap) return decoder.decode(d.subarray(at + 1, end));
    grow(len);
    scratch.set(d.subarray(at, cap));
    scratch.set(d.subarray(0, end - cap), cap - at);
    return decoder.decode(scratch.subarray(1, len));
  }
  const out = new Uint8Array(len - 1);
  if (end <= cap) {
    out.set(d.subarray(at + 1, end));
  } else if (at + 1 < cap) {
    out.set(d.subarray(at + 1, cap));
    out.set(d.subarray(0, end - cap), cap - at - 1);
  } else {
    out.set(d.subarray(at + 1 - cap, end - cap));
  }
  return out;
}

/**
 * The value of what {@linkcode extract} took. `what` names the queue or pipe
 * in the error for bytes that do not decode, which only a process writing
 * garbage into the shared buffer leaves.
 */
export function decode(
  taken: string | Uint8Array,
  what = "queue or pipe",
): unknown {
  try {
    return typeof taken === "string" ? JSON.parse(taken) : deserialize(taken);
  } catch (err) {
    throw new Error(messages.itemCorrupt(what, String(err)), { cause: err });
  }
}
