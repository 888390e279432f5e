// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The manager's server: one loop on a dedicated thread that owns every
// object of the manager and answers the requests posted in the slots of the
// shared table (_table.ts), one at a time, so every operation is atomic.
//
// The loop scans the slots; requests found in one scan are served in ticket
// order (a thread's requests keep the order it made them). With nothing to
// do it may spin on the BELL word for SPIN_MS, so that a client calling
// again at once is answered without a wake-up: it does while most recent
// spins caught a request (_spin.ts: on a busy machine they do not, and the
// spinning only takes a CPU from the clients). Then it sleeps on BELL with
// Atomics.wait, at most until the next timeout of a parked request or
// RECLAIM_MS. The thread runs nothing else, so blocking it is free; it is
// unreferenced, so it never keeps the program alive.
//
// Requests that must wait (a held lock, an empty or full queue) are parked
// (_server_parking.ts): their slot stays SERVING, and the answer is written
// when the lock is released, an item arrives, or the timeout passes.
//
// Every word and byte of the table may have been written by hostile code
// (a scoped worker holding a proxy): the inbox (_server_inbox.ts) checks
// every length, a malformed request gets a BAD_REQUEST reply, and nothing a
// request holds can throw out of the loop.
//
// The parts: _server_inbox.ts takes requests out of the slots,
// _server_objects.ts and the _ops_*.ts files run them, _server_outbox.ts
// writes the replies, _server_parking.ts holds those that must wait.
//
// Imports the table, the protocol, the server's parts, the spinner and
// lib/_shared/liveness.ts.

import {
  ACK,
  BELL,
  DOWN,
  DOWN_OWNER_ENDED,
  IDLE,
  MORE,
  OWNER_PID,
  REPLY_ACK,
  REQUEST,
  S_OWNER,
  S_STATE,
  S_TICKET,
  SERVING,
  SLEEPING,
  slotCount,
  slotWord,
  type Table,
  TICKET,
} from "./_table.ts";
import * as P from "./_protocol.ts";
import { type Answer, bad, PARKED } from "./_server_replies.ts";
import { Inbox } from "./_server_inbox.ts";
import { Outbox } from "./_server_outbox.ts";
import { Parking } from "./_server_parking.ts";
import { Objects } from "./_server_objects.ts";
import { hasEnded } from "../_shared/liveness.ts";
import { SPIN_MS, Spinner } from "./_spin.ts";

/** The longest sleep (ms): the loop then looks for slots and locks whose
 * threads ended. */
const RECLAIM_MS = 250;

/** How long (ms) the loop holds back later requests while an earlier ticket
 * has not come in. A client posts its request right after it takes its
 * ticket, so a gap that lasts this long is a client that ended (or a
 * hostile one) between the two: the loop then goes on without it. */
const TICKET_GAP_MS = 5;

/** The server of one table. `serve()` runs until the manager is down. */
export class Server {
  readonly #t: Table;
  readonly #inbox: Inbox;
  readonly #outbox: Outbox;
  readonly #parking: Parking;
  readonly #objects: Objects;
  #lastReclaim = 0;
  readonly #spinner = new Spinner();
  /** The ticket to serve next: requests are served in ticket order, so the
   * requests of one thread keep their order even when a scan reads a later
   * slot after its request came and an earlier one before its did. */
  #next: number;
  /** When the loop began to wait for ticket `#next` (0: not waiting). */
  #gapSince = 0;

  constructor(t: Table) {
    this.#t = t;
    this.#inbox = new Inbox(t);
    this.#outbox = new Outbox(t);
    this.#parking = new Parking(this.#outbox);
    this.#objects = new Objects(t, this.#parking, this.#outbox);
    this.#next = Atomics.load(t.w, TICKET);
  }

  /** Runs the loop until the manager is down. */
  serve(): void {
    const w = this.#t.w;
    for (;;) {
      if (Atomics.load(w, DOWN) !== 0) return;
      const bell = Atomics.load(w, BELL);
      const worked = this.#scan();
      const next = this.#parking.expire();
      if (worked) continue;
      if (this.#spin(bell)) continue;
      const now = performance.now();
      if (now - this.#lastReclaim >= RECLAIM_MS) {
        this.#lastReclaim = now;
        this.#reclaim();
      }
      const sleep = Math.max(0, Math.min(RECLAIM_MS, next - now));
      Atomics.store(w, SLEEPING, 1);
      if (Atomics.load(w, BELL) === bell) Atomics.wait(w, BELL, bell, sleep);
      Atomics.store(w, SLEEPING, 0);
    }
  }

  /** Spins until BELL moves (true) or SPIN_MS pass (false), when spinning
   * pays (see _spin.ts). */
  #spin(bell: number): boolean {
    return this.#spinner.while(this.#t.w, BELL, (b) => b === bell, SPIN_MS) !==
      bell;
  }

  /** Serves every slot that holds something; true if any did. */
  #scan(): boolean {
    // The count first: it remakes the views when the table grew.
    const n = slotCount(this.#t);
    const w = this.#t.w;
    let ready: number[] | undefined;
    let worked = false;
    for (let i = 0; i < n; i++) {
      const state = Atomics.load(w, slotWord(i, S_STATE));
      if (state === REQUEST) {
        (ready ??= []).push(i);
      } else if (state === MORE) {
        worked = true;
        this.#takeFrame(i);
      } else if (state === REPLY_ACK) {
        worked = true;
        this.#outbox.sendFrame(i);
      }
    }
    if (ready === undefined) return worked;
    const tickets = ready.map((i) => Atomics.load(w, slotWord(i, S_TICKET)));
    const order = ready.map((_, k) => k);
    if (order.length > 1) {
      order.sort((x, y) => (tickets[x]! - tickets[y]!) | 0);
    }
    for (const k of order) {
      const ticket = tickets[k]!;
      if (((ticket - this.#next) | 0) > 0) {
        // An earlier ticket is not in yet: wait for it, a little.
        const now = performance.now();
        if (this.#gapSince === 0) this.#gapSince = now;
        if (now - this.#gapSince < TICKET_GAP_MS) return true;
      }
      this.#gapSince = 0;
      if (((ticket - this.#next) | 0) >= 0) this.#next = (ticket + 1) | 0;
      this.#takeRequest(ready[k]!, ticket);
    }
    return true;
  }

  // ---- requests in ----------------------------------------------------------

  /** A MORE frame: keep it, acknowledge it. */
  #takeFrame(i: number): void {
    const w = this.#t.w;
    Atomics.store(w, slotWord(i, S_STATE), SERVING);
    const error = this.#inbox.more(i);
    if (error !== undefined) {
      this.#outbox.answer(
        i,
        Atomics.load(w, slotWord(i, S_TICKET)),
        bad(error),
      );
      return;
    }
    this.#outbox.setState(i, ACK);
  }

  /** A REQUEST frame: the whole request is in; serve it. */
  #takeRequest(i: number, ticket: number): void {
    Atomics.store(this.#t.w, slotWord(i, S_STATE), SERVING);
    const bytes = this.#inbox.last(i);
    if (typeof bytes === "string") {
      this.#outbox.answer(i, ticket, bad(bytes));
      return;
    }
    let request: P.Request;
    try {
      request = P.readRequest(bytes);
    } catch (err) {
      this.#outbox.answer(i, ticket, bad((err as Error).message));
      return;
    }
    this.#run(i, ticket, request);
  }

  /** Runs a parsed request; answers it now or parks it. */
  #run(i: number, ticket: number, request: P.Request): void {
    let answer: Answer;
    try {
      answer = this.#objects.execute(i, ticket, request);
    } catch (err) {
      answer = bad(err instanceof Error ? err.message : String(err));
    }
    if (answer !== PARKED) this.#outbox.answer(i, ticket, answer);
    const later = this.#objects.later.shift();
    if (later !== undefined) this.#run(later.slot, later.ticket, later.request);
  }

  // ---- threads that ended -----------------------------------------------------

  /**
   * Frees the slots of threads that ended (their parked requests are
   * dropped), and reports locks whose holder ended.
   */
  #reclaim(): void {
    // The count first: it remakes the views when the table grew.
    const n = slotCount(this.#t);
    const w = this.#t.w;
    // The manager belongs to the process that made it: when that one ends
    // (a worker, whose threads the runtime does not end with it), so does
    // the manager, rather than live on unreachable by its owner.
    const owner = Atomics.load(w, OWNER_PID);
    if (hasEnded(owner)) {
      Atomics.compareExchange(w, DOWN, 0, DOWN_OWNER_ENDED);
      return;
    }
    for (let i = 0; i < n; i++) {
      const owner = Atomics.load(w, slotWord(i, S_OWNER));
      if (owner <= 0 || !hasEnded(owner)) continue;
      this.#parking.drop(i);
      this.#inbox.drop(i);
      this.#outbox.drop(i);
      Atomics.store(w, slotWord(i, S_STATE), IDLE);
      Atomics.compareExchange(w, slotWord(i, S_OWNER), owner, 0);
    }
    this.#objects.reclaimLocks();
  }
}
