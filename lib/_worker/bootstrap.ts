// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Runs inside every worker. Imports nothing from the main-side engine.
//
// Web workers start from a generated entry that imports, in order: a module
// calling `identify()`, the target module (statically: a worker with scoped
// permissions cannot `import()` it), then calls `loaded()`. Thread workers
// (node:worker_threads) start from `_thread_entry.ts`, which does the same
// with a dynamic import. The main side talks to the worker over a
// MessagePort, which arrives as the first message (web) or in `workerData`.

import { context } from "../_shared/context.ts";
import { messages } from "../_messages.ts";
import {
  classError,
  cloneError,
  findClassInstance,
  unwrapTransfer,
} from "../_shared/clone.ts";
import { revive } from "../_shared/shareable.ts";
import {
  type ChunkMessage,
  encodeError,
  type ExitMessage,
  type FnMessage,
  type FnRef,
  type FromWorker,
  type PoolMessage,
  type RunMessage,
  type ToWorker,
  type WireError,
  type WorkerIdentity,
} from "../_shared/wire.ts";

type Namespace = Record<string, unknown>;
type Fn = (...a: unknown[]) => unknown;

/** The worker's global scope, typed for what this file uses. */
const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(msg: unknown): void;
};
const ctx = context();
let port: MessagePort | null = null;
let moduleUrl = "";
let exited = false;
let resolveNs!: (ns: Namespace | null) => void;
const namespace = new Promise<Namespace | null>((r) => resolveNs = r);

/** Sends a message to the main side, or to the hub before the port came. */
function send(msg: FromWorker): void {
  if (port !== null) port.postMessage(msg);
  else scope.postMessage(msg);
}

/** Reports the end of this process once; the main side then ends us. */
function reportExit(code: number, error?: unknown): void {
  if (exited) return;
  exited = true;
  // Results of finished tasks go first, so that the main side fails only
  // the task this worker was running.
  if (port !== null) flush();
  const msg: ExitMessage = error === undefined
    ? { t: "exit", code }
    : { t: "exit", code, error: encodeError(error) as WireError };
  send(msg);
}

/** Finds the target in the module namespace: by name, else by source. */
export function lookup(ns: Namespace, ref: FnRef, module = moduleUrl): Fn {
  const direct = ns[ref.name];
  if (typeof direct === "function") return direct as Fn;
  for (const value of Object.values(ns)) {
    if (
      typeof value === "function" &&
      Function.prototype.toString.call(value) === ref.src
    ) {
      return value as Fn;
    }
  }
  throw new TypeError(messages.notExported(ref.name, module));
}

async function run(msg: RunMessage): Promise<void> {
  const ns = await namespace;
  if (ns === null) return;
  try {
    const fn = lookup(ns, msg.fn);
    await fn(...revive(msg.args));
  } catch (err) {
    reportExit(1, err);
    return;
  }
  reportExit(0);
}

// ---- pool workers ---------------------------------------------------------

let web = false;
let initializing: Promise<boolean> | null = null;
let initialized = true;
const fns = new Map<number, Promise<Fn>>();
const ready = new Map<number, Fn>();

interface Task {
  readonly c: number;
  readonly k: number;
  readonly s: number;
  readonly items: unknown[];
}
let queue: Task[] = [];
let head = 0;
let busy = false;

// Results wait here until the queue is empty or 1 ms has passed, so that
// many short tasks share one message.
let outC: number[] = [];
let outN: number[] = [];
let outV: unknown[] = [];
let outD: number[] = [];
let outT: Transferable[] = [];
let outSince = 0;

async function namespaceOf(module: string): Promise<Namespace> {
  if (module === moduleUrl) {
    const ns = await namespace;
    if (ns === null) throw new Error(`${moduleUrl} failed to load`);
    return ns;
  }
  if (web) throw new TypeError(messages.scopedModule(module, moduleUrl));
  return await import(module);
}

function register(msg: FnMessage): void {
  const p = namespaceOf(msg.m).then((ns) => {
    const fn = lookup(ns, msg.fn, msg.m);
    ready.set(msg.k, fn);
    return fn;
  });
  p.catch(() => {});
  fns.set(msg.k, p);
}

function startPool(msg: PoolMessage): void {
  const init = msg.init;
  if (init === undefined) return;
  initialized = false;
  initializing = (async () => {
    try {
      const fn = lookup(await namespaceOf(moduleUrl), init.fn);
      await fn(...revive(init.args));
      initialized = true;
      return true;
    } catch (err) {
      send({ t: "i", e: encodeError(err) });
      return false;
    }
  })();
}

function flush(): void {
  if (outC.length === 0) return;
  const msg = { t: "r", c: outC, n: outN, v: outV, d: outD } as const;
  const transfer = outT;
  outC = [];
  outN = [];
  outV = [];
  outD = [];
  outT = [];
  try {
    port!.postMessage(msg, transfer);
  } catch (err) {
    if (!(err instanceof DOMException && err.name === "DataCloneError")) {
      throw err;
    }
    // Find the chunk whose value cannot be sent; send the others alone.
    let at = 0;
    for (let j = 0; j < msg.c.length; j++) {
      const n = msg.n[j]!;
      const values = msg.v.slice(at, at + n);
      at += n;
      try {
        port!.postMessage({
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
        send({
          t: "e",
          c: msg.c[j]!,
          i: 0,
          e: encodeError(error),
          d: msg.d[j]!,
        });
      }
    }
  }
}

function finishTask(task: Task, values: unknown[], t0: number): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || typeof v !== "object") continue;
    const found = findClassInstance(
      v,
      values.length === 1 ? "result" : `results[${i}]`,
    );
    if (found) {
      failTask(task, i, classError(found, true), t0);
      return;
    }
  }
  if (values.length >= 64) {
    // A big chunk goes alone, without copying its values.
    flush();
    for (let i = 0; i < values.length; i++) {
      values[i] = unwrapTransfer(values[i], outT);
    }
    outC.push(task.c);
    outN.push(values.length);
    outV = values;
    outD.push(performance.now() - t0);
    flush();
    return;
  }
  for (let i = 0; i < values.length; i++) {
    outV.push(unwrapTransfer(values[i], outT));
  }
  if (outC.length === 0) outSince = t0;
  outC.push(task.c);
  outN.push(values.length);
  outD.push(performance.now() - t0);
}

function failTask(task: Task, i: number, err: unknown, t0: number): void {
  flush();
  send({
    t: "e",
    c: task.c,
    i,
    e: encodeError(err),
    d: performance.now() - t0,
  });
}

/** Runs a task; returns a promise only when it must wait for something. */
function runTask(task: Task): Promise<void> | undefined {
  const t0 = performance.now();
  const fn = ready.get(task.k);
  if (fn === undefined || !initialized) return runTaskAsync(task, t0, 0, []);
  const items = task.items;
  // Appended in order, so the array stays packed: V8 serializes a holey
  // array as a sparse one, several times slower.
  const out: unknown[] = [];
  for (let i = 0; i < items.length; i++) {
    let v: unknown;
    try {
      v = task.s === 1
        ? fn(...revive(items[i] as unknown[]))
        : fn(revive(items[i]));
    } catch (err) {
      failTask(task, i, err, t0);
      return undefined;
    }
    if (
      v !== null && typeof v === "object" &&
      typeof (v as PromiseLike<unknown>).then === "function"
    ) {
      return runTaskAsync(task, t0, i, out, v as Promise<unknown>);
    }
    out.push(v);
  }
  finishTask(task, out, t0);
  return undefined;
}

async function runTaskAsync(
  task: Task,
  t0: number,
  from: number,
  out: unknown[],
  pending?: Promise<unknown>,
): Promise<void> {
  let i = from;
  try {
    if (initializing !== null && !(await initializing)) return;
    const fn = await fns.get(task.k)!;
    const items = task.items;
    if (pending !== undefined) {
      out.push(await pending);
      i++;
    }
    for (; i < items.length; i++) {
      let v = task.s === 1
        ? fn(...revive(items[i] as unknown[]))
        : fn(revive(items[i]));
      if (
        v !== null && typeof v === "object" &&
        typeof (v as PromiseLike<unknown>).then === "function"
      ) {
        v = await v;
      }
      out.push(v);
    }
  } catch (err) {
    failTask(task, i, err, t0);
    return;
  }
  finishTask(task, out, t0);
}

async function drain(): Promise<void> {
  busy = true;
  while (head < queue.length) {
    const task = queue[head++]!;
    const wait = runTask(task);
    if (wait !== undefined) {
      flush();
      await wait;
    }
    if (outC.length > 0 && performance.now() - outSince > 1) flush();
  }
  queue = [];
  head = 0;
  flush();
  busy = false;
}

function enqueue(msg: ChunkMessage): void {
  let at = 0;
  for (let j = 0; j < msg.c.length; j++) {
    const n = msg.n[j]!;
    queue.push({
      c: msg.c[j]!,
      k: msg.k[j]!,
      s: msg.s[j]!,
      items: msg.a.slice(at, at + n),
    });
    at += n;
  }
  if (!busy) drain();
}

function dispatch(msg: ToWorker): void {
  switch (msg.t) {
    case "x":
      enqueue(msg);
      break;
    case "f":
      register(msg);
      break;
    case "init":
      ctx.pids = msg.pids;
      ctx.liveness = msg.liveness.table;
      Atomics.store(msg.liveness.self, 0, ctx.current.pid);
      break;
    case "pool":
      startPool(msg);
      break;
    case "run":
      run(msg);
      break;
  }
}

/** Attaches the port to the main side. */
export function attach(p: MessagePort): void {
  port = p;
  p.onmessage = (e: MessageEvent<ToWorker>) => dispatch(e.data);
}

/** Sets this worker's identity; called before the target module loads. */
export function identify(
  identity: WorkerIdentity,
  module: string,
  isWeb: boolean,
): void {
  moduleUrl = module;
  web = isWeb;
  // A scoped worker exists, so --unstable-worker-options is on: nested
  // scoped processes need not (and, without read access, cannot) detect it.
  if (isWeb) {
    (globalThis as Record<symbol, unknown>)[
      Symbol.for("@parallel/multiprocessing/worker-options")
    ] = true;
  }
  ctx.current = {
    name: identity.name,
    pid: identity.pid,
    daemon: identity.daemon,
  };
  ctx.parent = identity.parent;
  ctx.inWorker = true;
  ctx.importing = true;

  globalThis.addEventListener("error", (e: ErrorEvent) => {
    e.preventDefault();
    reportExit(1, e.error ?? new Error(e.message));
  });
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    reportExit(1, e.reason);
  });

  // A bare Deno.exit(n) in a web worker ends it silently: report first.
  const realExit = Deno.exit;
  Object.defineProperty(Deno, "exit", {
    value: (code?: number): never => {
      reportExit(typeof code === "number" ? code : 0);
      return realExit(code);
    },
    writable: true,
    configurable: true,
  });

  // Web workers receive the port as their first message.
  if (isWeb) {
    scope.onmessage = (e: MessageEvent<{ port: MessagePort }>) => {
      scope.onmessage = null;
      attach(e.data.port);
    };
  }
}

/** The target module finished loading (or failed to, with `error`). */
export function loaded(ns: Namespace | null, error?: unknown): void {
  ctx.importing = false;
  if (ns === null) reportExit(1, error);
  resolveNs(ns);
}
