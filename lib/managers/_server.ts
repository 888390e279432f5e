// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The manager's server: one loop on a dedicated thread that owns every
// object of the manager and answers the requests posted in the slots of the
// shared table (_table.ts), one at a time, so every operation is atomic.
//
// The loop scans the slots; requests found in one scan are served in ticket
// order (a thread's requests keep the order it made them). With nothing to
// do it may spin on the BELL word for SPIN_MS, so that a client calling
// again at once is answered without a wake-up: it does while most recent
// spins caught a request (on a busy machine they do not, and the spinning
// only takes a CPU from the clients). Then it sleeps on BELL with
// Atomics.wait, at most until the next timeout of a parked request or
// RECLAIM_MS. The thread runs nothing else, so blocking it is free; it is
// unreferenced, so it never keeps the program alive.
//
// Requests that must wait (a held lock, an empty or full queue) are parked:
// their slot stays SERVING, and the answer is written when the lock is
// released, an item arrives, or the timeout passes.
//
// Every word and byte of the table may have been written by hostile code
// (a scoped worker holding a proxy). Lengths are checked against the slot
// and MAX_MESSAGE, partial messages are kept as the frames that arrived
// (never an allocation of a size read from the table), a malformed request
// gets a BAD_REQUEST reply, and nothing a request holds can throw out of
// the loop.
//
// Imports the table, the protocol, the stores and lib/_shared/liveness.ts.

import {
  ACK,
  BELL,
  copyOut,
  DOWN,
  DOWN_OWNER_ENDED,
  IDLE,
  MAX_MESSAGE,
  MORE,
  NEXT_ID,
  OWNER_PID,
  REPLY,
  REPLY_ACK,
  REPLY_MORE,
  REQUEST,
  S_LEN,
  S_OWNER,
  S_STATE,
  S_TICKET,
  S_TOTAL,
  S_WAITING,
  SERVING,
  SLEEPING,
  SLOT_DATA,
  slotCount,
  slotData,
  slotWord,
  type Table,
} from "./_table.ts";
import * as P from "./_protocol.ts";
import {
  type Bytes,
  Deque,
  type DictObject,
  insertAt,
  keyOf,
  type ListObject,
  type LockObject,
  pyIndex,
  type QueueObject,
  sameBytes,
  sliceBound,
  type Stored,
  type Waiter,
} from "./_store.ts";
import { hasEnded } from "../_shared/liveness.ts";
import { Spinner } from "./_spin.ts";

/** How long (ms) the idle loop spins on BELL before it sleeps. */
const SPIN_MS = 0.05;
/** The share of spins that must catch a request for the loop to go on
 * spinning. */
const SPIN_WORTH = 0.5;
/** The weight of the last spin in the moving average of catches. */
const RATE_WEIGHT = 0.1;
/** How often (ms) a loop that stopped spinning tries a spin again. */
const PROBE_MS = 20;
/** The longest sleep (ms): the loop then looks for slots and locks whose
 * threads ended. */
const RECLAIM_MS = 250;

/** An answer that will come later. */
const PARKED = Symbol("parked");
type Answer = Uint8Array | typeof PARKED;

/** A request's frames received so far. */
interface Partial {
  readonly total: number;
  readonly frames: Uint8Array[];
  got: number;
}

/** A reply being sent frame by frame. */
interface Outgoing {
  readonly ticket: number;
  readonly bytes: Uint8Array;
  sent: number;
}

/** A parked request. */
interface Parked {
  readonly waiter: Waiter;
  readonly list: Waiter[];
  /** The status of its reply when its time runs out. */
  readonly expired: number;
}

/** A request that arrived for an object whose creation has not. */
interface Early {
  readonly slot: number;
  readonly ticket: number;
  readonly request: P.Request;
}

const encoder = new TextEncoder();

/** The server of one table. `serve()` runs until the manager is down. */
export class Server {
  readonly #t: Table;
  readonly #objects = new Map<number, Stored>();
  readonly #partials = new Map<number, Partial>();
  #partialBytes = 0;
  readonly #outgoing = new Map<number, Outgoing>();
  readonly #early = new Map<number, Early[]>();
  /** Parked requests by slot: the list that holds each, and the reply
   * it gets when its time runs out. */
  readonly #parked = new Map<number, Parked>();
  /** Requests to run after the current one (those that came early). */
  readonly #later: Early[] = [];
  /** The earliest deadline of a parked request (it may have been answered
   * since: then `#expire` finds the next one). */
  #nextDeadline = Infinity;
  #lastReclaim = 0;
  readonly #spinner = new Spinner();
  /** The share of recent spins that caught a request (a moving average). */
  #catchRate = 1;
  #probedAt = 0;

  constructor(t: Table) {
    this.#t = t;
  }

  /** Runs the loop until the manager is down. */
  serve(): void {
    const w = this.#t.w;
    for (;;) {
      if (Atomics.load(w, DOWN) !== 0) return;
      const bell = Atomics.load(w, BELL);
      const worked = this.#scan();
      const next = this.#expire();
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

  /**
   * Spins until BELL moves (true) or SPIN_MS pass (false), when spinning
   * pays: a spin that catches the next request saves a wake-up, one that
   * does not only takes a CPU from the clients. So the loop spins while
   * most recent spins caught a request (a client calling again at once),
   * and otherwise tries one spin every PROBE_MS.
   */
  #spin(bell: number): boolean {
    const now = performance.now();
    if (this.#catchRate < SPIN_WORTH) {
      if (now - this.#probedAt < PROBE_MS) return false;
      this.#probedAt = now;
    }
    const rung = this.#spinner.while(
      this.#t.w,
      BELL,
      (b) => b === bell,
      SPIN_MS,
    );
    const caught = rung !== bell;
    this.#catchRate = this.#catchRate * (1 - RATE_WEIGHT) +
      (caught ? RATE_WEIGHT : 0);
    return caught;
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
        this.#sendFrame(i);
      }
    }
    if (ready === undefined) return worked;
    const tickets = ready.map((i) => Atomics.load(w, slotWord(i, S_TICKET)));
    const order = ready.map((_, k) => k);
    if (order.length > 1) {
      order.sort((x, y) => (tickets[x]! - tickets[y]!) | 0);
    }
    for (const k of order) this.#takeRequest(ready[k]!, tickets[k]!);
    return true;
  }

  // ---- frames in ------------------------------------------------------------

  /** The frame in slot `i`, copied out of shared memory, or an error. */
  #frame(i: number): { bytes: Uint8Array; total: number } | string {
    const w = this.#t.w;
    const len = Atomics.load(w, slotWord(i, S_LEN));
    const total = Atomics.load(w, slotWord(i, S_TOTAL));
    if (len < 0 || len > SLOT_DATA) return `a frame of ${len} bytes`;
    if (total < len || total > MAX_MESSAGE) {
      return `a message of ${total} bytes`;
    }
    const at = slotData(i);
    return { bytes: copyOut(this.#t.b, at, len), total };
  }

  /** A MORE frame: keep it, acknowledge it. */
  #takeFrame(i: number): void {
    const w = this.#t.w;
    Atomics.store(w, slotWord(i, S_STATE), SERVING);
    const frame = this.#frame(i);
    if (typeof frame === "string") {
      this.#dropPartial(i);
      this.#answer(i, Atomics.load(w, slotWord(i, S_TICKET)), bad(frame));
      return;
    }
    const error = this.#keep(i, frame.bytes, frame.total);
    if (error !== undefined) {
      this.#answer(i, Atomics.load(w, slotWord(i, S_TICKET)), bad(error));
      return;
    }
    this.#setState(i, ACK);
  }

  /** Adds a frame to slot `i`'s partial message; an error, if any. */
  #keep(i: number, bytes: Uint8Array, total: number): string | undefined {
    let p = this.#partials.get(i);
    if (p === undefined) {
      p = { total, frames: [], got: 0 };
      this.#partials.set(i, p);
    }
    if (p.total !== total || p.got + bytes.length > total) {
      this.#dropPartial(i);
      return `frames that do not add up to ${total} bytes`;
    }
    // All partial messages together stay within one largest message.
    if (this.#partialBytes + bytes.length > MAX_MESSAGE) {
      this.#dropPartial(i);
      return `more than ${MAX_MESSAGE} bytes in partial messages`;
    }
    p.frames.push(bytes);
    p.got += bytes.length;
    this.#partialBytes += bytes.length;
    return undefined;
  }

  #dropPartial(i: number): void {
    const p = this.#partials.get(i);
    if (p === undefined) return;
    this.#partialBytes -= p.got;
    this.#partials.delete(i);
  }

  /** A REQUEST frame: the whole request is in; serve it. */
  #takeRequest(i: number, ticket: number): void {
    Atomics.store(this.#t.w, slotWord(i, S_STATE), SERVING);
    const frame = this.#frame(i);
    if (typeof frame === "string") {
      this.#dropPartial(i);
      this.#answer(i, ticket, bad(frame));
      return;
    }
    let bytes = frame.bytes;
    if (this.#partials.has(i)) {
      const error = this.#keep(i, bytes, frame.total);
      if (error !== undefined) {
        this.#answer(i, ticket, bad(error));
        return;
      }
      const p = this.#partials.get(i)!;
      this.#dropPartial(i);
      if (p.got !== p.total) {
        this.#answer(i, ticket, bad(`${p.got} of ${p.total} bytes`));
        return;
      }
      bytes = new Uint8Array(p.total);
      let at = 0;
      for (const f of p.frames) {
        bytes.set(f, at);
        at += f.length;
      }
    } else if (bytes.length !== frame.total) {
      this.#answer(i, ticket, bad(`${bytes.length} of ${frame.total} bytes`));
      return;
    }
    let request: P.Request;
    try {
      request = P.readRequest(bytes);
    } catch (err) {
      this.#answer(i, ticket, bad((err as Error).message));
      return;
    }
    this.#run(i, ticket, request);
  }

  /** Runs a parsed request; answers it now or parks it. */
  #run(i: number, ticket: number, request: P.Request): void {
    let answer: Answer;
    try {
      answer = this.#execute(i, ticket, request);
    } catch (err) {
      answer = bad(err instanceof Error ? err.message : String(err));
    }
    if (answer !== PARKED) this.#answer(i, ticket, answer);
    const later = this.#later.shift();
    if (later !== undefined) this.#run(later.slot, later.ticket, later.request);
  }

  // ---- frames out ---------------------------------------------------------

  /** Sets slot `i`'s state, waking its client if it waits. */
  #setState(i: number, state: number): void {
    const w = this.#t.w;
    Atomics.store(w, slotWord(i, S_STATE), state);
    if (Atomics.load(w, slotWord(i, S_WAITING)) !== 0) {
      Atomics.notify(w, slotWord(i, S_STATE));
    }
  }

  /** Writes the reply to the request `ticket` in slot `i`, unless the slot
   * moved on (its thread ended and the slot was reclaimed). */
  #answer(i: number, ticket: number, reply: Uint8Array): void {
    const w = this.#t.w;
    if (
      Atomics.load(w, slotWord(i, S_TICKET)) !== ticket ||
      Atomics.load(w, slotWord(i, S_STATE)) !== SERVING
    ) {
      return;
    }
    if (reply.length <= SLOT_DATA) {
      this.#t.b.set(reply, slotData(i));
      Atomics.store(w, slotWord(i, S_LEN), reply.length);
      Atomics.store(w, slotWord(i, S_TOTAL), reply.length);
      this.#setState(i, REPLY);
      return;
    }
    this.#outgoing.set(i, { ticket, bytes: reply.slice(), sent: 0 });
    this.#sendFrame(i);
  }

  /** Writes the next frame of slot `i`'s long reply. */
  #sendFrame(i: number): void {
    const w = this.#t.w;
    const out = this.#outgoing.get(i);
    Atomics.store(w, slotWord(i, S_STATE), SERVING);
    if (
      out === undefined ||
      Atomics.load(w, slotWord(i, S_TICKET)) !== out.ticket
    ) {
      // No reply of this request is under way (another thread wrote into
      // the slot): drop it, so the slot is not scanned again.
      this.#outgoing.delete(i);
      Atomics.store(w, slotWord(i, S_STATE), IDLE);
      return;
    }
    const n = Math.min(SLOT_DATA, out.bytes.length - out.sent);
    this.#t.b.set(out.bytes.subarray(out.sent, out.sent + n), slotData(i));
    out.sent += n;
    Atomics.store(w, slotWord(i, S_LEN), n);
    Atomics.store(w, slotWord(i, S_TOTAL), out.bytes.length);
    const done = out.sent >= out.bytes.length;
    if (done) this.#outgoing.delete(i);
    this.#setState(i, done ? REPLY : REPLY_MORE);
  }

  // ---- parking and timeouts ---------------------------------------------------

  #park(list: Waiter[], waiter: Waiter, expired: number): typeof PARKED {
    list.push(waiter);
    this.#parked.set(waiter.slot, { waiter, list, expired });
    this.#nextDeadline = Math.min(this.#nextDeadline, waiter.deadline);
    return PARKED;
  }

  /** Takes the first waiter of `list` whose slot still waits for it. */
  #next(list: Waiter[]): Waiter | undefined {
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
  #expire(): number {
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
      this.#answer(slot, waiter.ticket, reply(expired, num));
    }
    this.#nextDeadline = next;
    return next;
  }

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
      const parked = this.#parked.get(i);
      if (parked !== undefined) {
        this.#parked.delete(i);
        parked.list.splice(parked.list.indexOf(parked.waiter), 1);
      }
      this.#dropPartial(i);
      this.#outgoing.delete(i);
      Atomics.store(w, slotWord(i, S_STATE), IDLE);
      Atomics.compareExchange(w, slotWord(i, S_OWNER), owner, 0);
    }
    for (const obj of this.#objects.values()) {
      if (obj.kind === "lock" && obj.held && hasEnded(obj.holder)) {
        this.#abandon(obj);
      }
    }
  }

  /** The holder of `lock` ended holding it: free it, and tell the next
   * acquirer (now or later) with ABANDONED. */
  #abandon(lock: LockObject): void {
    const pid = lock.holder;
    lock.held = false;
    lock.holder = 0;
    const waiter = this.#next(lock.waiters);
    if (waiter === undefined) {
      lock.abandonedBy = pid;
      return;
    }
    this.#answer(waiter.slot, waiter.ticket, reply(P.ABANDONED, pid));
    this.#grant(lock);
  }

  /** Gives a free lock to its next waiter, if any. */
  #grant(lock: LockObject): void {
    if (lock.held) return;
    const waiter = this.#next(lock.waiters);
    if (waiter === undefined) return;
    lock.held = true;
    lock.holder = waiter.pid;
    this.#answer(waiter.slot, waiter.ticket, reply(P.OK, 1));
  }

  // ---- operations -----------------------------------------------------------

  #execute(i: number, ticket: number, r: P.Request): Answer {
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
        return this.#dict(obj, r);
      case "namespace":
        return this.#namespace(obj, r);
      case "list":
        return this.#list(obj, r);
      case "lock":
        return this.#lock(obj, i, ticket, r);
      case "queue":
        return this.#queue(obj, i, ticket, r);
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
      this.#later.push(...early);
    }
    return reply(P.OK);
  }

  #dict(d: DictObject, r: P.Request): Answer {
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
        return this.#entries(d);
      case P.DICT_SIZE:
        return reply(P.OK, d.map.size);
      case P.DICT_CLEAR:
        d.map.clear();
        return reply(P.OK);
    }
    return wrongKind(r, d);
  }

  #entries(d: DictObject): Uint8Array {
    out.reset().reply(P.OK, d.map.size * 2, P.NONE);
    for (const e of d.map.values()) out.item(e.k).item(e.v);
    return out.view();
  }

  #namespace(d: DictObject, r: P.Request): Answer {
    const items = r.items;
    switch (r.op) {
      case P.NAMESPACE_GET:
        if (d.kind !== "namespace") break;
        return this.#dict(d, { ...r, op: P.DICT_GET });
      case P.NAMESPACE_SET:
        if (d.kind !== "namespace") break;
        return put(d, items);
      case P.NAMESPACE_ENTRIES:
        if (d.kind !== "namespace") break;
        return this.#entries(d);
    }
    return wrongKind(r, d);
  }

  #list(l: ListObject, r: P.Request): Answer {
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

  #lock(lock: LockObject, i: number, ticket: number, r: P.Request): Answer {
    switch (r.op) {
      case P.LOCK_ACQUIRE: {
        const timeout = optTimeout(r.a);
        if (lock.held && hasEnded(lock.holder)) this.#abandon(lock);
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
        return this.#park(
          lock.waiters,
          waiter(i, ticket, timeout, r.pid),
          P.OK,
        );
      }
      case P.LOCK_RELEASE:
        if (!lock.held) return reply(P.NOT_HELD);
        lock.held = false;
        lock.holder = 0;
        this.#grant(lock);
        return reply(P.OK);
    }
    return wrongKind(r, lock);
  }

  #queue(q: QueueObject, i: number, ticket: number, r: P.Request): Answer {
    switch (r.op) {
      case P.QUEUE_PUT: {
        const timeout = optTimeout(r.a);
        const v = item(r.items, 0);
        const getter = this.#next(q.getters);
        if (getter !== undefined) {
          this.#answer(getter.slot, getter.ticket, values(P.OK, [v]));
          return reply(P.OK);
        }
        if (q.maxsize === 0 || q.items.length < q.maxsize) {
          q.items.push(v);
          return reply(P.OK);
        }
        if (timeout === 0) return reply(P.FULL, 0);
        return this.#park(
          q.putters,
          waiter(i, ticket, timeout, r.pid, v),
          P.FULL,
        );
      }
      case P.QUEUE_GET: {
        const timeout = optTimeout(r.a);
        if (q.items.length > 0) {
          const v = q.items.shift();
          const putter = this.#next(q.putters);
          if (putter !== undefined) {
            q.items.push(putter.value);
            this.#answer(putter.slot, putter.ticket, reply(P.OK));
          }
          return values(P.OK, [v]);
        }
        if (timeout === 0) return reply(P.EMPTY, 0);
        return this.#park(
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
}

// ---- helpers ---------------------------------------------------------------
// Replies are built in one reused buffer: each is written into its slot (or
// copied, when it goes in frames) before the next is built.

const out = new P.Writer(1024);

function reply(status: number, num: number = P.NONE): Uint8Array {
  return out.reset().reply(status, 0, num).view();
}

function values(status: number, items: Bytes[]): Uint8Array {
  out.reset().reply(status, items.length, P.NONE);
  for (const v of items) out.item(v);
  return out.view();
}

function bad(why: string): Uint8Array {
  return out.reset().reply(P.BAD_REQUEST, 1, P.NONE).item(encoder.encode(why))
    .view();
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

function wrongKind(r: P.Request, obj: Stored): Uint8Array {
  return bad(`operation ${r.op} does not apply to a ${obj.kind}`);
}

/** Item `k` of a request, which must have it. */
function item(items: Bytes[], k: number): Bytes {
  if (k >= items.length) throw new RangeError(`item ${k} is missing`);
  return items[k];
}

/** A header number that must be an integer. */
function int(x: number): number {
  if (!Number.isSafeInteger(x)) throw new RangeError(`index ${x}`);
  return x;
}

/** A header number that must be an integer, or NONE. */
function optInt(x: number): number {
  return Number.isNaN(x) ? x : int(x);
}

/** A timeout in ms (NONE: no limit). */
function optTimeout(x: number): number {
  if (Number.isNaN(x)) return Infinity;
  if (!(x >= 0)) throw new RangeError(`timeout ${x}`);
  return x;
}

function waiter(
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
