// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The client side of a manager: how a thread sends a request to the server
// thread and gets the reply. One Client per manager per thread, shared by
// all the proxies of that manager in the thread. Imported by the proxies
// and the Manager.
//
// A request takes a slot of the shared table (the thread keeps up to
// KEEP_SLOTS slots between requests, so the usual request takes none),
// writes its bytes there, rings the BELL (waking the server if it sleeps),
// and waits for the reply in the same slot:
// - first by spinning for up to SPIN_MS: the server answers a small request
//   in a few µs, a wake-up through the kernel costs tens of µs (a spin that
//   finds its thread was descheduled stops spinning for a while: see
//   _spin.ts);
// - then, in a worker, by blocking in Atomics.wait for up to SYNC_WAIT_MS
//   (a worker may block, and this wakes faster than the event loop);
//   requests that may wait long (a lock's acquire(), a queue's get() or
//   put()) skip this step, so a worker's other tasks go on meanwhile;
// - then with Atomics.waitAsync, which never blocks: the only way on the
//   main thread, which must never block (its spin is bounded). Waits are
//   cut into slices of WAIT_SLICE_MS, after each of which the client checks
//   that the manager is still up, so a proxy of a manager that is gone
//   rejects, never hangs.
//
// Requests of one thread are posted in the order they were made: a request
// goes out at once only when none is queued before it; otherwise (a long
// request sent in frames, or no free slot) it queues behind.
//
// A proxy in an OS child process has no table (see
// lib/_shared/manager_link.ts): its client sends the same request bytes
// through the link to the parent.
//
// Imports the table, the protocol, lib/_shared/ and the message table.

import {
  ACK,
  BELL,
  copyOut,
  DOWN,
  DOWN_DIED,
  DOWN_SHUTDOWN,
  growTable,
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
  tableOf,
  TICKET,
} from "./_table.ts";
import * as P from "./_protocol.ts";
import { context } from "../_shared/context.ts";
import { hasEnded } from "../_shared/liveness.ts";
import { held } from "../_shared/wait.ts";
import {
  managerLink,
  type ManagerRelay,
  registerManagerRelay,
} from "../_shared/manager_link.ts";
import { messages } from "../_messages.ts";
import { Spinner } from "./_spin.ts";

/** How long (ms) a thread spins for a reply before it waits. */
const SPIN_MS = 0.05;
/** How long (ms), in all, a worker blocks in Atomics.wait for a reply. */
const SYNC_WAIT_MS = 5;
/** The longest single wait (ms), after which the client checks that the
 * manager is still up. */
const WAIT_SLICE_MS = 50;
/** Idle slots a thread keeps for its next requests. */
const KEEP_SLOTS = 2;
/** How long (ms) a request waits before it looks again for a free slot,
 * when all MAX_SLOTS are taken. */
const SLOT_POLL_MS = 1;

/** A request waiting to be posted. */
interface Job {
  readonly bytes: Uint8Array;
  readonly long: boolean;
  readonly what: string;
  readonly resolve: (reply: Uint8Array) => void;
  readonly reject: (err: unknown) => void;
}

const clients = new Map<string, Client>();

/**
 * The client of manager `key` in this thread (`table` absent: reach it
 * through the link to the parent process). A client with the table also
 * serves the requests that this thread's OS child processes send for the
 * manager (lib/_shared/manager_link.ts).
 */
export function clientFor(
  key: string,
  table: SharedArrayBuffer | undefined,
): Client {
  let client = clients.get(key);
  if (client === undefined || (client.remote && table !== undefined)) {
    client = new Client(key, table);
    clients.set(key, client);
    if (table !== undefined) registerManagerRelay(key, relayOf(client));
  }
  return client;
}

/** Forgets the client of manager `key` (its manager is gone). */
export function forgetClient(key: string): void {
  clients.delete(key);
  registerManagerRelay(key, undefined);
}

/** Serves a child process's request with `client`: the reply's bytes, or
 * a MANAGER_DOWN reply. */
function relayOf(client: Client): ManagerRelay {
  return async (bytes) => {
    if (client.downError("the manager") !== undefined) {
      return P.statusReply(P.MANAGER_DOWN);
    }
    try {
      return await client.send(bytes, true, "the manager");
    } catch {
      return P.statusReply(
        client.downError("the manager") === undefined
          ? P.UNREACHABLE
          : P.MANAGER_DOWN,
      );
    }
  };
}

/** Sends requests of one manager from this thread. */
export class Client {
  readonly key: string;
  readonly #t: Table | undefined;
  /** Whether this thread may block (a worker, not the main thread). */
  readonly #mayBlock: boolean;
  readonly #pid: number;
  readonly #free: number[] = [];
  readonly #queue: Job[] = [];
  #pumping = false;
  #hint = 0;
  readonly #spinner = new Spinner();

  constructor(key: string, table: SharedArrayBuffer | undefined) {
    this.key = key;
    this.#t = table === undefined ? undefined : tableOf(table);
    const ctx = context();
    this.#mayBlock = ctx.inWorker;
    this.#pid = ctx.current.pid;
  }

  /** True when requests go through the link to the parent process. */
  get remote(): boolean {
    return this.#t === undefined;
  }

  /** The pid this thread writes into its requests. */
  get pid(): number {
    return this.#pid;
  }

  /** Why the manager cannot be used (for `what`, such as "the dict"), or
   * undefined while it is up. */
  downError(what: string): Error | undefined {
    const t = this.#t;
    if (t === undefined) return undefined;
    const down = Atomics.load(t.w, DOWN);
    if (down === DOWN_SHUTDOWN) {
      return new Error(messages.managerShutDown(what));
    }
    if (down === DOWN_DIED) return new Error(messages.managerDied(what));
    const owner = Atomics.load(t.w, OWNER_PID);
    if (down !== 0 || (owner !== this.#pid && hasEnded(owner))) {
      return new Error(messages.managerGone(what, owner));
    }
    return undefined;
  }

  /** Why the manager cannot be used, when its DOWN word says so (a cheaper
   * look than `downError`, which also asks whether its owner ended). */
  isDown(what: string): Error | undefined {
    const t = this.#t;
    if (t === undefined || Atomics.load(t.w, DOWN) === 0) return undefined;
    return this.downError(what);
  }

  /** The next object id. */
  newId(): number {
    const t = this.#t;
    if (t === undefined) throw new Error(messages.managerRemoteCreate());
    return (Atomics.add(t.w, NEXT_ID, 1) + 1) >>> 0;
  }

  /**
   * Sends the request `bytes` (copied before this returns) and gives the
   * reply's bytes: at once when the server answered while this spun (or,
   * in a worker, blocked), else as a promise. `long`: the request may wait
   * long (acquire, get, put), so a worker does not block for it. `what`
   * names the object in errors ("the dict").
   *
   * @throws {Error} (at once, or as a rejection) when the manager is down
   * or the reply is malformed.
   */
  send(
    bytes: Uint8Array,
    long: boolean,
    what: string,
  ): Uint8Array | Promise<Uint8Array> {
    const t = this.#t;
    if (t === undefined) return this.#sendRemote(bytes.slice());
    if (bytes.length > MAX_MESSAGE) {
      return Promise.reject(
        new RangeError(messages.managerTooLarge(bytes.length, MAX_MESSAGE)),
      );
    }
    if (this.#queue.length === 0 && bytes.length <= SLOT_DATA) {
      const slot = this.#takeSlot(t);
      if (slot >= 0) {
        this.#postFrame(t, slot, bytes, bytes.length, REQUEST);
        const state = this.#settle(t, slot, long);
        if (state === REPLY) return this.#finish(t, slot, []);
        return this.#replyOf(t, slot, long, what);
      }
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ bytes: bytes.slice(), long, what, resolve, reject });
      if (!this.#pumping) this.#pump(t);
    });
  }

  async #sendRemote(bytes: Uint8Array): Promise<Uint8Array> {
    const link = managerLink();
    if (link === undefined) return P.statusReply(P.UNREACHABLE);
    return await link.request(this.key, bytes);
  }

  // ---- slots ----------------------------------------------------------------

  /** A slot for this thread, or -1 when all are taken. */
  #takeSlot(t: Table): number {
    const mine = this.#free.pop();
    if (mine !== undefined) return mine;
    for (;;) {
      const n = slotCount(t);
      for (let k = 0; k < n; k++) {
        const i = (this.#hint + k) % n;
        if (
          Atomics.load(t.w, slotWord(i, S_OWNER)) === 0 &&
          Atomics.compareExchange(t.w, slotWord(i, S_OWNER), 0, this.#pid) ===
            0
        ) {
          this.#hint = i + 1;
          Atomics.store(t.w, slotWord(i, S_STATE), IDLE);
          return i;
        }
      }
      if (!growTable(t, n)) return -1;
    }
  }

  /** Gives back a slot whose reply was read. */
  #release(t: Table, slot: number): void {
    Atomics.store(t.w, slotWord(slot, S_STATE), IDLE);
    if (this.#free.length < KEEP_SLOTS) this.#free.push(slot);
    else Atomics.store(t.w, slotWord(slot, S_OWNER), 0);
  }

  // ---- posting ---------------------------------------------------------------

  /** Writes one frame into the slot and rings the bell (waking the server
   * if it sleeps). */
  #postFrame(
    t: Table,
    slot: number,
    frame: Uint8Array,
    total: number,
    state: number,
  ): void {
    t.b.set(frame, slotData(slot));
    Atomics.store(t.w, slotWord(slot, S_LEN), frame.length);
    Atomics.store(t.w, slotWord(slot, S_TOTAL), total);
    if (state === REQUEST) {
      Atomics.store(t.w, slotWord(slot, S_TICKET), Atomics.add(t.w, TICKET, 1));
    }
    Atomics.store(t.w, slotWord(slot, S_STATE), state);
    Atomics.add(t.w, BELL, 1);
    if (Atomics.load(t.w, SLEEPING) !== 0) Atomics.notify(t.w, BELL, 1);
  }

  /** Posts the queued requests in order, each in its slot. */
  async #pump(t: Table): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#queue.length > 0) {
        const job = this.#queue[0]!;
        const down = this.downError(job.what);
        if (down !== undefined) {
          this.#queue.shift();
          job.reject(down);
          continue;
        }
        const slot = this.#takeSlot(t);
        if (slot < 0) {
          await held(
            new Promise((resolve) => setTimeout(resolve, SLOT_POLL_MS)),
          );
          continue;
        }
        try {
          // The job stays first in the queue while its frames go, so that
          // no later request overtakes it.
          await this.#postAll(t, slot, job.bytes, job.what);
          this.#queue.shift();
          // The reply is awaited apart: the next request may go now.
          this.#replyOf(t, slot, job.long, job.what).then(
            job.resolve,
            job.reject,
          );
        } catch (err) {
          this.#queue.shift();
          job.reject(err);
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Posts `bytes` in frames, each after the server took the one before. */
  async #postAll(
    t: Table,
    slot: number,
    bytes: Uint8Array,
    what: string,
  ): Promise<void> {
    let at = 0;
    while (bytes.length - at > SLOT_DATA) {
      this.#postFrame(
        t,
        slot,
        bytes.subarray(at, at + SLOT_DATA),
        bytes.length,
        MORE,
      );
      at += SLOT_DATA;
      const state = await this.#until(t, slot, false, what);
      // A reply instead of ACK: the server refused the frame, and says why.
      if (state !== ACK) return;
    }
    this.#postFrame(t, slot, bytes.subarray(at), bytes.length, REQUEST);
  }

  // ---- waiting -----------------------------------------------------------------

  /**
   * Spins (and, in a worker, blocks) while the slot's request is pending
   * (posted, or held by the server). Returns the state seen last.
   */
  #settle(t: Table, slot: number, long: boolean): number {
    const at = slotWord(slot, S_STATE);
    let state = this.#spinner.while(t.w, at, pending, SPIN_MS);
    if (!pending(state)) return state;
    if (!this.#mayBlock || long) return state;
    const end = performance.now() + SYNC_WAIT_MS;
    const waiting = slotWord(slot, S_WAITING);
    Atomics.add(t.w, waiting, 1);
    try {
      for (;;) {
        const left = end - performance.now();
        if (left <= 0 || this.downError("the manager") !== undefined) break;
        Atomics.wait(t.w, at, state, left);
        state = Atomics.load(t.w, at);
        if (!pending(state)) return state;
      }
    } finally {
      Atomics.sub(t.w, waiting, 1);
    }
    return state;
  }

  /** Waits (spinning first) while the slot's request is pending; rejects
   * when the manager goes down meanwhile. */
  async #until(
    t: Table,
    slot: number,
    long: boolean,
    what: string,
  ): Promise<number> {
    const at = slotWord(slot, S_STATE);
    const waiting = slotWord(slot, S_WAITING);
    let state = this.#settle(t, slot, long);
    while (pending(state)) {
      const down = this.downError(what);
      if (down !== undefined) throw down;
      Atomics.add(t.w, waiting, 1);
      try {
        const r = Atomics.waitAsync(t.w, at, state, WAIT_SLICE_MS);
        if (r.async) await held(r.value);
      } finally {
        Atomics.sub(t.w, waiting, 1);
      }
      state = Atomics.load(t.w, at);
    }
    return state;
  }

  /** Reads the reply in the slot, waiting for each of its frames. */
  async #replyOf(
    t: Table,
    slot: number,
    long: boolean,
    what: string,
  ): Promise<Uint8Array> {
    const frames: Uint8Array[] = [];
    for (;;) {
      const state = await this.#until(t, slot, long, what);
      if (state === REPLY) return this.#finish(t, slot, frames);
      const error = state === REPLY_MORE
        ? this.#take(t, slot, frames)
        : new Error(messages.managerCorrupt(`a slot in state ${state}`));
      if (error !== undefined) {
        this.#release(t, slot);
        throw error;
      }
      Atomics.store(t.w, slotWord(slot, S_STATE), REPLY_ACK);
      Atomics.add(t.w, BELL, 1);
      if (Atomics.load(t.w, SLEEPING) !== 0) Atomics.notify(t.w, BELL, 1);
    }
  }

  /** Copies the slot's reply frame into `frames`; an error when its
   * lengths are not a reply's (another thread wrote into the slot). */
  #take(t: Table, slot: number, frames: Uint8Array[]): Error | undefined {
    const len = Atomics.load(t.w, slotWord(slot, S_LEN));
    const total = Atomics.load(t.w, slotWord(slot, S_TOTAL));
    let got = len;
    for (const f of frames) got += f.length;
    if (len < 0 || len > SLOT_DATA || total > MAX_MESSAGE || got > total) {
      return new Error(
        messages.managerCorrupt(`a frame of ${len} bytes of ${total}`),
      );
    }
    const at = slotData(slot);
    frames.push(copyOut(t.b, at, len));
    return undefined;
  }

  /** The last reply frame is in: the reply's bytes. */
  #finish(t: Table, slot: number, frames: Uint8Array[]): Uint8Array {
    const error = this.#take(t, slot, frames);
    const total = Atomics.load(t.w, slotWord(slot, S_TOTAL));
    this.#release(t, slot);
    if (error !== undefined) throw error;
    if (frames.length === 1) {
      if (frames[0]!.length !== total) {
        throw new Error(messages.managerCorrupt(`a short reply`));
      }
      return frames[0]!;
    }
    let got = 0;
    for (const f of frames) got += f.length;
    if (got !== total) {
      throw new Error(messages.managerCorrupt(`a short reply`));
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const f of frames) {
      out.set(f, at);
      at += f.length;
    }
    return out;
  }
}

/** Whether a slot in `state` waits for the server (the client posted, or
 * the server holds the request). */
function pending(state: number): boolean {
  return state === REQUEST || state === MORE || state === REPLY_ACK ||
    state === SERVING;
}

/** Marks the table down (shutdown, or its server died) and wakes every
 * thread waiting on it. */
export function markDown(table: SharedArrayBuffer, code: number): void {
  const t = tableOf(table);
  Atomics.compareExchange(t.w, DOWN, 0, code);
  Atomics.notify(t.w, BELL);
  const n = slotCount(t);
  for (let i = 0; i < n; i++) Atomics.notify(t.w, slotWord(i, S_STATE));
}
