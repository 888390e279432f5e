// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The operations of the manager's server on dicts and namespaces (a
// namespace is a dict of names). Imported by the server's objects.
//
// Imports the protocol, the stores and the replies.

import * as P from "./_protocol.ts";
import { type Bytes, type DictObject, keyOf } from "./_store.ts";
import {
  type Answer,
  bad,
  entries,
  item,
  reply,
  values,
  wrongKind,
} from "./_server_replies.ts";

/** Runs the dict request `r` on `d`. */
export function dictOp(d: DictObject, r: P.Request): Answer {
  const items = r.items;
  switch (r.op) {
    case P.DICT_GET: {
      const e = d.map.get(keyOf(item(items, 0)));
      return e === undefined ? reply(P.MISSING) : values(P.OK, [e.v]);
    }
    case P.DICT_SET:
      return put(d, items);
    case P.DICT_HAS:
      return reply(P.OK, d.map.has(keyOf(item(items, 0))) ? 1 : 0);
    case P.DICT_DELETE:
      return reply(P.OK, d.map.delete(keyOf(item(items, 0))) ? 1 : 0);
    case P.DICT_POP: {
      const key = keyOf(item(items, 0));
      const e = d.map.get(key);
      if (e === undefined) return reply(P.MISSING);
      d.map.delete(key);
      return values(P.OK, [e.v]);
    }
    case P.DICT_SET_DEFAULT: {
      const key = keyOf(item(items, 0));
      const e = d.map.get(key);
      if (e !== undefined) return values(P.OK, [e.v]);
      const v = item(items, 1);
      d.map.set(key, { k: items[0], v });
      return values(P.OK, [v]);
    }
    case P.DICT_UPDATE: {
      if (items.length % 2 !== 0) return bad("an odd number of items");
      for (let k = 0; k < items.length; k += 2) {
        const key = keyOf(items[k]);
        const e = d.map.get(key);
        if (e !== undefined) e.v = items[k + 1];
        else d.map.set(key, { k: items[k], v: items[k + 1] });
      }
      return reply(P.OK);
    }
    case P.DICT_KEYS:
      return values(P.OK, [...d.map.values()].map((e) => e.k));
    case P.DICT_VALUES:
      return values(P.OK, [...d.map.values()].map((e) => e.v));
    case P.DICT_ENTRIES:
      return entries(d);
    case P.DICT_SIZE:
      return reply(P.OK, d.map.size);
    case P.DICT_CLEAR:
      d.map.clear();
      return reply(P.OK);
  }
  return wrongKind(r, d);
}

/** Runs the namespace request `r` on `d`. */
export function namespaceOp(d: DictObject, r: P.Request): Answer {
  const items = r.items;
  switch (r.op) {
    case P.NAMESPACE_GET:
      if (d.kind !== "namespace") break;
      return dictOp(d, { ...r, op: P.DICT_GET });
    case P.NAMESPACE_SET:
      if (d.kind !== "namespace") break;
      return put(d, items);
    case P.NAMESPACE_ENTRIES:
      if (d.kind !== "namespace") break;
      return entries(d);
  }
  return wrongKind(r, d);
}

/** Sets key item 0 to value item 1. */
function put(d: DictObject, items: Bytes[]): Uint8Array {
  const key = keyOf(item(items, 0));
  const v = item(items, 1);
  const e = d.map.get(key);
  if (e !== undefined) e.v = v;
  else d.map.set(key, { k: items[0], v });
  return reply(P.OK);
}
