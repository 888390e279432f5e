// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Scoped workers (permissions other than "inherit", isolation "thread"): a
// web Worker with Deno's per-worker permissions. Its entry is generated
// here: it imports its target module statically, because a worker without
// read permission cannot import() a module it does not already have.
//
// Liveness: Deno's web Worker has no public unref(). It does have the
// reference count that node:worker_threads' unref() uses, behind a private
// symbol method of Worker.prototype. Where that method is found, every
// scoped worker is unreferenced at once, as a thread is, and the main
// side's MessagePort decides liveness: a scoped daemon starts as fast as any
// web Worker. Where it is not found (another Deno), a daemon, which must
// never keep the program alive, is created by the hub thread
// (../_worker/hub.ts), which this side does unreference; that costs ~0.5 s
// more, as Deno delivers a nested worker's first messages late.
//
// Imports lib/_shared/ (wire types, error codec), validate.ts and
// thread_spawn.ts (OnDeath, the hub's env option).

import {
  SHARE_ENV,
  type TransferListItem as ThreadTransferable,
  Worker as ThreadWorker,
} from "node:worker_threads";
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
import type { Permissions } from "../process/worker_options.ts";
import { type OnDeath, threadEnvCopied } from "./thread_spawn.ts";

const HUB_ENTRY = new URL("../_worker/hub.ts", import.meta.url);
const BOOTSTRAP = new URL("../_worker/bootstrap.ts", import.meta.url).href;

/** What a scoped worker runs. */
export interface WebSpec {
  readonly identity: WorkerIdentity;
  readonly module: string;
  readonly permissions: Permissions;
  /** True when the worker must never keep the program alive by itself. */
  readonly detached: boolean;
}

type RefMethod = (this: Worker, ref: boolean) => void;

/**
 * Deno's private ref/unref method of web Workers, if this Deno has it: the
 * one function of Worker.prototype keyed by a symbol without a description
 * that takes one argument (Deno 2.x: `[privateWorkerRef](ref)`).
 */
function findRefMethod(): RefMethod | undefined {
  const proto = Worker.prototype as unknown as Record<symbol, unknown>;
  const found = Object.getOwnPropertySymbols(proto).filter((s) =>
    s.description === undefined && typeof proto[s] === "function" &&
    (proto[s] as RefMethod).length === 1
  );
  return found.length === 1 ? proto[found[0]!] as RefMethod : undefined;
}

let refMethod: RefMethod | undefined | null = null;
/** Tests turn this off to take the hub's path. */
let unrefAllowed = true;

/** Unreferences `worker` (it no longer keeps the program alive); false where
 * this Deno cannot. */
function unrefWorker(worker: Worker): boolean {
  if (!canUnref()) return false;
  refMethod!.call(worker, false);
  return true;
}

/** For tests: whether scoped workers may be unreferenced directly (true),
 * or daemons must go through the hub (false). Returns the old setting. */
export function allowWorkerUnref(allowed: boolean): boolean {
  const old = unrefAllowed;
  unrefAllowed = allowed;
  return old;
}

/** Whether scoped workers start unreferenced: they then never keep the
 * program alive by themselves, as threads. */
export function canUnref(): boolean {
  if (!unrefAllowed) return false;
  if (refMethod === null) refMethod = findRefMethod();
  return refMethod !== undefined;
}

function webEntry(spec: WebSpec): string {
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
    ...(threadEnvCopied() ? {} : { env: SHARE_ENV }),
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

function spawnViaHub(
  spec: WebSpec,
  port: MessagePort,
  onDeath: OnDeath,
): { kill(): void } {
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

function spawnDirect(
  spec: WebSpec,
  port: MessagePort,
  onDeath: OnDeath,
): { kill(): void } {
  const worker = new Worker(webEntry(spec), {
    type: "module",
    name: spec.identity.name,
    deno: { permissions: spec.permissions },
  });
  unrefWorker(worker);
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
 * Starts a scoped web Worker that runs `spec` and talks over `port`. It is
 * unreferenced where Deno allows; a detached one (a daemon) goes through the
 * hub where it does not.
 */
export function spawnWeb(
  spec: WebSpec,
  port: MessagePort,
  onDeath: OnDeath,
): { kill(): void } {
  return spec.detached && !canUnref()
    ? spawnViaHub(spec, port, onDeath)
    : spawnDirect(spec, port, onDeath);
}
