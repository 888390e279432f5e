// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The identity of the process this code runs in. Shared through `globalThis`
// so that the bootstrap (worker side) and the public API (which the user's
// module imports, possibly from another URL) see one state per isolate.
//
// Imports only a type, from lib/process/current_process.ts (where the public
// `ProcessInfo` is defined): nothing at run time.

import type { ProcessInfo } from "../process/current_process.ts";

/** The per-isolate state. */
export interface Context {
  current: ProcessInfo;
  parent: ProcessInfo | null;
  /** True while a worker is importing its target module. */
  importing: boolean;
  /** True inside a worker started by this library. */
  inWorker: boolean;
  /** True inside a worker with scoped permissions: one exists, so
   * --unstable-worker-options is known to be on. */
  workerOptions: boolean;
  /** Shared pid counter (a one-element Int32Array on a SharedArrayBuffer). */
  pids: Int32Array | null;
  /** Program-wide table of ended pids (see liveness.ts). */
  liveness: Int32Array | null;
}

const KEY = Symbol.for("@parallel/multiprocessing/context");

/** The state of this isolate, created on first use. */
export function context(): Context {
  const g = globalThis as unknown as Record<symbol, Context | undefined>;
  let ctx = g[KEY];
  if (ctx === undefined) {
    ctx = {
      current: { name: "MainProcess", pid: Deno.pid, daemon: false },
      parent: null,
      importing: false,
      inWorker: false,
      workerOptions: false,
      pids: null,
      liveness: null,
    };
    g[KEY] = ctx;
  }
  return ctx;
}
