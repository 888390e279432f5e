// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { SHARE_ENV, Worker as ThreadWorker } from "node:worker_threads";
import { context } from "../_shared/context.ts";
import { livenessTable } from "../_shared/liveness.ts";
import { assertReadable } from "../_engine/permissions.ts";
import { messages } from "../_messages.ts";
import {
  createTable,
  DOWN_DIED,
  DOWN_SHUTDOWN,
  OWNER_PID,
  tableOf,
} from "./_table.ts";
import { type Client, clientFor, forgetClient } from "./_client.ts";
import { markDown } from "./_down.ts";
import * as P from "./_protocol.ts";
import { call, type Items, type Kind } from "./_proxy.ts";
import type { BaseProxy } from "./base_proxy.ts";
import { DictProxy, entriesOf, entryItems } from "./dict_proxy.ts";
import { listItems, ListProxy } from "./list_proxy.ts";
import { nameArg, NamespaceProxy } from "./namespace_proxy.ts";
import { LockProxy } from "./lock_proxy.ts";
import { QueueProxy } from "./queue_proxy.ts";
import { intArg } from "./_proxy.ts";
import { encodeValue } from "./_values.ts";

const SERVER_ENTRY = new URL("./server_entry.ts", import.meta.url);
/** How long (ms) `shutdown()` waits for the server thread to end before it
 * ends it. */
const SHUTDOWN_MS = 1_000;

/** What the finalizer of a Manager that was never shut down needs. */
interface Held {
  readonly table: SharedArrayBuffer;
  readonly key: string;
  readonly thread: ThreadWorker;
}

// A Manager dropped without shutdown() (and all its proxies in this thread
// with it) stops its server, as Python's manager does when collected.
const finalizer = new FinalizationRegistry<Held>((held) => {
  markDown(held.table, DOWN_SHUTDOWN);
  forgetClient(held.key);
  held.thread.terminate();
});

/**
 * Starts the server thread of `table`. Its listeners must not hold the
 * Manager (the thread holds them for as long as it runs), or a Manager
 * dropped without shutdown() would never be collected: so they live here.
 */
function startServer(
  table: SharedArrayBuffer,
): { thread: ThreadWorker; ended: Promise<void> } {
  const thread = new ThreadWorker(SERVER_ENTRY, {
    name: "multiprocessing-manager",
    workerData: { table, liveness: livenessTable() },
    // The server reads no environment: sharing the thread's view reads
    // nothing up front (copying it would read every variable, which
    // prompts without env access).
    env: SHARE_ENV,
  });
  thread.unref();
  const ended = new Promise<void>((resolve) => {
    thread.on("error", () => {});
    thread.on("exit", () => {
      // A server that ends before shutdown() crashed: DOWN_DIED (a
      // shutdown already set DOWN, which this does not change).
      markDown(table, DOWN_DIED);
      resolve();
    });
  });
  return { thread, ended };
}

/**
 * Objects that live in one place and are reached from every process, as
 * Python's `multiprocessing.Manager()` (a `SyncManager`): `dict()`,
 * `list()`, `namespace()`, `lock()` and `queue()` make an object in the
 * manager and return its proxy. Pass proxies in `Process` args or pool
 * task arguments; every method of a proxy is one request to the manager,
 * served whole before the next (atomic), and returns a promise.
 *
 * The manager is a server thread of this program, started by the
 * constructor; it never keeps the program alive. Proxies in this program's
 * threads reach it through shared memory, without an event loop in the
 * way; proxies in OS child processes (isolation `"process"`) through their
 * parent. Values are
 * structured-clone values, copied in and out: there are no nested proxies
 * (a proxy stored as a value is refused). Objects live until the manager
 * shuts down: `await using manager = new Manager()` (Python's `with
 * Manager() as manager:`) or `await manager.shutdown()`; after that every
 * proxy call rejects with an error saying so.
 *
 * Create managers where processes are started: under `if
 * (import.meta.main)`. The server thread loads a module of this library,
 * so a program needs read access to it (`-R`), as for any process. The
 * costs of a call, and how it works: docs/shared_state.md, "Manager".
 *
 * @example A dict and a list shared with a process
 * ```ts no-eval
 * import {
 *   type DictProxy,
 *   type ListProxy,
 *   Manager,
 *   Process,
 * } from "@parallel/multiprocessing";
 *
 * export async function f(d: DictProxy<number | string, unknown>, l: ListProxy<number>) {
 *   await d.set(1, "1");
 *   await d.set("2", 2);
 *   await d.set(0.25, null);
 *   await l.insert(0, 9);
 * }
 *
 * if (import.meta.main) {
 *   await using manager = new Manager();
 *   const d = manager.dict<number | string, unknown>();
 *   const l = manager.list([0, 1, 2, 3]);
 *   const p = new Process({ target: f, args: [d, l] });
 *   p.start();
 *   await p.join();
 *   console.log(await d.toMap()); // Map(3) { 1 => "1", "2" => 2, 0.25 => null }
 *   console.log(await l.toArray()); // [ 9, 0, 1, 2, 3 ]
 * }
 * ```
 *
 * @example In one process
 * ```ts
 * import { Manager } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * const d = manager.dict<string, number>();
 * await d.set("a", 1);
 * assert.deepEqual(await d.toMap(), new Map([["a", 1]]));
 * ```
 */
export class Manager implements AsyncDisposable {
  readonly #key: string = crypto.randomUUID();
  readonly #table: SharedArrayBuffer;
  readonly #client: Client;
  readonly #thread: ThreadWorker;
  readonly #ended: Promise<void>;
  #down = false;

  /**
   * Starts the manager's server thread.
   *
   * @throws {Error} when called while a worker imports its target module
   * (an unguarded top level: guard it with `if (import.meta.main)`).
   * @throws {Deno.errors.NotCapable} when the program may not read the
   * library's server module (run with `-R`).
   */
  constructor() {
    const ctx = context();
    if (ctx.importing) throw new Error(messages.managerUnguarded());
    assertReadable(SERVER_ENTRY.href);
    this.#table = createTable();
    const t = tableOf(this.#table);
    Atomics.store(t.w, OWNER_PID, ctx.current.pid);
    const server = startServer(this.#table);
    this.#thread = server.thread;
    this.#ended = server.ended;
    this.#client = clientFor(this.#key, this.#table);
    finalizer.register(
      this,
      { table: this.#table, key: this.#key, thread: this.#thread },
      this,
    );
  }

  /**
   * A new, empty dict in the manager (Python's `manager.dict()`). With an
   * argument, its first entries: a `Map`, an iterable of `[key, value]`
   * pairs, or an object whose own properties are the entries.
   *
   * @typeParam K The keys' type.
   * @typeParam V The values' type.
   * @returns Its proxy.
   * @throws {Error} when the manager was shut down.
   * @throws {TypeError} when `init` is none of those.
   * @throws {DOMException} named `DataCloneError` when a key or value of
   * `init` is not a structured-clone value.
   *
   * @example
   * ```ts
   * import { Manager } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * await using manager = new Manager();
   * const d = manager.dict({ ferrets: 2, hamsters: 4 });
   * assert.equal(await d.get("hamsters"), 4);
   * ```
   */
  dict<K = unknown, V = unknown>(): DictProxy<K, V>;
  /**
   * A new dict in the manager with the own properties of `init` as its
   * entries (Python's `manager.dict(a=1)`).
   *
   * @typeParam V The values' type.
   * @param init Its first entries.
   * @returns Its proxy.
   */
  dict<V>(init: Record<string, V>): DictProxy<string, V>;
  /**
   * A new dict in the manager with the entries of `init`: a `Map`, an
   * iterable of `[key, value]` pairs, or (for string keys) an object
   * (Python's `manager.dict(pairs)`).
   *
   * @typeParam K The keys' type.
   * @typeParam V The values' type.
   * @param init Its first entries.
   * @returns Its proxy.
   */
  dict<K, V>(
    init:
      | Iterable<readonly [K, V]>
      | (string extends K ? Record<string, V> : never),
  ): DictProxy<K, V>;
  dict(init?: unknown): DictProxy {
    const items = init === undefined
      ? []
      : entryItems(entriesOf(init, "dict() init"), "dict() init");
    return this.#create(DictProxy, "DictProxy", "dict", P.CREATE_DICT, items);
  }

  /**
   * A new list in the manager (Python's `manager.list()`).
   *
   * @typeParam T The items' type.
   * @param init Its first items.
   * @returns Its proxy.
   * @throws {Error} when the manager was shut down.
   * @throws {TypeError} when `init` is not iterable.
   * @throws {DOMException} named `DataCloneError` when an item of `init` is
   * not a structured-clone value.
   *
   * @example
   * ```ts
   * import { Manager } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * await using manager = new Manager();
   * const l = manager.list([0, 1, 2]);
   * await l.append(3);
   * assert.deepEqual(await l.toArray(), [0, 1, 2, 3]);
   * ```
   */
  list<T = unknown>(init?: Iterable<T>): ListProxy<T> {
    const items = init === undefined ? [] : listItems(init, "list() init");
    return this.#create(
      ListProxy<T>,
      "ListProxy",
      "list",
      P.CREATE_LIST,
      items,
    );
  }

  /**
   * A new namespace in the manager (Python's `manager.Namespace(**init)`).
   *
   * @typeParam T The names and the types of their values.
   * @param init Its first names and values.
   * @returns Its proxy.
   * @throws {Error} when the manager was shut down.
   * @throws {TypeError} when `init` is not an object.
   *
   * @example
   * ```ts
   * import { Manager } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * await using manager = new Manager();
   * const ns = manager.namespace({ count: 0 });
   * await ns.set("count", 1);
   * assert.equal(await ns.get("count"), 1);
   * ```
   */
  namespace<T extends Record<string, unknown> = Record<string, unknown>>(
    init?: T,
  ): NamespaceProxy<T> {
    if (init !== undefined && (init === null || typeof init !== "object")) {
      throw new TypeError(
        messages.badOption("namespace() init", "an object", init),
      );
    }
    const entries = init === undefined ? [] : Object.entries(init);
    for (const [name] of entries) nameArg(name, "namespace() name");
    const items = entryItems(entries, "namespace() init");
    return this.#create(
      NamespaceProxy<T>,
      "NamespaceProxy",
      "namespace",
      P.CREATE_NAMESPACE,
      items,
    );
  }

  /**
   * A new lock in the manager (Python's `manager.Lock()`).
   *
   * @returns Its proxy.
   * @throws {Error} when the manager was shut down.
   *
   * @example
   * ```ts
   * import { Manager } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * await using manager = new Manager();
   * const lock = manager.lock();
   * assert.equal(await lock.acquire(), true);
   * assert.equal(await lock.acquire(0), false);
   * await lock.release();
   * ```
   */
  lock(): LockProxy {
    return this.#create(LockProxy, "LockProxy", "lock", P.CREATE_LOCK, []);
  }

  /**
   * A new first-in, first-out queue in the manager (Python's
   * `manager.Queue(maxsize)`).
   *
   * @typeParam T The items' type.
   * @param maxsize The most items it holds (`put()` waits while it is
   * full); default no limit.
   * @returns Its proxy.
   * @throws {Error} when the manager was shut down.
   * @throws {TypeError} when `maxsize` is not a number.
   * @throws {RangeError} when `maxsize` is not a positive integer.
   *
   * @example
   * ```ts
   * import { Manager } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * await using manager = new Manager();
   * const q = manager.queue<number>();
   * await q.put(1);
   * assert.equal(await q.get(), 1);
   * ```
   */
  queue<T = unknown>(maxsize?: number): QueueProxy<T> {
    let size = 0;
    if (maxsize !== undefined) {
      size = intArg(maxsize, "queue() maxsize");
      if (size < 1 || size > 2 ** 32 - 1) {
        throw new RangeError(
          messages.badOption("queue() maxsize", "a positive integer", maxsize),
        );
      }
    }
    return this.#create(
      QueueProxy<T>,
      "QueueProxy",
      "queue",
      P.CREATE_QUEUE,
      [],
      size,
    );
  }

  /**
   * Stops the manager: every proxy call from now on, in any process,
   * rejects with an error saying the manager was shut down, and calls that
   * were waiting (an `acquire()`, a `get()`) reject the same way. Python's
   * `manager.shutdown()`. Calling it again does nothing.
   *
   * @returns A promise that resolves once the server thread has ended.
   */
  shutdown(): Promise<void> {
    if (!this.#down) {
      this.#down = true;
      finalizer.unregister(this);
      markDown(this.#table, DOWN_SHUTDOWN);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      this.#ended,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.#thread.terminate();
          resolve();
        }, SHUTDOWN_MS);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /**
   * Shuts the manager down at the end of an `await using` scope, as
   * `shutdown()` does.
   *
   * @returns A promise that resolves once the server thread has ended.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  #create<T extends BaseProxy>(
    Make: new (
      brand: string,
      manager: object,
      key: string,
      table: SharedArrayBuffer,
      id: number,
    ) => T,
    brand: string,
    kind: Kind,
    op: number,
    items: Items,
    a: number = P.NONE,
  ): T {
    const down = this.#client.downError("the manager");
    if (down !== undefined) throw down;
    // A value that cannot go fails here, at once (the request below only
    // rejects, and nobody awaits it).
    for (const [value, what] of items) {
      if (value !== undefined) encodeValue(value, what);
    }
    const proxy = new Make(
      brand,
      this,
      this.#key,
      this.#table,
      this.#client.newId(),
    );
    // The creation goes out now, before any request on the proxy from this
    // thread (requests of a thread are posted in order; another thread's
    // request that comes first waits for it in the server). Its failures
    // reach the caller through the proxy's next call.
    call(proxy, kind, op, a, P.NONE, items, false, () => {}).catch(() => {});
    return proxy;
  }
}
