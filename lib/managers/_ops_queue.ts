// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The operations of the manager's server on queues: put() (parked while
// the queue is full), get() (parked while it is empty) and qsize(). An item
// put while a get() waits goes straight to it. Imported by the server's
// objects.
//
// Imports the protocol, the stores' types, the replies, the parking and
// the outbox.

import * as P from "./_protocol.ts";
import type { QueueObject } from "./_store.ts";
import {
  type Answer,
  item,
  optTimeout,
  reply,
  values,
  waiter,
  wrongKind,
} from "./_server_replies.ts";
import type { Parking } from "./_server_parking.ts";
import type { Outbox } from "./_server_outbox.ts";

/** Runs the queue request `r` (of slot `i`, ticket `ticket`) on `q`. */
export function queueOp(
  q: QueueObject,
  i: number,
  ticket: number,
  r: P.Request,
  parking: Parking,
  outbox: Outbox,
): Answer {
  switch (r.op) {
    case P.QUEUE_PUT: {
      const timeout = optTimeout(r.a);
      const v = item(r.items, 0);
      const getter = parking.next(q.getters);
      if (getter !== undefined) {
        outbox.answer(getter.slot, getter.ticket, values(P.OK, [v]));
        return reply(P.OK);
      }
      if (q.maxsize === 0 || q.items.length < q.maxsize) {
        q.items.push(v);
        return reply(P.OK);
      }
      if (timeout === 0) return reply(P.FULL, 0);
      return parking.park(
        q.putters,
        waiter(i, ticket, timeout, r.pid, v),
        P.FULL,
      );
    }
    case P.QUEUE_GET: {
      const timeout = optTimeout(r.a);
      if (q.items.length > 0) {
        const v = q.items.shift();
        const putter = parking.next(q.putters);
        if (putter !== undefined) {
          q.items.push(putter.value);
          outbox.answer(putter.slot, putter.ticket, reply(P.OK));
        }
        return values(P.OK, [v]);
      }
      if (timeout === 0) return reply(P.EMPTY, 0);
      return parking.park(
        q.getters,
        waiter(i, ticket, timeout, r.pid),
        P.EMPTY,
      );
    }
    case P.QUEUE_SIZE:
      return reply(P.OK, q.items.length);
  }
  return wrongKind(r, q);
}
