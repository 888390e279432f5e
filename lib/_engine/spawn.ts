// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// One internal interface over three kinds of worker:
// - "thread": a node:worker_threads Worker, for permissions "inherit". It
//   enforces resourceLimits (an out-of-memory worker ends alone) and reports
//   its exit. The main side unreferences it; the MessagePort decides liveness.
// - "web": a web Worker with scoped permissions. Deno cannot unreference a
//   web Worker, so one that must never keep the program alive (a daemon) is
//   created by the hub thread (see ../_worker/hub.ts), which the main side does
//   unreference; others are created here, and ended when idle.
// - "process" (isolation: "process"): a child OS process, see child.ts. Its
//   port is an IpcPort over the IPC channel instead of a MessagePort.

import { getHeapStatistics } from "node:v8";
import {
  SHARE_ENV,
  type TransferListItem as ThreadTransferable,
  Worker as ThreadWorker,
} from "node:worker_threads";
import { ProcessError } from "../errors.ts";
import type { IpcPort } from "../_shared/ipc.ts";
import { messages } from "../_messages.ts";
import {
  exitProblem,
  hubDeathProblem,
  PROTOCOL_EXIT_CODE,
  protocolError,
  UNREADABLE_MESSAGE,
} from "./validate.ts";
import type {
  ExitMessage,
  HubDeath,
  HubRequest,
  WorkerIdentity,
} from "../_shared/wire.ts";
import { decodeError } from "../_shared/error_codec.ts";
import type {
  Isolation,
  Permissions,
  ResourceLimits,
} from "../process/worker_options.ts";
import { spawnChild } from "./child.ts";
import { watchThread } from "./thread_watchdog.ts";
import type { ChildCommand } from "./flags.ts";

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
  /** A thread of this process, or an OS process. */
  readonly isolation: Isolation;
  /** For an OS process: its command line (see flags.ts). */
  readonly command?: ChildCommand;
}

/** Called once when a worker ends without reporting its own exit, with the
 * error that ended it (decoded), if any. */
export type OnDeath = (code: number, error: unknown) => void;

/** A started worker. Messages go over the port given to `spawnWorker`. */
export interface WorkerHandle {
  /** Ends the worker now (an OS process by `signal`, default SIGKILL; its
   * end is still reported to `onDeath`, with the OS's exit code). */
  kill(signal?: "SIGTERM" | "SIGKILL"): void;
  /** An OS process's pid. */
  readonly pid?: number | undefined;
  /** An OS process: resolves once it has ended. */
  readonly ended?: Promise<void>;
}

/** The port to a worker: a MessagePort to a thread, an IpcPort to an OS
 * process. */
export type WorkerPort = MessagePort | IpcPort;

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
  const outOfMemory = () => {
    const limit = spec.resourceLimits?.maxOldGenerationSizeMb;
    const what = limit === undefined
      ? `the heap limit (${limits.maxOldGenerationSizeMb} MB)`
      : `resourceLimits.maxOldGenerationSizeMb (${limit} MB)`;
    return new ProcessError(messages.outOfMemory(spec.identity.name, what), {
      processName: spec.identity.name,
      exitCode: 1,
      code: "ERR_WORKER_OUT_OF_MEMORY",
      cause: lastError,
    });
  };
  const stopWatch = watchThread(worker, () => {
    // Stuck at its heap limit: Deno will never end it (see watchThread).
    if (killed) return;
    killed = true;
    worker.terminate();
    onDeath(1, outOfMemory());
  });
  worker.on("error", (err: unknown) => {
    lastError = err;
  });
  worker.on("exit", (code: number) => {
    stopWatch();
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
      onDeath(1, outOfMemory());
      return;
    }
    onDeath(code, lastError);
  };
  return {
    kill() {
      stopWatch();
      if (killed) return;
      killed = true;
      worker.terminate();
    },
  };
}

interface Hub {
  readonly thread: ThreadWorker;
  /** The workers it holds: their names and how to report their end. */
  readonly deaths: Map<number, { name: string; onDeath: OnDeath }>;
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
  const deaths: Hub["deaths"] = new Map();
  thread.on("message", (msg: HubDeath) => {
    // What a scoped worker sent the hub comes on unchecked (validate.ts).
    const dead = deaths.get(msg?.id);
    if (dead === undefined) return;
    deaths.delete(msg.id);
    const problem = hubDeathProblem(msg);
    if (problem !== undefined) {
      dead.onDeath(PROTOCOL_EXIT_CODE, protocolError(dead.name, problem));
    } else dead.onDeath(msg.code, decodeError(msg.error));
  });
  thread.on("error", (err: unknown) => {
    // The hub itself failed: every worker it held is gone.
    for (const { onDeath } of deaths.values()) onDeath(1, err);
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
  h.deaths.set(id, { name: spec.identity.name, onDeath });
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
  // A worker speaks here only when it ends before its port arrived; it may
  // run hostile code, so what it sends is checked (validate.ts).
  worker.onmessage = (ev: MessageEvent<ExitMessage>) => {
    const problem = exitProblem(ev.data);
    if (problem !== undefined) {
      dead(PROTOCOL_EXIT_CODE, protocolError(spec.identity.name, problem));
    } else dead(ev.data.code, decodeError(ev.data.error));
  };
  worker.onmessageerror = () =>
    worker.onmessage?.({ data: UNREADABLE_MESSAGE } as MessageEvent);
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
 * Starts a worker that runs `spec` and talks over `port`. An OS process
 * starts as child.ts says (its end is reported to `onDeath` even after
 * `kill()`, with the OS's code). A scoped worker
 * that must never keep the program alive (`detached`) starts through the
 * hub, which costs ~0.5 s more: Deno delivers a nested worker's first
 * messages late. Other scoped workers start directly from this thread.
 */
export function spawnWorker(
  spec: WorkerSpec,
  workerPort: WorkerPort,
  onDeath: OnDeath,
): WorkerHandle {
  if (spec.isolation === "process") {
    return spawnChild(
      {
        identity: spec.identity,
        module: spec.module,
        resourceLimits: spec.resourceLimits,
        command: spec.command!,
      },
      workerPort as IpcPort,
      onDeath,
    );
  }
  const port = workerPort as MessagePort;
  if (spec.permissions === "inherit") return spawnThread(spec, port, onDeath);
  return spec.detached
    ? spawnWebViaHub(spec, port, onDeath)
    : spawnWebDirect(spec, port, onDeath);
}
