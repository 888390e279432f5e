// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The operations of the manager's server on locks: acquire() (parked while
// the lock is held), release(), and what happens when a holder ends holding
// it (the lock is freed, and the next acquirer told with ABANDONED).
// Imported by the server's objects.
//
// Imports the protocol, the stores' types, lib/_shared/liveness.ts, the
// replies, the parking and the outbox.

import * as P from "./_protocol.ts";
import type { LockObject } from "./_store.ts";
import { hasEnded } from "../_shared/liveness.ts";
import {
  type Answer,
  optTimeout,
  reply,
  waiter,
  wrongKind,
} from "./_server_replies.ts";
import type { Parking } from "./_server_parking.ts";
import type { Outbox } from "./_server_outbox.ts";

/** Runs the lock request `r` (of slot `i`, ticket `ticket`) on `lock`. */
export function lockOp(
  lock: LockObject,
  i: number,
  ticket: number,
  r: P.Request,
  parking: Parking,
  outbox: Outbox,
): Answer {
  switch (r.op) {
    case P.LOCK_ACQUIRE: {
      const timeout = optTimeout(r.a);
      if (lock.held && hasEnded(lock.holder)) abandon(lock, parking, outbox);
      if (lock.abandonedBy !== 0) {
        const pid = lock.abandonedBy;
        lock.abandonedBy = 0;
        return reply(P.ABANDONED, pid);
      }
      if (!lock.held) {
        lock.held = true;
        lock.holder = r.pid;
        return reply(P.OK, 1);
      }
      if (timeout === 0) return reply(P.OK, 0);
      return parking.park(
        lock.waiters,
        waiter(i, ticket, timeout, r.pid),
        P.OK,
      );
    }
    case P.LOCK_RELEASE:
      if (!lock.held) return reply(P.NOT_HELD);
      lock.held = false;
      lock.holder = 0;
      grant(lock, parking, outbox);
      return reply(P.OK);
  }
  return wrongKind(r, lock);
}

/** The holder of `lock` ended holding it: free it, and tell the next
 * acquirer (now or later) with ABANDONED. */
export function abandon(
  lock: LockObject,
  parking: Parking,
  outbox: Outbox,
): void {
  const pid = lock.holder;
  lock.held = false;
  lock.holder = 0;
  const waiter = parking.next(lock.waiters);
  if (waiter === undefined) {
    lock.abandonedBy = pid;
    return;
  }
  outbox.answer(waiter.slot, waiter.ticket, reply(P.ABANDONED, pid));
  grant(lock, parking, outbox);
}

/** Gives a free lock to its next waiter, if any. */
function grant(lock: LockObject, parking: Parking, outbox: Outbox): void {
  if (lock.held) return;
  const waiter = parking.next(lock.waiters);
  if (waiter === undefined) return;
  lock.held = true;
  lock.holder = waiter.pid;
  outbox.answer(waiter.slot, waiter.ticket, reply(P.OK, 1));
}
