// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Runs inside every worker. Imports nothing from the main-side engine.
//
// Web workers start from a generated entry that imports, in order: a module
// calling `identify()`, the target module (statically: a worker with scoped
// permissions cannot `import()` it), then calls `loaded()`. Thread workers
// (node:worker_threads) start from `_thread_entry.ts`, which does the same
// with a dynamic import. The main side talks to the worker over a
// MessagePort, which arrives as the first message (web) or in `workerData`.

import { context } from "./_context.ts";
import { messages } from "./_messages.ts";
import { cloneError, unwrapTransfer } from "./_clone.ts";
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
} from "./_wire.ts";

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
    await fn(...msg.args);
  } catch (err) {
    reportExit(1, err);
    return;
  }
  reportExit(0);
}

// ---- pool workers ---------------------------------------------------------

let web = false;
let initializing: Promise<boolean> | null = null;
const fns = new Map<number, Promise<Fn>>();
const queue: ChunkMessage[] = [];
let busy = false;

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
  const p = namespaceOf(msg.m).then((ns) => lookup(ns, msg.fn, msg.m));
  p.catch(() => {});
  fns.set(msg.k, p);
}

function startPool(msg: PoolMessage): void {
  const init = msg.init;
  if (init === undefined) return;
  initializing = (async () => {
    try {
      const fn = lookup(await namespaceOf(moduleUrl), init.fn);
      await fn(...init.args);
      return true;
    } catch (err) {
      send({ t: "i", e: encodeError(err) });
      return false;
    }
  })();
}

function postResult(c: number, values: unknown[], d: number): void {
  const transfer: Transferable[] = [];
  for (let i = 0; i < values.length; i++) {
    values[i] = unwrapTransfer(values[i], transfer);
  }
  try {
    port!.postMessage({ t: "r", c, v: values, d }, transfer);
  } catch (err) {
    const one = values.length === 1;
    const e = err instanceof DOMException && err.name === "DataCloneError"
      ? cloneError(one ? values[0] : values, one ? "result" : "results", err)
      : err;
    send({ t: "e", c, i: 0, e: encodeError(e), d });
  }
}

async function runChunk(msg: ChunkMessage): Promise<void> {
  const t0 = performance.now();
  const items = msg.a;
  const out = new Array(items.length);
  let i = 0;
  try {
    if (initializing !== null && !(await initializing)) return;
    const fn = await fns.get(msg.k)!;
    for (; i < items.length; i++) {
      let v = msg.s === 1 ? fn(...(items[i] as unknown[])) : fn(items[i]);
      if (
        v !== null && typeof v === "object" &&
        typeof (v as PromiseLike<unknown>).then === "function"
      ) {
        v = await v;
      }
      out[i] = v;
    }
  } catch (err) {
    const d = performance.now() - t0;
    send({ t: "e", c: msg.c, i, e: encodeError(err), d });
    return;
  }
  postResult(msg.c, out, performance.now() - t0);
}

async function drain(): Promise<void> {
  busy = true;
  while (queue.length > 0) await runChunk(queue.shift()!);
  busy = false;
}

function dispatch(msg: ToWorker): void {
  switch (msg.t) {
    case "x":
      queue.push(msg);
      if (!busy) drain();
      break;
    case "f":
      register(msg);
      break;
    case "init":
      ctx.pids = msg.pids;
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
