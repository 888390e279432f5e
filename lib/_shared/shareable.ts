// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Objects that keep working on the other side of postMessage (queues, locks,
// shared values). Their state lives in own, cloneable fields (SharedArrayBuffer,
// MessagePort, numbers), and an own `$mp` field names their class; structured
// clone drops the prototype, and `revive` puts it back from a registry that
// each class fills when its module loads. Imported by both sides; imports
// the message table only.

import { messages } from "../_messages.ts";

/** The own field that names a shareable's class. */
export const BRAND = "$mp";

/** How deep `revive` looks into containers for shareables. */
const REVIVE_DEPTH = 4;

const KEY = Symbol.for("@parallel/multiprocessing/shareables");

function registry(): Map<string, object> {
  const g = globalThis as unknown as Record<symbol, Map<string, object>>;
  return g[KEY] ??= new Map();
}

/** Registers `proto` as the prototype for objects branded `name`. */
export function registerShareable(name: string, proto: object): void {
  registry().set(name, proto);
}

/** The own field of a shareable that names the module defining its class
 * (only shareables whose methods all return promises have it): a worker that
 * never loaded that module loads it at the first call. */
export const MODULE_FIELD = "$module";

const unloadedProtos = new Map<string, object>();

/**
 * The prototype of a shareable whose class this isolate never loaded: the
 * worker's target module imports the library for types only, and
 * TypeScript erases such imports. A method call then loads the class's
 * module (named by the object's MODULE_FIELD) and runs the real method,
 * or, for a shareable without one, throws a TypeError that says what to
 * import, instead of "is not a function".
 */
function unloaded(brand: string): object {
  const known = unloadedProtos.get(brand);
  if (known !== undefined) return known;
  const notLoaded = (cause?: unknown) =>
    new TypeError(
      messages.shareableNotLoaded(brand),
      cause === undefined ? undefined : { cause },
    );
  const proto: object = new Proxy(Object.create(null), {
    get(_target, prop, receiver) {
      // What Object.prototype has, symbols, and `then` (looked up when the
      // object is awaited) read as on a plain object.
      if (
        typeof prop === "symbol" || prop === "then" || prop in Object.prototype
      ) {
        return Reflect.get(Object.prototype, prop, receiver);
      }
      return function (this: Record<string, unknown>, ...args: unknown[]) {
        const module = this?.[MODULE_FIELD];
        if (typeof module !== "string") throw notLoaded();
        // A scoped worker may not load it: then the advice stands.
        return import(module).catch((err) => {
          throw notLoaded(err);
        }).then(() => {
          const real = registry().get(brand) as
            | Record<string, unknown>
            | undefined;
          const method = real?.[prop];
          if (typeof method !== "function") throw notLoaded();
          Object.setPrototypeOf(this, real!);
          return method.apply(this, args);
        });
      };
    },
  });
  unloadedProtos.set(brand, proto);
  return proto;
}

/**
 * The module that defines each shareable class, relative to this file. A
 * worker whose target module imports the library for types only (which
 * TypeScript erases) has loaded none of them: `revive` then loads the
 * classes of the shareables it meets, and only those, instead of the whole
 * library up front. tests/sync/lazy_shareables_test.ts checks that every
 * registered class is here.
 */
export const SHAREABLE_MODULES: Readonly<Record<string, string>> = {
  Barrier: "../sync/barrier.ts",
  BoundedSemaphore: "../sync/semaphore.ts",
  Condition: "../sync/condition.ts",
  Connection: "../queues/pipe.ts",
  DictProxy: "../managers/dict_proxy.ts",
  Event: "../sync/event.ts",
  JoinableQueue: "../queues/joinable_queue.ts",
  ListProxy: "../managers/list_proxy.ts",
  Lock: "../sync/lock.ts",
  LockProxy: "../managers/lock_proxy.ts",
  NamespaceProxy: "../managers/namespace_proxy.ts",
  Queue: "../queues/queue.ts",
  QueueProxy: "../managers/queue_proxy.ts",
  RLock: "../sync/rlock.ts",
  Semaphore: "../sync/semaphore.ts",
  SharedArray: "../sync/shared_array.ts",
  SimpleQueue: "../queues/simple_queue.ts",
  Value: "../sync/value.ts",
};

/** Brands whose class is loading → the objects revived meanwhile. */
const waiting = new Map<string, object[]>();
/** Brands whose class could not load (a scoped worker may not read it). */
const refused = new Set<string>();
/** Settles once every load started so far has. */
let loads: Promise<unknown> = Promise.resolve();

/** Starts loading the class of `brand` (once), for `value`. */
function load(brand: string, value: object): void {
  const path = SHAREABLE_MODULES[brand];
  if (path === undefined || refused.has(brand)) return;
  const objects = waiting.get(brand);
  if (objects !== undefined) {
    objects.push(value);
    return;
  }
  waiting.set(brand, [value]);
  const done = import(new URL(path, import.meta.url).href).then(
    () => {
      const proto = registry().get(brand);
      if (proto === undefined) return;
      for (const o of waiting.get(brand)!) Object.setPrototypeOf(o, proto);
    },
    // A worker that may not read the library (scoped permissions) keeps
    // the placeholder prototype, whose methods say what to import.
    () => refused.add(brand),
  ).finally(() => waiting.delete(brand));
  loads = Promise.all([loads, done]);
}

/**
 * Resolves once the classes that `revive` started loading have loaded (or
 * failed to); undefined when none is loading, which is the common case:
 * call `revive`, then await this before the values are used.
 */
export function shareablesLoaded(): Promise<unknown> | undefined {
  return waiting.size === 0 ? undefined : loads;
}

/**
 * Restores the prototypes of branded objects in `value` (up to
 * `REVIVE_DEPTH` levels of arrays, plain objects, Map values and Set
 * members). Cheap for primitives. A class this isolate never loaded starts
 * loading (see `shareablesLoaded`).
 */
export function revive<T>(value: T, depth = 0): T {
  if (value === null || typeof value !== "object" || depth > REVIVE_DEPTH) {
    return value;
  }
  const brand = (value as Record<string, unknown>)[BRAND];
  if (typeof brand === "string") {
    let proto = registry().get(brand);
    if (proto === undefined) {
      proto = unloaded(brand);
      load(brand, value as object);
    }
    if (Object.getPrototypeOf(value) !== proto) {
      Object.setPrototypeOf(value, proto);
    }
    return value;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) revive(value[i], depth + 1);
  } else if (value instanceof Map) {
    for (const v of value.values()) revive(v, depth + 1);
  } else if (value instanceof Set) {
    for (const v of value) revive(v, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const key in value) {
      revive((value as Record<string, unknown>)[key], depth + 1);
    }
  }
  return value;
}

// ---- across OS processes ------------------------------------------------------
// A shareable's state lives in memory that only the threads of one process
// share, so a worker with isolation "process" is refused one (ipc.ts). A
// shareable whose state lives elsewhere (a Manager's proxy, which reaches
// its object through the program that owns it) registers its brand here,
// and then crosses as its own data.

const PROCESS_SAFE_KEY = Symbol.for(
  "@parallel/multiprocessing/processSafe",
);

function processSafe(): Set<string> {
  const g = globalThis as unknown as Record<symbol, Set<string>>;
  return g[PROCESS_SAFE_KEY] ??= new Set();
}

/** Lets shareables branded `name` go to a worker with isolation
 * "process": their own fields must then be plain data. */
export function registerProcessSafe(name: string): void {
  processSafe().add(name);
}

/** Whether shareables branded `name` may go to another OS process. */
export function isProcessSafe(name: string): boolean {
  return processSafe().has(name);
}
