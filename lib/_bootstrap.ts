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
import {
  encodeError,
  type ExitMessage,
  type FnRef,
  type InitMessage,
  type RunMessage,
  type WireError,
  type WorkerIdentity,
} from "./_wire.ts";

type Namespace = Record<string, unknown>;
type Incoming = InitMessage | RunMessage;

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
function send(msg: ExitMessage): void {
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
export function lookup(
  ns: Namespace,
  ref: FnRef,
): (...a: unknown[]) => unknown {
  const direct = ns[ref.name];
  if (typeof direct === "function") {
    return direct as (...a: unknown[]) => unknown;
  }
  for (const value of Object.values(ns)) {
    if (
      typeof value === "function" &&
      Function.prototype.toString.call(value) === ref.src
    ) {
      return value as (...a: unknown[]) => unknown;
    }
  }
  throw new TypeError(messages.notExported(ref.name, moduleUrl));
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

function dispatch(msg: Incoming): void {
  switch (msg.t) {
    case "init":
      ctx.pids = msg.pids;
      break;
    case "run":
      run(msg);
      break;
  }
}

/** Attaches the port to the main side. */
export function attach(p: MessagePort): void {
  port = p;
  p.onmessage = (e: MessageEvent<Incoming>) => dispatch(e.data);
}

/** Sets this worker's identity; called before the target module loads. */
export function identify(
  identity: WorkerIdentity,
  module: string,
  web: boolean,
): void {
  moduleUrl = module;
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
  if (web) {
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
