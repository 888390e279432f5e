// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The server's replies, and how it reads the arguments of a request: the
// reply builders (each writes into one reused buffer, so a reply must be
// written into its slot, or copied, before the next is built), the PARKED
// answer of a request that will be answered later, and the checks on a
// request's header numbers and items (hostile input: a bad one throws, and
// the server answers BAD_REQUEST). Imported by the server and its
// operations.
//
// Imports the protocol and the stores' types.

import * as P from "./_protocol.ts";
import type { Bytes, DictObject, Stored, Waiter } from "./_store.ts";

/** An answer that will come later. */
export const PARKED = Symbol("parked");
/** A request's answer: its reply now, or PARKED. */
export type Answer = Uint8Array | typeof PARKED;

const encoder = new TextEncoder();

const out = new P.Writer(1024);

/** A reply with `status` and the number `num`. */
export function reply(status: number, num: number = P.NONE): Uint8Array {
  return out.reset().reply(status, 0, num).view();
}

/** A reply with `status` and the values `items`. */
export function values(status: number, items: Bytes[]): Uint8Array {
  out.reset().reply(status, items.length, P.NONE);
  for (const v of items) out.item(v);
  return out.view();
}

/** A BAD_REQUEST reply saying `why`. */
export function bad(why: string): Uint8Array {
  return out.reset().reply(P.BAD_REQUEST, 1, P.NONE).item(encoder.encode(why))
    .view();
}

/** An OK reply with the keys and values of `d`, in turn. */
export function entries(d: DictObject): Uint8Array {
  out.reset().reply(P.OK, d.map.size * 2, P.NONE);
  for (const e of d.map.values()) out.item(e.k).item(e.v);
  return out.view();
}

/** The reply to an operation that does not apply to `obj`. */
export function wrongKind(r: P.Request, obj: Stored): Uint8Array {
  return bad(`operation ${r.op} does not apply to a ${obj.kind}`);
}

/** Item `k` of a request, which must have it. */
export function item(items: Bytes[], k: number): Bytes {
  if (k >= items.length) throw new RangeError(`item ${k} is missing`);
  return items[k];
}

/** A header number that must be an integer. */
export function int(x: number): number {
  if (!Number.isSafeInteger(x)) throw new RangeError(`index ${x}`);
  return x;
}

/** A header number that must be an integer, or NONE. */
export function optInt(x: number): number {
  return Number.isNaN(x) ? x : int(x);
}

/** A timeout in ms (NONE: no limit). */
export function optTimeout(x: number): number {
  if (Number.isNaN(x)) return Infinity;
  if (!(x >= 0)) throw new RangeError(`timeout ${x}`);
  return x;
}

/** A parked request of slot `slot`, timing out after `timeout` ms. */
export function waiter(
  slot: number,
  ticket: number,
  timeout: number,
  pid: number,
  value?: Bytes,
): Waiter {
  const deadline = timeout === Infinity
    ? Infinity
    : performance.now() + timeout;
  return { slot, ticket, deadline, timeout, pid, value };
}
