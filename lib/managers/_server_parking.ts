// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The server's parked requests: those that must wait (a held lock, an empty
// or full queue). A parked request's slot stays SERVING; it is answered
// when the lock is released, an item arrives, or its timeout passes (then
// with the status it was parked with). Imported by the server and the lock
// and queue operations.
//
// Imports the protocol, the stores' types, the replies and the outbox.

import * as P from "./_protocol.ts";
import type { Waiter } from "./_store.ts";
import { PARKED, reply } from "./_server_replies.ts";
import type { Outbox } from "./_server_outbox.ts";

/** A parked request. */
interface Parked {
  readonly waiter: Waiter;
  readonly list: Waiter[];
  /** The status of its reply when its time runs out. */
  readonly expired: number;
}

/** The parked requests of one server. */
export class Parking {
  readonly #outbox: Outbox;
  /** Parked requests by slot: the list that holds each, and the reply
   * it gets when its time runs out. */
  readonly #parked = new Map<number, Parked>();
  /** The earliest deadline of a parked request (it may have been answered
   * since: then `expire` finds the next one). */
  #nextDeadline = Infinity;

  constructor(outbox: Outbox) {
    this.#outbox = outbox;
  }

  /** Parks `waiter` in `list`; when its time runs out, it is answered with
   * status `expired`. */
  park(list: Waiter[], waiter: Waiter, expired: number): typeof PARKED {
    list.push(waiter);
    this.#parked.set(waiter.slot, { waiter, list, expired });
    this.#nextDeadline = Math.min(this.#nextDeadline, waiter.deadline);
    return PARKED;
  }

  /** Takes the first waiter of `list` whose slot still waits for it. */
  next(list: Waiter[]): Waiter | undefined {
    for (;;) {
      const waiter = list.shift();
      if (waiter === undefined) return undefined;
      if (this.#parked.get(waiter.slot)?.waiter !== waiter) continue;
      this.#parked.delete(waiter.slot);
      return waiter;
    }
  }

  /** Answers the parked requests whose time ran out; returns the next
   * deadline (Infinity for none). */
  expire(): number {
    if (this.#parked.size === 0 || this.#nextDeadline === Infinity) {
      return Infinity;
    }
    const now = performance.now();
    // Nothing is due yet: no need to look at each parked request.
    if (now < this.#nextDeadline) return this.#nextDeadline;
    let next = Infinity;
    for (const [slot, { waiter, list, expired }] of this.#parked) {
      if (waiter.deadline > now) {
        next = Math.min(next, waiter.deadline);
        continue;
      }
      this.#parked.delete(slot);
      list.splice(list.indexOf(waiter), 1);
      // A lock's acquire() answers false (OK, 0); a queue's get() or put()
      // answers EMPTY or FULL with its timeout.
      const num = expired === P.OK ? 0 : waiter.timeout;
      this.#outbox.answer(slot, waiter.ticket, reply(expired, num));
    }
    this.#nextDeadline = next;
    return next;
  }

  /** Drops slot `i`'s parked request, if any (its thread ended). */
  drop(i: number): void {
    const parked = this.#parked.get(i);
    if (parked === undefined) return;
    this.#parked.delete(i);
    parked.list.splice(parked.list.indexOf(parked.waiter), 1);
  }
}
