// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The marks that `transfer()` puts on a value, so that its buffers move to
// the other side instead of being copied: making a mark, finding the marked
// buffers a value holds, and unwrapping a mark into a transfer list.
// Imported by both sides.
//
// Imports only a type, from lib/pool/transfer.ts (where the public
// `Transfer` is defined, beside `transfer()`): nothing at run time.

import type { Transfer } from "../pool/transfer.ts";

/** Adds the transferables found in `value` to `out`. */
function collect(
  value: unknown,
  out: Set<Transferable>,
  seen: Set<unknown>,
): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (value instanceof ArrayBuffer) {
    out.add(value);
    return;
  }
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) out.add(value.buffer);
    return;
  }
  if (value instanceof MessagePort) {
    out.add(value);
    return;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) {
      collect(k, out, seen);
      collect(v, out, seen);
    }
    return;
  }
  if (value instanceof Set) {
    for (const v of value) collect(v, out, seen);
    return;
  }
  for (const v of Object.values(value)) collect(v, out, seen);
}

/** Which of `marked` (a batch's transfer list) `value` holds. */
export function transfersIn(
  value: unknown,
  marked: readonly Transferable[],
): Transferable[] {
  if (marked.length === 0) return [];
  const found = new Set<Transferable>();
  collect(value, found, new Set());
  return marked.filter((t) => found.has(t));
}

/** Marks `value` so that its ArrayBuffers (found in it, or `list`) move. */
export function markTransfer<T>(value: T, list?: Transferable[]): Transfer<T> {
  let buffers = list;
  if (buffers === undefined) {
    const found = new Set<Transferable>();
    collect(value, found, new Set());
    buffers = [...found];
  }
  return { $transfer: true, value, list: buffers };
}

/** If `value` is marked, unwraps it and adds its buffers to `transfer`. */
export function unwrapTransfer(
  value: unknown,
  transfer: Transferable[],
): unknown {
  if (
    value !== null && typeof value === "object" &&
    (value as Partial<Transfer<unknown>>).$transfer === true
  ) {
    const t = value as Transfer<unknown>;
    for (const b of t.list) if (!transfer.includes(b)) transfer.push(b);
    return t.value;
  }
  return value;
}
