// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The client side of a manager: how a thread sends a request to the server
// thread and gets the reply. One Client per manager per thread, shared by
// all the proxies of that manager in the thread. Imported by the proxies
// and the Manager.
//
// A request takes a slot of the shared table (_client_slots.ts: the thread
// keeps a few slots between requests, so the usual request takes none),
// writes its bytes there, rings the BELL (waking the server if it sleeps),
// and waits for the reply in the same slot (spinning, then blocking in a
// worker, then waiting without blocking: see _client_reply.ts).
//
// Requests of one thread are posted in the order they were made: a request
// goes out at once only when none is queued before it; otherwise (a long
// request sent in frames, or no free slot) it queues behind.
//
// A proxy in an OS child process has no table (see
// lib/_shared/manager_link.ts): its client sends the same request bytes
// through the link to the parent.
//
// Imports the table, its slots, the replies, the down state, the protocol,
// lib/_shared/ and the message table.

import {
  ACK,
  DOWN,
  MAX_MESSAGE,
  MORE,
  NEXT_ID,
  REPLY,
  REQUEST,
  ringBell,
  S_STATE,
  S_TICKET,
  SLOT_DATA,
  slotWord,
  type Table,
  tableOf,
  TICKET,
  writeFrame,
} from "./_table.ts";
import * as P from "./_protocol.ts";
import { SlotPool } from "./_client_slots.ts";
import { Replies } from "./_client_reply.ts";
import { downError } from "./_down.ts";
import { context } from "../_shared/context.ts";
import { held } from "../_shared/wait.ts";
import {
  managerLink,
  type ManagerRelay,
  registerManagerRelay,
} from "../_shared/manager_link.ts";
import { messages } from "../_messages.ts";

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

/** A client's reach into the table of its manager (in the same process). */
interface Local {
  readonly t: Table;
  readonly slots: SlotPool;
  readonly replies: Replies;
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
  readonly #local: Local | undefined;
  readonly #pid: number;
  readonly #queue: Job[] = [];
  #pumping = false;

  constructor(key: string, table: SharedArrayBuffer | undefined) {
    this.key = key;
    const ctx = context();
    this.#pid = ctx.current.pid;
    if (table === undefined) {
      this.#local = undefined;
    } else {
      const t = tableOf(table);
      const slots = new SlotPool(t, this.#pid);
      const replies = new Replies(
        t,
        slots,
        ctx.inWorker,
        (what) => this.downError(what),
      );
      this.#local = { t, slots, replies };
    }
  }

  /** True when requests go through the link to the parent process. */
  get remote(): boolean {
    return this.#local === undefined;
  }

  /** The pid this thread writes into its requests. */
  get pid(): number {
    return this.#pid;
  }

  /** Why the manager cannot be used (for `what`, such as "the dict"), or
   * undefined while it is up. */
  downError(what: string): Error | undefined {
    const local = this.#local;
    if (local === undefined) return undefined;
    return downError(local.t, this.#pid, what);
  }

  /** Why the manager cannot be used, when its DOWN word says so (a cheaper
   * look than `downError`, which also asks whether its owner ended). */
  isDown(what: string): Error | undefined {
    const local = this.#local;
    if (local === undefined || Atomics.load(local.t.w, DOWN) === 0) {
      return undefined;
    }
    return this.downError(what);
  }

  /** The next object id. */
  newId(): number {
    const local = this.#local;
    if (local === undefined) throw new Error(messages.managerRemoteCreate());
    return (Atomics.add(local.t.w, NEXT_ID, 1) + 1) >>> 0;
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
    const local = this.#local;
    if (local === undefined) return this.#sendRemote(bytes.slice());
    if (bytes.length > MAX_MESSAGE) {
      return Promise.reject(
        new RangeError(messages.managerTooLarge(bytes.length, MAX_MESSAGE)),
      );
    }
    if (this.#queue.length === 0 && bytes.length <= SLOT_DATA) {
      const slot = local.slots.take();
      if (slot >= 0) {
        postFrame(local.t, slot, bytes, bytes.length, REQUEST);
        const state = local.replies.settle(slot, long);
        if (state === REPLY) return local.replies.finish(slot, []);
        return local.replies.read(slot, long, what);
      }
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ bytes: bytes.slice(), long, what, resolve, reject });
      if (!this.#pumping) this.#pump(local);
    });
  }

  async #sendRemote(bytes: Uint8Array): Promise<Uint8Array> {
    const link = managerLink();
    if (link === undefined) return P.statusReply(P.UNREACHABLE);
    return await link.request(this.key, bytes);
  }

  /** Posts the queued requests in order, each in its slot. */
  async #pump(local: Local): Promise<void> {
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
        const slot = local.slots.take();
        if (slot < 0) {
          await held(
            new Promise((resolve) => setTimeout(resolve, SLOT_POLL_MS)),
          );
          continue;
        }
        try {
          // The job stays first in the queue while its frames go, so that
          // no later request overtakes it.
          await postAll(local, slot, job.bytes, job.what);
          this.#queue.shift();
          // The reply is awaited apart: the next request may go now.
          local.replies.read(slot, job.long, job.what).then(
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
}

/** Writes one frame into the slot and rings the bell (waking the server
 * if it sleeps). */
function postFrame(
  t: Table,
  slot: number,
  frame: Uint8Array,
  total: number,
  state: number,
): void {
  writeFrame(t, slot, frame, total);
  if (state === REQUEST) {
    Atomics.store(t.w, slotWord(slot, S_TICKET), Atomics.add(t.w, TICKET, 1));
  }
  Atomics.store(t.w, slotWord(slot, S_STATE), state);
  ringBell(t);
}

/** Posts `bytes` in frames, each after the server took the one before. */
async function postAll(
  local: Local,
  slot: number,
  bytes: Uint8Array,
  what: string,
): Promise<void> {
  const t = local.t;
  let at = 0;
  while (bytes.length - at > SLOT_DATA) {
    postFrame(t, slot, bytes.subarray(at, at + SLOT_DATA), bytes.length, MORE);
    at += SLOT_DATA;
    const state = await local.replies.until(slot, false, what);
    // A reply instead of ACK: the server refused the frame, and says why.
    if (state !== ACK) return;
  }
  postFrame(t, slot, bytes.subarray(at), bytes.length, REQUEST);
}
