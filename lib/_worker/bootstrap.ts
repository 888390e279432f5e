// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The worker bootstrap: how every worker starts. It takes the worker's
// identity, watches for its end, imports its target module, attaches the
// port to the main side, and then runs what it is sent: one target (a
// Process, here) or the chunks of a pool (task_runner.ts).
//
// Web workers start from a generated entry that imports, in order: a module
// calling `identify()`, the target module (statically: a worker with scoped
// permissions cannot `import()` it), then calls `loaded()`. Thread workers
// (node:worker_threads) start from thread_entry.ts, which does the same with
// a dynamic import. The main side talks to the worker over a MessagePort,
// which arrives as the first message (web) or in `workerData` (thread).
//
// Imports lib/_shared/, lib/_messages.ts and task_runner.ts only: nothing
// from the main-side engine.

import { context } from "../_shared/context.ts";
import { messages } from "../_messages.ts";
import { revive, shareablesLoaded } from "../_shared/shareable.ts";
import type {
  ExitMessage,
  FnRef,
  FromWorker,
  RunMessage,
  ToWorker,
  WireError,
  WorkerIdentity,
} from "../_shared/wire.ts";
import { encodeError, noteTargetModule } from "../_shared/error_codec.ts";
import { type TargetFn, TaskRunner } from "./task_runner.ts";

type Namespace = Record<string, unknown>;

/** The worker's global scope, typed for what this file uses. */
const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(msg: unknown): void;
};
const ctx = context();
let port: MessagePort | null = null;
let runner: TaskRunner | null = null;
let moduleUrl = "";
/** A web worker: it can load no module but the one it started with. */
let web = false;
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
  runner?.flush();
  const msg: ExitMessage = error === undefined
    ? { t: "exit", code }
    : { t: "exit", code, error: encodeError(error) as WireError };
  send(msg);
}

/** Reports this worker's end with `code` (once), results first, without
 * ending it: a child process (process_entry.ts) ends itself once the report
 * is written. */
export function reportEnd(code: number): void {
  reportExit(code);
}

/** Finds the target in the module namespace: by name, else by source. */
function lookup(
  ns: Namespace,
  ref: FnRef,
  module: string = moduleUrl,
): TargetFn {
  // Errors of the classes it exports are revived as those classes.
  noteTargetModule(module, ns);
  const direct = ns[ref.name];
  if (typeof direct === "function") return direct as TargetFn;
  for (const value of Object.values(ns)) {
    if (
      typeof value === "function" &&
      Function.prototype.toString.call(value) === ref.src
    ) {
      return value as TargetFn;
    }
  }
  throw new TypeError(messages.notExported(ref.name, module));
}

/** The namespace of `module`: the target module's, or another imported
 * now (a thread worker may; a web worker may not). */
async function namespaceOf(module: string): Promise<Namespace> {
  if (module === moduleUrl) {
    const ns = await namespace;
    if (ns === null) throw new Error(messages.moduleFailed(moduleUrl));
    return ns;
  }
  if (web) throw new TypeError(messages.scopedModule(module, moduleUrl));
  return await import(module);
}

/** Finds function `ref` of `module` for the task runner. */
async function resolve(
  ref: FnRef,
  module: string = moduleUrl,
): Promise<TargetFn> {
  return lookup(await namespaceOf(module), ref, module);
}

/** Runs the target of a Process, then reports its end. */
async function runProcess(msg: RunMessage): Promise<void> {
  const ns = await namespace;
  // The module failed to load: `loaded()` reported the end already.
  if (ns === null) return;
  try {
    const fn = lookup(ns, msg.fn);
    const args = revive(msg.args);
    await shareablesLoaded();
    await fn(...args);
  } catch (err) {
    reportExit(1, err);
    return;
  }
  reportExit(0);
}

function dispatch(msg: ToWorker): void {
  switch (msg.t) {
    case "x":
      runner!.enqueue(msg);
      break;
    case "f":
      runner!.register(msg);
      break;
    case "init":
      ctx.pids = msg.pids;
      ctx.liveness = msg.liveness.table;
      Atomics.store(msg.liveness.self, 0, ctx.current.pid);
      break;
    case "pool":
      runner!.start(msg);
      break;
    case "run":
      runProcess(msg);
      break;
  }
}

/** Attaches the port to the main side. */
export function attach(p: MessagePort): void {
  port = p;
  runner = new TaskRunner(p, resolve);
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
  if (isWeb) ctx.workerOptions = true;
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

/** The library's public entry, which a target module imports under this
 * same URL. */
const LIBRARY = new URL("../../mod.ts", import.meta.url).href;

/** Loads the library while a warm worker waits for its target (see
 * lib/_engine/standby.ts), so that the target finds it loaded. An error
 * here is the target's to meet when it imports the library itself. */
export function preloadLibrary(): void {
  import(LIBRARY).catch(() => {});
}

/** The target module finished loading (or failed to, with `error`). */
export function loaded(ns: Namespace | null, error?: unknown): void {
  ctx.importing = false;
  if (ns === null) reportExit(1, error);
  resolveNs(ns);
}
