// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// One internal interface over two kinds of worker:
// - "thread": a node:worker_threads Worker, for permissions "inherit". It
//   enforces resourceLimits (an out-of-memory worker ends alone) and reports
//   its exit. The main side unreferences it; the MessagePort decides liveness.
// - "web": a web Worker with scoped permissions. Deno cannot unreference a
//   web Worker, so one that must never keep the program alive (a daemon) is
//   created by the hub thread (see ../_worker/hub.ts), which the main side does
//   unreference; others are created here, and ended when idle.

import { getHeapStatistics } from "node:v8";
import {
  SHARE_ENV,
  type TransferListItem as ThreadTransferable,
  Worker as ThreadWorker,
} from "node:worker_threads";
import { ProcessError } from "../errors.ts";
import { messages } from "../_messages.ts";
import {
  decodeError,
  type HubDeath,
  type HubRequest,
  type WorkerIdentity,
} from "../_shared/wire.ts";
import type { Permissions, ResourceLimits } from "../process/worker_options.ts";

const THREAD_ENTRY = new URL("../_worker/thread_entry.ts", import.meta.url);
const HUB_ENTRY = new URL("../_worker/hub.ts", import.meta.url);
const BOOTSTRAP = new URL("../_worker/bootstrap.ts", import.meta.url).href;

/** What to start. */
export interface WorkerSpec {
  readonly identity: WorkerIdentity;
  readonly module: string;
  readonly permissions: Permissions;
  readonly resourceLimits: ResourceLimits | undefined;
  /** True when the worker must never keep the program alive by itself. */
  readonly detached: boolean;
}

/** Called once when a worker ends without reporting its own exit, with the
 * error that ended it (decoded), if any. */
export type OnDeath = (code: number, error: unknown) => void;

/** A started worker. Messages go over the port given to `spawnWorker`. */
export interface WorkerHandle {
  /** Ends the worker now. */
  kill(): void;
}

// By default a thread may grow as large as the main heap: with an explicit
// limit, Deno ends an out-of-memory worker alone instead of the program.
let defaultLimit: number | undefined;
function heapLimitMb(): number {
  defaultLimit ??= Math.floor(getHeapStatistics().heap_size_limit / 2 ** 20);
  return defaultLimit;
}

/**
 * The `env` option for a node:worker_threads Worker. By default such a Worker
 * copies `process.env`, which reads every variable: without env access, Deno
 * prompts for it (`deno run -R` in a terminal stops at "Deno requests env
 * access" before the first worker starts). So a thread copies the environment
 * only when the program may read all of it, as before; otherwise it shares
 * the main thread's view (SHARE_ENV), which reads nothing up front and checks
 * each variable when the worker's own code reads it, as the main thread would.
 * `querySync` never prompts.
 */
function threadEnv(): { env: typeof SHARE_ENV } | Record<never, never> {
  return Deno.permissions.querySync({ name: "env" }).state === "granted"
    ? {}
    : { env: SHARE_ENV };
}

function spawnThread(
  spec: WorkerSpec,
  port: MessagePort,
  onDeath: OnDeath,
): WorkerHandle {
  const limits = {
    maxOldGenerationSizeMb: heapLimitMb(),
    ...spec.resourceLimits,
  };
  const worker = new ThreadWorker(
    THREAD_ENTRY,
    {
      name: spec.identity.name,
      workerData: { identity: spec.identity, module: spec.module, port },
      transferList: [port as unknown as ThreadTransferable],
      resourceLimits: limits,
      ...threadEnv(),
    } as ConstructorParameters<typeof ThreadWorker>[1],
  );
  worker.unref();
  let lastError: unknown;
  let killed = false;
  worker.on("error", (err: unknown) => {
    lastError = err;
  });
  worker.on("exit", (code: number) => {
    if (killed) return;
    // The thread's exit can overtake the messages it posted just before
    // (its results, its own exit report): give the port time to deliver
    // them, so that only the task it was running is failed.
    setTimeout(() => died(code), 100);
  });
  const died = (code: number) => {
    if (killed) return;
    const err = lastError as { code?: string } | undefined;
    if (err?.code === "ERR_WORKER_OUT_OF_MEMORY") {
      const limit = spec.resourceLimits?.maxOldGenerationSizeMb;
      const what = limit === undefined
        ? `the heap limit (${limits.maxOldGenerationSizeMb} MB)`
        : `resourceLimits.maxOldGenerationSizeMb (${limit} MB)`;
      onDeath(
        1,
        new ProcessError(messages.outOfMemory(spec.identity.name, what), {
          processName: spec.identity.name,
          exitCode: 1,
          code: "ERR_WORKER_OUT_OF_MEMORY",
          cause: lastError,
        }),
      );
      return;
    }
    onDeath(code, lastError);
  };
  return {
    kill() {
      if (killed) return;
      killed = true;
      worker.terminate();
    },
  };
}

interface Hub {
  readonly thread: ThreadWorker;
  readonly deaths: Map<number, OnDeath>;
}

let hub: Hub | undefined;
let nextId = 1;

function getHub(): Hub {
  if (hub !== undefined) return hub;
  const thread = new ThreadWorker(HUB_ENTRY, {
    name: "multiprocessing-hub",
    ...threadEnv(),
  });
  thread.unref();
  const deaths = new Map<number, OnDeath>();
  thread.on("message", (msg: HubDeath) => {
    const onDeath = deaths.get(msg.id);
    deaths.delete(msg.id);
    onDeath?.(msg.code, decodeError(msg.error));
  });
  thread.on("error", (err: unknown) => {
    // The hub itself failed: every worker it held is gone.
    for (const onDeath of deaths.values()) onDeath(1, err);
    deaths.clear();
    hub = undefined;
  });
  hub = { thread, deaths };
  return hub;
}

function webEntry(spec: WorkerSpec): string {
  const identify = `import { identify } from ${JSON.stringify(BOOTSTRAP)};\n` +
    `identify(${JSON.stringify(spec.identity)}, ${
      JSON.stringify(spec.module)
    }, true);\n`;
  const entry = `import ${
    JSON.stringify(
      "data:text/javascript," + encodeURIComponent(identify),
    )
  };\nimport * as ns from ${JSON.stringify(spec.module)};\n` +
    `import { loaded } from ${JSON.stringify(BOOTSTRAP)};\nloaded(ns);\n`;
  return "data:text/javascript," + encodeURIComponent(entry);
}

function spawnWebViaHub(
  spec: WorkerSpec,
  port: MessagePort,
  onDeath: OnDeath,
): WorkerHandle {
  const h = getHub();
  const id = nextId++;
  h.deaths.set(id, onDeath);
  const req: HubRequest = {
    op: "spawn",
    id,
    entry: webEntry(spec),
    name: spec.identity.name,
    permissions: spec.permissions,
    port,
  };
  h.thread.postMessage(req, [port as unknown as ThreadTransferable]);
  return {
    kill() {
      if (!h.deaths.delete(id)) return;
      h.thread.postMessage({ op: "kill", id } satisfies HubRequest);
    },
  };
}

function spawnWebDirect(
  spec: WorkerSpec,
  port: MessagePort,
  onDeath: OnDeath,
): WorkerHandle {
  const worker = new Worker(webEntry(spec), {
    type: "module",
    name: spec.identity.name,
    deno: { permissions: spec.permissions },
  });
  let done = false;
  const dead = (code: number, error: unknown) => {
    if (done) return;
    done = true;
    worker.terminate();
    onDeath(code, error);
  };
  worker.onerror = (ev) => {
    ev.preventDefault();
    dead(1, new Error(ev.message));
  };
  // A worker speaks here only when it ends before its port arrived.
  worker.onmessage = (ev: MessageEvent<{ code: number; error?: unknown }>) => {
    dead(ev.data.code, decodeError(ev.data.error));
  };
  worker.postMessage({ port }, [port]);
  return {
    kill() {
      if (done) return;
      done = true;
      worker.terminate();
    },
  };
}

/**
 * Starts a worker that runs `spec` and talks over `port`. A scoped worker
 * that must never keep the program alive (`detached`) starts through the
 * hub, which costs ~0.5 s more: Deno delivers a nested worker's first
 * messages late. Other scoped workers start directly from this thread.
 */
export function spawnWorker(
  spec: WorkerSpec,
  port: MessagePort,
  onDeath: OnDeath,
): WorkerHandle {
  if (spec.permissions === "inherit") return spawnThread(spec, port, onDeath);
  return spec.detached
    ? spawnWebViaHub(spec, port, onDeath)
    : spawnWebDirect(spec, port, onDeath);
}
