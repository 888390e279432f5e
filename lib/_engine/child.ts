// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// A worker that is an OS process (isolation: "process"): a child `deno run`
// of the same executable, started with node:child_process `fork()` and an
// IPC channel (V8 serialization). Its port (../_shared/ipc.ts) carries the
// same wire messages as a thread's MessagePort, so the engine and Process
// treat both kinds alike.
//
// The child's entry is a data: URL module that imports the library's child
// entry (../_worker/process_entry.ts), then the target module by a literal
// import(), which Deno resolves with the module graph: a child without read
// permission still loads it, as a scoped thread does.
//
// Its end: the OS reports an exit code or a signal (-N, as Python reports
// it). A child ends with its parent: when the IPC channel closes, and, if it
// is busy in a synchronous loop, by the watchdog thread inside it.
//
// Imports lib/_shared/, lib/errors.ts, lib/_messages.ts and flags.ts.

import { type ChildProcess, fork } from "node:child_process";
import { constants } from "node:os";
import { ProcessError } from "../errors.ts";
import { messages } from "../_messages.ts";
import type { IpcEndpoint, IpcPort } from "../_shared/ipc.ts";
import type { ChildAssign, WorkerIdentity } from "../_shared/wire.ts";

import type { ResourceLimits } from "../process/worker_options.ts";
import { type ChildCommand, denoExecutable } from "./flags.ts";
import { protocolError } from "./validate.ts";

const ENTRY = new URL("../_worker/process_entry.ts", import.meta.url).href;

/** After a child's exit, how long its last messages may take to arrive
 * (the channel closes after them). */
const EXIT_GRACE_MS = 500;

/** How long a child may live on after closing its channel: its own entry
 * exits at once on a close, so one still running is hostile (or stuck), and
 * is ended. */
const CLOSED_CHANNEL_GRACE_MS = 2_000;

/** The `code` of the ProcessError of a child that could not start. */
export const START_FAILED = "ERR_WORKER_START";

/** Signals by which V8 ends a process on a fatal error: running out of heap
 * (a trap instruction; SIGILL on some CPUs). */
const FATAL_SIGNALS: ReadonlySet<string> = new Set(["SIGTRAP", "SIGILL"]);

/** What to start. */
export interface ChildSpec {
  readonly identity: WorkerIdentity;
  readonly module: string;
  readonly resourceLimits: ResourceLimits | undefined;
  readonly command: ChildCommand;
}

/** A started child. */
export interface ChildHandle {
  /** Its OS pid; undefined when it could not be started. */
  readonly pid: number | undefined;
  /** Resolves once it has ended and its channel closed. */
  readonly ended: Promise<void>;
  /** Sends `signal` (default SIGKILL); the end is reported as usual. */
  kill(signal?: "SIGTERM" | "SIGKILL"): void;
}

/** Python's exit code for a signal: -N. */
function signalCode(signal: string): number {
  const n = (constants.signals as Record<string, number | undefined>)[signal];
  return n === undefined ? -1 : -n;
}

/** The data: URL of a child's entry module. */
function entryUrl(spec: ChildSpec): string {
  const info = spec.command.resolve;
  const src = `import { loaded, startChild } from ${JSON.stringify(ENTRY)};\n` +
    `startChild(${JSON.stringify(spec.identity)}, ${
      JSON.stringify(spec.module)
    }, ${JSON.stringify(info)});\n` +
    `let ns = null;\nlet error;\n` +
    `try {\n  ns = await import(${JSON.stringify(spec.module)});\n` +
    `} catch (e) {\n  error = e;\n}\nloaded(ns, error);\n`;
  return "data:text/javascript," + encodeURIComponent(src);
}

/** The data: URL of a warm child's entry: it waits for its target. */
function warmEntryUrl(command: ChildCommand): string {
  const src = `import { awaitAssign } from ${JSON.stringify(ENTRY)};\n` +
    `awaitAssign(${JSON.stringify(command.resolve)});\n`;
  return "data:text/javascript," + encodeURIComponent(src);
}

/** Starts `deno` with `args` on `entry`, with an IPC channel. */
function forkEntry(entry: string, args: readonly string[]): ChildProcess {
  return fork(entry, [], {
    execArgv: [...args],
    serialization: "advanced",
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

/**
 * Whether a child started with `command` can wait warm: it imports its
 * target module by a URL it learns later, which needs read access, and it
 * takes the parent's environment then, which needs env access.
 */
export function canWarm(command: ChildCommand): boolean {
  const a = command.args;
  const all = a.includes("--allow-all") || a.includes("-A");
  return all || (a.includes("--allow-read") && a.includes("--allow-env"));
}

/**
 * A child started ahead of time (the start method "forkserver"): it loads
 * the library and waits for its target, which `spawnChild` gives it. It
 * does not keep the program alive.
 */
export class IdleChild {
  readonly #child: ChildProcess | undefined;
  #ended = false;
  readonly #onEnd = () => this.#ended = true;

  /** Starts a warm child with `command` (see {@linkcode canWarm}). */
  constructor(command: ChildCommand) {
    let child: ChildProcess | undefined;
    try {
      child = forkEntry(warmEntryUrl(command), command.args);
    } catch {
      this.#ended = true;
    }
    this.#child = child;
    if (child === undefined) return;
    endpoint(child).unref();
    child.once("exit", this.#onEnd);
    child.once("disconnect", this.#onEnd);
    child.once("error", this.#onEnd);
  }

  /** True once it has ended by itself. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Ends it. */
  end(): void {
    this.#ended = true;
    try {
      this.#child?.kill("SIGKILL");
    } catch {
      // it has ended already
    }
  }

  /** Its process, for `spawnChild`, sent its target. */
  take(assign: ChildAssign): ChildProcess {
    const c = this.#child!;
    for (const event of ["exit", "disconnect", "error"]) {
      c.off(event, this.#onEnd);
    }
    c.send({ $assign: assign } as never);
    return c;
  }
}

/** The channel of `child` as an IPC endpoint. */
function endpoint(child: ChildProcess): IpcEndpoint {
  return {
    send(msg, done) {
      child.send(msg as never, undefined, undefined, done);
    },
    ref() {
      child.ref();
      (child.channel as { ref?(): void } | null | undefined)?.ref?.();
    },
    unref() {
      child.unref();
      (child.channel as { unref?(): void } | null | undefined)?.unref?.();
    },
  };
}

/**
 * Starts a child that runs `spec` and talks over `port` (attached here).
 * `onEnd` is called once when it has ended, with its exit code (-N for
 * signal N) and the error that explains the end, if the OS end says more
 * than the child did: it could not start, or it ran out of memory.
 */
export function spawnChild(
  spec: ChildSpec,
  port: IpcPort,
  onEnd: (code: number, error: unknown) => void,
  warm?: IdleChild,
): ChildHandle {
  const name = spec.identity.name;
  const args = spec.command.args;
  let child: ChildProcess | undefined;
  let startError: unknown;
  try {
    child = warm !== undefined
      ? warm.take({
        identity: spec.identity,
        module: spec.module,
        env: Deno.env.toObject(),
        cwd: Deno.cwd(),
      })
      : forkEntry(entryUrl(spec), args);
  } catch (err) {
    startError = err;
  }
  let resolveEnded!: () => void;
  const ended = new Promise<void>((r) => resolveEnded = r);
  let exit: { code: number | null; signal: string | null } | null = null;
  let disconnected = false;
  let done = false;
  let killed = false;
  let grace: ReturnType<typeof setTimeout> | undefined;
  /** It closed its channel and did not end: it was ended for it. */
  let closedAlive = false;

  const end = () => {
    if (done) return;
    done = true;
    clearTimeout(grace);
    port.close();
    const code = exit === null ? 1 : exit.code ?? signalCode(exit.signal ?? "");
    let error: unknown;
    const signal = exit?.signal ?? null;
    if (!port.up && !killed) {
      const how = exit === null
        ? messages.childExit(1)
        : signal !== null
        ? messages.childSignal(signal)
        : messages.childExit(code);
      const command = `${denoExecutable()} ${args.join(" ")} <entry>`;
      error = new ProcessError(
        messages.childStart(name, how, command),
        startError === undefined
          ? { processName: name, exitCode: code, code: START_FAILED }
          : {
            processName: name,
            exitCode: code,
            code: START_FAILED,
            cause: startError,
          },
      );
    } else if (closedAlive) {
      error = protocolError(
        name,
        messages.childClosedChannel(CLOSED_CHANNEL_GRACE_MS),
      );
    } else if (signal !== null && FATAL_SIGNALS.has(signal)) {
      error = new ProcessError(
        messages.outOfMemory(
          name,
          messages.childHeap(spec.resourceLimits?.maxOldGenerationSizeMb),
        ),
        { processName: name, exitCode: code, code: "ERR_WORKER_OUT_OF_MEMORY" },
      );
    }
    resolveEnded();
    onEnd(code, error);
  };

  if (child === undefined) {
    queueMicrotask(end);
    return { pid: undefined, ended, kill() {} };
  }
  const c = child;
  c.on("message", (msg: unknown) => port.deliver(msg));
  c.on("disconnect", () => {
    disconnected = true;
    if (exit !== null) {
      end();
      return;
    }
    // No message can come any more: a child that lives on is ended.
    grace = setTimeout(() => {
      if (exit !== null || done) return;
      closedAlive = !killed;
      c.kill("SIGKILL");
    }, CLOSED_CHANNEL_GRACE_MS);
  });
  c.on("exit", (code: number | null, signal: string | null) => {
    exit = { code, signal };
    clearTimeout(grace);
    if (disconnected || c.pid === undefined) end();
    else grace = setTimeout(end, EXIT_GRACE_MS);
  });
  c.on("error", (err: unknown) => {
    // Only a child that never started is ended by its error event (a
    // failed kill or send is reported elsewhere).
    if (c.pid === undefined) {
      startError = err;
      end();
    }
  });
  port.onerror = () => {
    // The channel failed under a message: the child cannot be talked to.
    if (!done) c.kill("SIGKILL");
  };
  port.attach(endpoint(c));
  return {
    pid: c.pid,
    ended,
    kill(signal = "SIGKILL") {
      if (done) return;
      killed = true;
      port.close();
      // Its end is reported, and a program that waits for it must not
      // end first.
      c.ref();
      try {
        c.kill(signal);
      } catch {
        // it has ended already
      }
    },
  };
}
