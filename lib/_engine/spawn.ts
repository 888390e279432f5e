// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// One internal interface over three kinds of worker:
// - "thread": a node:worker_threads Worker, for permissions "inherit"
//   (thread_spawn.ts). Taken warm from the standby (standby.ts) when one
//   waits.
// - "web": a web Worker with scoped permissions (web_spawn.ts).
// - "process" (isolation: "process"): a child OS process, see child.ts. Its
//   port is an IpcPort over the IPC channel instead of a MessagePort.

import { IpcPort } from "../_shared/ipc.ts";
import { livenessFor, trackPid } from "../_shared/liveness.ts";
import type { InitMessage, WorkerIdentity } from "../_shared/wire.ts";
import type {
  Isolation,
  Permissions,
  ResourceLimits,
} from "../process/worker_options.ts";
import { canWarm, IdleChild, spawnChild } from "./child.ts";
import type { ChildCommand } from "./flags.ts";
import { nextPid, pidCounter, scopedPidCounter } from "./registry.ts";
import { refillStandby, takeStandby } from "./standby.ts";
import { IdleThread, type OnDeath, threadEnvCopied } from "./thread_spawn.ts";
import { spawnWeb } from "./web_spawn.ts";

export type { OnDeath };

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

/** The two ends of a new worker's port, and a thread's pid. */
export interface WorkerPorts {
  /** This side's end. */
  readonly port: MessagePort | IpcPort;
  /** The worker's end, for `spawnWorker` (the same IpcPort for an OS
   * process, whose channel has one end here). */
  readonly workerPort: WorkerPort;
  /** A thread's pid; 0 for an OS process, which gets the OS's when it
   * starts (`WorkerHandle.pid`). */
  readonly pid: number;
}

/**
 * Opens the port to a new worker of `module`. A thread is told its pid
 * counter and liveness table first (an InitMessage): a scoped one
 * (`permissions` not "inherit") gets its own of each, since it could write
 * anything into the program's (see liveness.ts). Shared memory does not
 * reach an OS process.
 */
export function openPorts(
  isolation: Isolation,
  permissions: Permissions,
  module: string,
): WorkerPorts {
  if (isolation === "process") {
    const port = new IpcPort(true);
    return { port, workerPort: port, pid: 0 };
  }
  const { port1, port2 } = new MessageChannel();
  const pid = nextPid();
  const scoped = permissions !== "inherit";
  const init: InitMessage = {
    t: "init",
    pids: scoped ? scopedPidCounter() : pidCounter(),
    liveness: livenessFor(port1, pid, scoped),
    module,
  };
  port1.postMessage(init);
  return { port: port1, workerPort: port2, pid };
}

/** Starts a thread that runs `spec`: a warm one from the standby, else a
 * new one. Its kind is refilled when it ends: starting a thread blocks this
 * thread for its V8 isolate's creation (~40 ms here), which should not land
 * while the program waits for the thread that was taken. */
function spawnThread(
  spec: WorkerSpec,
  port: MessagePort,
  onDeath: OnDeath,
): WorkerHandle {
  const limits = spec.resourceLimits;
  const envCopied = threadEnvCopied();
  const key = `thread ${envCopied} ${JSON.stringify(limits ?? null)}`;
  const thread =
    takeStandby(key, () => new IdleThread(limits, envCopied, true)) ??
      new IdleThread(limits, envCopied, false);
  return thread.assign(
    spec.identity,
    spec.module,
    port,
    onDeath,
    () => refillStandby(key),
  );
}

/** Starts an OS process that runs `spec`: a warm one from the standby when
 * its command allows (see `canWarm`), else a new one. Its kind (its command
 * line) is refilled when it ends, as a thread's is. */
function spawnProcess(
  spec: WorkerSpec,
  port: IpcPort,
  onDeath: OnDeath,
): WorkerHandle {
  const command = spec.command!;
  const key = `process ${JSON.stringify(command.args)}`;
  const warm = canWarm(command)
    ? takeStandby(key, () => new IdleChild(command))
    : undefined;
  const handle = spawnChild(
    {
      identity: spec.identity,
      module: spec.module,
      resourceLimits: spec.resourceLimits,
      command,
    },
    port,
    (code, error) => {
      refillStandby(key);
      onDeath(code, error);
    },
    warm,
  );
  // Its end marks its OS pid ended, as a thread's end does its pid
  // (processEnded() on this port).
  if (handle.pid !== undefined) trackPid(port, handle.pid);
  return handle;
}

/**
 * Starts a worker that runs `spec` and talks over `port`. An OS process
 * starts as child.ts says (its end is reported to `onDeath` even after
 * `kill()`, with the OS's code).
 */
export function spawnWorker(
  spec: WorkerSpec,
  workerPort: WorkerPort,
  onDeath: OnDeath,
): WorkerHandle {
  if (spec.isolation === "process") {
    return spawnProcess(spec, workerPort as IpcPort, onDeath);
  }
  const port = workerPort as MessagePort;
  if (spec.permissions === "inherit") return spawnThread(spec, port, onDeath);
  return spawnWeb(spec, port, onDeath);
}
