// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// What every proxy method uses: `call`, which encodes one request, sends it
// with the thread's client, and turns the reply into a value or an error;
// the reply readers; the argument checks. Imported by the proxies and the
// Manager.
//
// Imports the client, the protocol, the values' codec, lib/_shared/,
// lib/_check.ts, lib/errors.ts and the message table.

import { clientFor } from "./_client.ts";
import * as P from "./_protocol.ts";
import { decodeValue, encodeValue } from "./_values.ts";
import { checkTimeout } from "../_check.ts";
import { messages } from "../_messages.ts";
import { AbandonedLockError } from "../errors.ts";
import type { BaseProxy } from "./base_proxy.ts";

/** What the proxy of each kind is called in messages. */
export type Kind = "dict" | "list" | "namespace" | "lock" | "queue";

/** A request's items: values, and how to name each in a DataCloneError. */
export type Items = readonly (readonly [value: unknown, what: string])[];

const NO_ITEMS: Items = [];
const scratch = new P.Writer(1024);
let scratchBusy = false;

/**
 * Sends one request about `proxy`'s object, and resolves with `then` of the
 * reply. Never throws: every failure is a rejection.
 *
 * @param kind The object's kind, for messages ("the dict").
 * @param op The operation (a _protocol.ts code).
 * @param a, b The header numbers (an index, a timeout), or NONE.
 * @param items The values to send, each with its name for errors.
 * @param long Whether the request may wait long (acquire, get, put).
 * @param then Turns the reply (status OK, MISSING, ...) into the result.
 */
export function call<T>(
  proxy: BaseProxy,
  kind: Kind,
  op: number,
  a: number,
  b: number,
  items: Items,
  long: boolean,
  then: (reply: P.Reply) => T,
): Promise<T> {
  try {
    const what = `the ${kind}`;
    const client = clientFor(proxy.$manager, proxy.$table);
    // Only the DOWN word here: a manager whose owner ended is found by the
    // waits, which a request to it comes to (its server is gone with it).
    const down = client.isDown(what);
    if (down !== undefined) throw down;
    // A getter of a value being encoded may call a proxy itself: it then
    // gets a buffer of its own.
    const w = scratchBusy ? new P.Writer() : scratch;
    const own = w === scratch;
    scratchBusy = true;
    let bytes: Uint8Array;
    try {
      w.reset().request(op, proxy.$id, a, b, client.pid, items.length);
      for (const [value, name] of items) {
        w.item(value === undefined ? undefined : encodeValue(value, name));
      }
      bytes = w.view();
    } finally {
      if (own) scratchBusy = false;
    }
    const sent = client.send(bytes, long, what);
    if (sent instanceof Uint8Array) {
      return Promise.resolve(then(check(sent, what)));
    }
    return sent.then((r) => then(check(r, what)));
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Sends a request without items. */
export function ask<T>(
  proxy: BaseProxy,
  kind: Kind,
  op: number,
  then: (reply: P.Reply) => T,
  a: number = P.NONE,
  b: number = P.NONE,
): Promise<T> {
  return call(proxy, kind, op, a, b, NO_ITEMS, false, then);
}

/** Parses a reply and throws the errors any request may get. */
function check(bytes: Uint8Array, what: string): P.Reply {
  if (bytes.length === 0) throw new Error(messages.managerUnreachable(what));
  let reply: P.Reply;
  try {
    reply = P.readReply(bytes);
  } catch (err) {
    throw new Error(messages.managerCorrupt((err as Error).message));
  }
  switch (reply.status) {
    case P.BAD_REQUEST:
      throw new Error(
        messages.managerRefused(
          what,
          new TextDecoder().decode(reply.items[0] ?? new Uint8Array(0)),
        ),
      );
    case P.MANAGER_DOWN:
      throw new Error(messages.managerShutDown(what));
    case P.UNREACHABLE:
      throw new Error(messages.managerUnreachable(what));
    case P.ABANDONED:
      throw new AbandonedLockError(
        messages.abandoned("manager's lock", reply.num),
        reply.num,
      );
  }
  return reply;
}

// ---- reply readers ---------------------------------------------------------

/** The reply's first value. */
export function first<T>(reply: P.Reply): T {
  return decodeValue(reply.items[0]) as T;
}

/** The reply's values. */
export function all<T>(reply: P.Reply): T[] {
  return reply.items.map(decodeValue) as T[];
}

/** The reply's values, taken two by two. */
export function pairs<K, V>(reply: P.Reply): [K, V][] {
  const out: [K, V][] = [];
  const items = reply.items;
  for (let i = 0; i + 1 < items.length; i += 2) {
    out.push([decodeValue(items[i]) as K, decodeValue(items[i + 1]) as V]);
  }
  return out;
}

/** Nothing. */
export function none(): void {}

/** The reply's number. */
export function num(reply: P.Reply): number {
  return reply.num;
}

/** The reply's number, as a boolean. */
export function bool(reply: P.Reply): boolean {
  return reply.num === 1;
}

// ---- argument checks -----------------------------------------------------------

/**
 * A list index (or slice bound, or insert position): an integer.
 *
 * @throws {TypeError} when it is not a number.
 * @throws {RangeError} when it is not an integer (1.5, NaN, Infinity).
 */
export function intArg(value: unknown, what: string): number {
  if (typeof value !== "number") {
    throw new TypeError(messages.badOption(what, "an integer", value));
  }
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(messages.badOption(what, "an integer", value));
  }
  return value;
}

/** An optional index: NONE when absent. */
export function optIntArg(value: unknown, what: string): number {
  return value === undefined ? P.NONE : intArg(value, what);
}

/** A timeout in ms: NONE when absent (no limit). */
export function timeoutOf(value: unknown, what: string): number {
  return checkTimeout(value, what) ?? P.NONE;
}

/** The error of a reply status a request did not expect. */
export function unexpected(reply: P.Reply): Error {
  return new Error(messages.managerCorrupt(`status ${reply.status}`));
}
