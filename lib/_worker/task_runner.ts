// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The task runner of a pool worker: it learns the pool's functions, runs the
// initializer, runs the chunks it is sent one at a time in arrival order, and
// batches their results into few messages. Runs inside the worker; bootstrap.ts
// makes one when the port to the main side arrives.
//
// Imports lib/_shared/ only: nothing from the main-side engine.

import { classError, cloneError, findClassInstance } from "../_shared/clone.ts";
import { unwrapTransfer } from "../_shared/transferables.ts";
import { revive, shareablesLoaded } from "../_shared/shareable.ts";
import type {
  ChunkMessage,
  FnMessage,
  FnRef,
  FromWorker,
  PoolMessage,
  ResultMessage,
} from "../_shared/wire.ts";
import { encodeError } from "../_shared/error_codec.ts";

/** A target function, as found in its module. */
export type TargetFn = (...a: unknown[]) => unknown;

/** Finds function `ref` of `module` (by default the worker's own module),
 * importing the module if need be. */
export type Resolve = (ref: FnRef, module?: string) => Promise<TargetFn>;

/** A chunk with this many values or more goes alone, in a message of its
 * own, without copying its values into the batch. */
const SOLO_CHUNK = 64;

/** Results wait to be sent until the queue is empty or this long (ms) has
 * passed since the oldest of them started, so that many short tasks share
 * one message. */
const BATCH_MS = 1;

/** One chunk of a ChunkMessage: id, function key, spread flag, items. */
interface Task {
  readonly c: number;
  readonly k: number;
  readonly s: number;
  readonly items: unknown[];
}

/** Whether `v` is a thenable, which the runner must await. */
function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === "object" &&
    typeof (v as PromiseLike<unknown>).then === "function";
}

/** Runs the chunks of one pool worker and sends their results on `port`. */
export class TaskRunner {
  readonly #port: MessagePort;
  readonly #resolve: Resolve;
  /** The initializer's run (null without one): tasks wait for it. */
  #initializing: Promise<boolean> | null = null;
  #initialized = true;
  /** Function key → the function, once its module is loaded... */
  readonly #ready = new Map<number, TargetFn>();
  /** ...and while it loads (or when it failed to). */
  readonly #fns = new Map<number, Promise<TargetFn>>();

  #queue: Task[] = [];
  #head = 0;
  #busy = false;

  // The batch being gathered: chunk `outC[j]` gave the next `outN[j]` values
  // of `outV` in `outD[j]` ms, which move `outT` with them.
  #outC: number[] = [];
  #outN: number[] = [];
  #outV: unknown[] = [];
  #outD: number[] = [];
  #outT: Transferable[] = [];
  /** When the oldest chunk of the batch started. */
  #outSince = 0;

  /**
   * Makes the runner of the worker whose port to the main side is `port`.
   *
   * @param port Where results go.
   * @param resolve How to find a function by its reference.
   */
  constructor(port: MessagePort, resolve: Resolve) {
    this.#port = port;
    this.#resolve = resolve;
  }

  /** This worker is a pool worker: starts the initializer, if any. */
  start(msg: PoolMessage): void {
    const init = msg.init;
    if (init === undefined) return;
    this.#initialized = false;
    this.#initializing = (async () => {
      try {
        const fn = await this.#resolve(init.fn);
        const args = revive(init.args);
        await shareablesLoaded();
        await fn(...args);
        this.#initialized = true;
        return true;
      } catch (err) {
        this.#send({ t: "i", e: encodeError(err) });
        return false;
      }
    })();
  }

  /** Learns function key `msg.k`; a task of it waits until it is loaded. */
  register(msg: FnMessage): void {
    const p = this.#resolve(msg.fn, msg.m).then((fn) => {
      this.#ready.set(msg.k, fn);
      return fn;
    });
    // The failure reaches the tasks that await it.
    p.catch(() => {});
    this.#fns.set(msg.k, p);
  }

  /** Queues the chunks of `msg` and runs them, unless already running. */
  enqueue(msg: ChunkMessage): void {
    if (msg.c.length === 1) {
      // A chunk alone runs from the array it came in.
      this.#queue.push({
        c: msg.c[0]!,
        k: msg.k[0]!,
        s: msg.s[0]!,
        items: msg.a,
      });
    } else {
      this.#split(msg);
    }
    if (!this.#busy) this.#drain();
  }

  /** Queues each chunk of a batch, its items sliced from the batch's. */
  #split(msg: ChunkMessage): void {
    let at = 0;
    for (let j = 0; j < msg.c.length; j++) {
      const n = msg.n[j]!;
      this.#queue.push({
        c: msg.c[j]!,
        k: msg.k[j]!,
        s: msg.s[j]!,
        items: msg.a.slice(at, at + n),
      });
      at += n;
    }
  }

  /** Sends the results gathered so far. */
  flush(): void {
    if (this.#outC.length === 0) return;
    const msg: ResultMessage = {
      t: "r",
      c: this.#outC,
      n: this.#outN,
      v: this.#outV,
      d: this.#outD,
    };
    const transfer = this.#outT;
    this.#outC = [];
    this.#outN = [];
    this.#outV = [];
    this.#outD = [];
    this.#outT = [];
    try {
      this.#port.postMessage(msg, transfer);
    } catch (err) {
      if (!(err instanceof DOMException && err.name === "DataCloneError")) {
        throw err;
      }
      this.#sendApart(msg);
    }
  }

  /** Sends each chunk of a batch that could not be sent alone, so that only
   * the chunk whose value cannot be cloned fails. */
  #sendApart(msg: ResultMessage): void {
    let at = 0;
    for (let j = 0; j < msg.c.length; j++) {
      const n = msg.n[j]!;
      const values = msg.v.slice(at, at + n);
      at += n;
      try {
        this.#port.postMessage({
          t: "r",
          c: [msg.c[j]],
          n: [n],
          v: values,
          d: [msg.d[j]],
        });
      } catch (e) {
        const one = values.length === 1;
        const error = cloneError(
          one ? values[0] : values,
          one ? "result" : "results",
          e,
          true,
        );
        this.#send({
          t: "e",
          c: msg.c[j]!,
          i: 0,
          e: encodeError(error),
          d: msg.d[j]!,
        });
      }
    }
  }

  #send(msg: FromWorker): void {
    this.#port.postMessage(msg);
  }

  async #drain(): Promise<void> {
    this.#busy = true;
    while (this.#head < this.#queue.length) {
      const task = this.#queue[this.#head++]!;
      const wait = this.#run(task);
      if (wait !== undefined) {
        this.flush();
        await wait;
      }
      if (
        this.#outC.length > 0 && performance.now() - this.#outSince > BATCH_MS
      ) {
        this.flush();
      }
    }
    this.#queue = [];
    this.#head = 0;
    this.flush();
    this.#busy = false;
  }

  /** Runs a task; returns a promise only when it must wait for something. */
  #run(task: Task): Promise<void> | undefined {
    const t0 = performance.now();
    const fn = this.#ready.get(task.k);
    if (fn === undefined || !this.#initialized) {
      return this.#runAsync(task, t0, 0, []);
    }
    const items = task.items;
    // Appended in order, so the array stays packed: V8 serializes a holey
    // array as a sparse one, several times slower.
    const out: unknown[] = [];
    const star = task.s === 1;
    for (let i = 0; i < items.length; i++) {
      let v: unknown;
      const arg = revive(items[i]);
      // A shareable whose class this worker never loaded: it loads first.
      if (shareablesLoaded() !== undefined) {
        return this.#runAsync(task, t0, i, out);
      }
      try {
        v = star ? fn(...arg as unknown[]) : fn(arg);
      } catch (err) {
        this.#fail(task, i, err, t0);
        return undefined;
      }
      if (isThenable(v)) {
        return this.#runAsync(task, t0, i, out, v as Promise<unknown>);
      }
      out.push(v);
    }
    this.#finish(task, out, t0);
    return undefined;
  }

  /** Runs the rest of a task from item `from`, awaiting what it must. */
  async #runAsync(
    task: Task,
    t0: number,
    from: number,
    out: unknown[],
    pending?: Promise<unknown>,
  ): Promise<void> {
    let i = from;
    try {
      if (this.#initializing !== null && !(await this.#initializing)) return;
      const fn = await this.#fns.get(task.k)!;
      const items = task.items;
      if (pending !== undefined) {
        out.push(await pending);
        i++;
      }
      for (; i < items.length; i++) {
        const arg = revive(items[i]);
        const loading = shareablesLoaded();
        if (loading !== undefined) await loading;
        let v = task.s === 1 ? fn(...arg as unknown[]) : fn(arg);
        if (isThenable(v)) v = await v;
        out.push(v);
      }
    } catch (err) {
      this.#fail(task, i, err, t0);
      return;
    }
    this.#finish(task, out, t0);
  }

  /** Adds a task's results to the batch (a big one goes alone at once). */
  #finish(task: Task, values: unknown[], t0: number): void {
    // Objects only: each is checked for class instances, and unwrapped if
    // marked by transfer() (its buffers listed in `moved`).
    let moved: Transferable[] | undefined;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === null || typeof v !== "object") continue;
      const found = findClassInstance(v, "");
      if (found) {
        const path = (values.length === 1 ? "result" : `results[${i}]`) +
          found.path;
        this.#fail(
          task,
          i,
          classError({ path, reason: found.reason }, true),
          t0,
        );
        return;
      }
      const plain = unwrapTransfer(v, moved ??= []);
      if (plain !== v) values[i] = plain;
    }
    if (values.length >= SOLO_CHUNK) {
      this.flush();
      if (moved !== undefined) this.#outT = moved;
      this.#outC.push(task.c);
      this.#outN.push(values.length);
      this.#outV = values;
      this.#outD.push(performance.now() - t0);
      this.flush();
      return;
    }
    for (let i = 0; i < values.length; i++) this.#outV.push(values[i]);
    if (moved !== undefined) {
      for (const b of moved) if (!this.#outT.includes(b)) this.#outT.push(b);
    }
    if (this.#outC.length === 0) this.#outSince = t0;
    this.#outC.push(task.c);
    this.#outN.push(values.length);
    this.#outD.push(performance.now() - t0);
  }

  /** Item `i` of a task threw `err`: the task stops there. */
  #fail(task: Task, i: number, err: unknown, t0: number): void {
    this.flush();
    this.#send({
      t: "e",
      c: task.c,
      i,
      e: encodeError(err),
      d: performance.now() - t0,
    });
  }
}
