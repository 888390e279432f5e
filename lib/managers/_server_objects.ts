// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The objects of a manager's server, by id, and how a request reaches its
// object: creation (an id the Manager handed out, made once), then each
// request to the operations of its object's kind. A request that arrives
// before its object's creation (which was queued behind a long message) is
// held until the creation, then served right after it. Imported by the
// server.
//
// Imports the table, the protocol, the stores, lib/_shared/liveness.ts, the
// replies, the parking, the outbox and the operations.

import { NEXT_ID, type Table } from "./_table.ts";
import * as P from "./_protocol.ts";
import { Deque, keyOf, type Stored } from "./_store.ts";
import { hasEnded } from "../_shared/liveness.ts";
import { type Answer, bad, PARKED, reply } from "./_server_replies.ts";
import type { Parking } from "./_server_parking.ts";
import type { Outbox } from "./_server_outbox.ts";
import { dictOp, namespaceOp } from "./_ops_dict.ts";
import { listOp } from "./_ops_list.ts";
import { abandon, lockOp } from "./_ops_lock.ts";
import { queueOp } from "./_ops_queue.ts";

/** A request that arrived for an object whose creation has not. */
export interface Early {
  readonly slot: number;
  readonly ticket: number;
  readonly request: P.Request;
}

/** The objects of one server. */
export class Objects {
  readonly #t: Table;
  readonly #parking: Parking;
  readonly #outbox: Outbox;
  readonly #objects = new Map<number, Stored>();
  readonly #early = new Map<number, Early[]>();
  /** Requests to run after the current one (those that came early). */
  readonly later: Early[] = [];

  constructor(t: Table, parking: Parking, outbox: Outbox) {
    this.#t = t;
    this.#parking = parking;
    this.#outbox = outbox;
  }

  /** Runs request `r` of slot `i`: its reply, or PARKED. */
  execute(i: number, ticket: number, r: P.Request): Answer {
    if (r.op >= P.CREATE_DICT && r.op <= P.CREATE_QUEUE) return this.#create(r);
    const obj = this.#objects.get(r.id);
    if (obj === undefined) {
      if (r.id < 1 || r.id > (Atomics.load(this.#t.w, NEXT_ID) >>> 0)) {
        return bad(`no object ${r.id}`);
      }
      // Made, but its creation is still on its way (it was queued behind a
      // long message): serve this after it.
      const early = this.#early.get(r.id) ?? [];
      early.push({ slot: i, ticket, request: r });
      this.#early.set(r.id, early);
      return PARKED;
    }
    switch (obj.kind) {
      case "dict":
        return dictOp(obj, r);
      case "namespace":
        return namespaceOp(obj, r);
      case "list":
        return listOp(obj, r);
      case "lock":
        return lockOp(obj, i, ticket, r, this.#parking, this.#outbox);
      case "queue":
        return queueOp(obj, i, ticket, r, this.#parking, this.#outbox);
    }
  }

  /** Frees the locks whose holder ended holding them. */
  reclaimLocks(): void {
    for (const obj of this.#objects.values()) {
      if (obj.kind === "lock" && obj.held && hasEnded(obj.holder)) {
        abandon(obj, this.#parking, this.#outbox);
      }
    }
  }

  #create(r: P.Request): Answer {
    if (
      r.id < 1 || r.id > (Atomics.load(this.#t.w, NEXT_ID) >>> 0) ||
      this.#objects.has(r.id)
    ) {
      return bad(`object id ${r.id} cannot be created`);
    }
    let obj: Stored;
    switch (r.op) {
      case P.CREATE_DICT:
      case P.CREATE_NAMESPACE: {
        if (r.items.length % 2 !== 0) return bad("an odd number of items");
        const map = new Map();
        for (let k = 0; k < r.items.length; k += 2) {
          map.set(keyOf(r.items[k]), { k: r.items[k], v: r.items[k + 1] });
        }
        obj = { kind: r.op === P.CREATE_DICT ? "dict" : "namespace", map };
        break;
      }
      case P.CREATE_LIST:
        obj = { kind: "list", items: [...r.items] };
        break;
      case P.CREATE_LOCK:
        obj = {
          kind: "lock",
          held: false,
          holder: 0,
          abandonedBy: 0,
          waiters: [],
        };
        break;
      default: {
        const maxsize = Number.isInteger(r.a) && r.a > 0 ? r.a : 0;
        obj = {
          kind: "queue",
          maxsize,
          items: new Deque(),
          getters: [],
          putters: [],
        };
      }
    }
    this.#objects.set(r.id, obj);
    const early = this.#early.get(r.id);
    if (early !== undefined) {
      // Served right after this request, in the order they came.
      this.#early.delete(r.id);
      this.later.push(...early);
    }
    return reply(P.OK);
  }
}
