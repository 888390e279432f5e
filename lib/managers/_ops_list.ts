// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The operations of the manager's server on lists, with Python's indexing
// and slicing. Imported by the server's objects.
//
// Imports the protocol, the stores and the replies.

import * as P from "./_protocol.ts";
import {
  insertAt,
  type ListObject,
  pyIndex,
  sameBytes,
  sliceBound,
} from "./_store.ts";
import {
  type Answer,
  int,
  item,
  optInt,
  reply,
  values,
  wrongKind,
} from "./_server_replies.ts";

/** Runs the list request `r` on `l`. */
export function listOp(l: ListObject, r: P.Request): Answer {
  const items = r.items;
  const n = l.items.length;
  switch (r.op) {
    case P.LIST_GET: {
      const at = pyIndex(int(r.a), n);
      return at < 0 ? reply(P.OUT_OF_RANGE, n) : values(P.OK, [l.items[at]]);
    }
    case P.LIST_SET: {
      const at = pyIndex(int(r.a), n);
      if (at < 0) return reply(P.OUT_OF_RANGE, n);
      l.items[at] = item(items, 0);
      return reply(P.OK);
    }
    case P.LIST_APPEND:
      l.items.push(item(items, 0));
      return reply(P.OK);
    case P.LIST_EXTEND:
      for (const v of items) l.items.push(v);
      return reply(P.OK);
    case P.LIST_INSERT:
      l.items.splice(insertAt(int(r.a), n), 0, item(items, 0));
      return reply(P.OK);
    case P.LIST_POP: {
      if (n === 0) return reply(P.OUT_OF_RANGE, 0);
      const at = Number.isNaN(r.a) ? n - 1 : pyIndex(int(r.a), n);
      if (at < 0) return reply(P.OUT_OF_RANGE, n);
      return values(P.OK, l.items.splice(at, 1));
    }
    case P.LIST_REMOVE:
    case P.LIST_INDEX: {
      const v = item(items, 0);
      const from = sliceBound(optInt(r.a), n, 0);
      const to = sliceBound(optInt(r.b), n, n);
      for (let k = from; k < to; k++) {
        if (!sameBytes(l.items[k], v)) continue;
        if (r.op === P.LIST_INDEX) return reply(P.OK, k);
        l.items.splice(k, 1);
        return reply(P.OK);
      }
      return reply(P.NOT_FOUND);
    }
    case P.LIST_LENGTH:
      return reply(P.OK, n);
    case P.LIST_SLICE: {
      const from = sliceBound(optInt(r.a), n, 0);
      const to = sliceBound(optInt(r.b), n, n);
      return values(P.OK, l.items.slice(from, Math.max(from, to)));
    }
  }
  return wrongKind(r, l);
}
