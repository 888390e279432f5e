// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The entry of a worker that is an OS process (isolation: "process"). Its
// data: URL main module (made by lib/_engine/child.ts) calls `startChild()`,
// then imports the target module and calls `loaded()`; from there the child
// runs the same bootstrap as a thread: one target, or a pool's chunks.
//
// The port to the parent is the IPC channel (../_shared/ipc.ts). The child
// ends when:
// - it reports its own end (the target settled, exit(), an uncaught error):
//   once that message is written;
// - the channel closes (the parent ended it, or the parent is gone);
// - the parent is gone while the child is busy in a synchronous loop, which
//   never looks at the channel: a watchdog thread sees its parent pid change
//   (the orphan is adopted) and ends the process.
//
// Imports bootstrap.ts, lib/_shared/ and lib/_messages.ts only.

import process from "node:process";
import { IPC_UP, IpcPort } from "../_shared/ipc.ts";
import { linkOver, setManagerLink } from "../_shared/manager_link.ts";
import { type ResolveFlags, setOwnFlags } from "../_shared/process_flags.ts";
import type { ChildAssign, WorkerIdentity } from "../_shared/wire.ts";
import { messages } from "../_messages.ts";
import {
  attach,
  identify,
  loaded as moduleLoaded,
  preloadLibrary,
  reportEnd,
} from "./bootstrap.ts";

/** How often the watchdog looks for its parent, ms: a busy orphan ends
 * within about this long after its parent. */
export const PARENT_POLL_MS = 500;

/** How long the child waits for its last message to be written before it
 * exits anyway, ms. */
const EXIT_FLUSH_MS = 1_000;

/**
 * What `Deno.exit()` (and the library's `exit()`) throws in a child: Deno
 * drops the IPC writes still pending when a process exits (measured: of 200
 * messages sent just before `Deno.exit()`, 0 to 127 arrived), which would
 * lose the results of the chunks finished before the exit, and fail one of
 * them in its place. So `exit(n)` reports the end (those results first),
 * unwinds the code that called it, and the process exits with `n` once the
 * report is written. Like Python's `SystemExit`, it can be caught; the
 * process still ends.
 */
export class ChildExit extends Error {
  /** The exit code. */
  readonly code: number;
  constructor(code: number) {
    super(`exit(${code})`);
    this.name = "ChildExit";
    this.code = code;
  }
}

/** Appended to an import error the child cannot resolve (see flags.ts). */
let importHint = "";

/** Ends this process now, without the bootstrap's exit report. */
let realExit: (code?: number) => never = Deno.exit;

/**
 * Starts a watchdog thread that ends this process when its parent is gone:
 * the main thread may be busy in a synchronous loop and never see the
 * channel close. It polls the parent pid, which changes when the orphan is
 * adopted, and sends this process SIGKILL (Deno lets a process signal
 * itself without permissions, even under --deny-run). It is a web Worker
 * that uses Deno's API only: a node:worker_threads thread costs ~3 times
 * more to start (~130 ms on 2 cores, on the child's start-up path). It
 * keeps the process alive, which is no matter: every end of a child is an
 * explicit exit (see the top of this file).
 */
let watching = false;
function startWatchdog(parent: number): void {
  if (watching) return;
  watching = true;
  const src = `setInterval(() => {\n` +
    `  if (Deno.ppid !== ${parent}) Deno.kill(Deno.pid, "SIGKILL");\n` +
    `}, ${PARENT_POLL_MS});\n`;
  // A blob: URL starts faster than a data: one (measured ~20 ms against
  // ~50 ms on 2 cores).
  const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
  new Worker(url, { type: "module", name: "multiprocessing-watchdog" });
}

/**
 * Starts the child: its identity (its pid is its OS pid), the port to its
 * parent, the watchdog. Called by the entry module before the target module
 * loads.
 *
 * @param identity Name, daemon flag and parent, as the parent made them.
 * @param module The target module.
 * @param flags How this child was told to resolve modules, passed on to
 * the processes it starts.
 */
export function startChild(
  identity: WorkerIdentity,
  module: string,
  flags: ResolveFlags,
): void {
  realExit = Deno.exit;
  setOwnFlags(flags);
  if (flags.source !== "cmdline") {
    importHint = messages.childImportHint(flags.config);
  }
  identify({ ...identity, pid: Deno.pid }, module, false);
  Object.defineProperty(Deno, "exit", {
    value: (code?: number): never => {
      const c = typeof code === "number" ? code : 0;
      reportEnd(c);
      throw new ChildExit(c);
    },
    writable: true,
    configurable: true,
  });
  const port = new IpcPort(false);
  let exiting = false;
  const exitAfter = (code: number) => {
    if (exiting) return;
    exiting = true;
    setTimeout(() => realExit(code), EXIT_FLUSH_MS);
  };
  port.attach({
    send(msg, done) {
      const exit = (msg as { t?: unknown }).t === "exit";
      const code = exit ? (msg as { code: number }).code : 0;
      if (exit) exitAfter(code);
      process.send!(msg as never, undefined, undefined, (err: unknown) => {
        done(err);
        if (exit) realExit(code);
      });
    },
    // The child waits for its parent's messages: its channel stays
    // referenced.
    ref() {},
    unref() {},
  });
  // The channel failed: the parent is gone.
  port.onerror = () => realExit(0);
  process.on("message", (msg: unknown) => port.deliver(msg));
  process.on("disconnect", () => realExit(0));
  // An exit report whose error holds what cannot go to another process
  // (a MessagePort in a field) goes without the error: the end must arrive.
  const post = port.postMessage.bind(port);
  port.postMessage = (msg, transfer) => {
    try {
      post(msg, transfer);
    } catch (err) {
      const exit = msg as { t?: unknown; code?: unknown };
      if (exit?.t !== "exit" || typeof exit.code !== "number") throw err;
      post({ t: "exit", code: exit.code });
    }
  };
  attach(port as unknown as MessagePort);
  port.control(IPC_UP);
  // A Manager's proxies here reach their manager through the parent.
  setManagerLink(linkOver((msg) => port.postMessage(msg)));
  startWatchdog(Deno.ppid);
}

/**
 * The entry of a warm child (started ahead of time, with read and env
 * access): it waits for its target on the channel, takes the parent's
 * environment and folder as they are then, starts as `startChild()` does,
 * and imports the target module. It loads the library while it waits.
 * Until then it ends when its parent does.
 *
 * @param flags As for {@linkcode startChild}.
 */
export function awaitAssign(flags: ResolveFlags): void {
  const orphaned = () => Deno.exit(0);
  const onAssign = (msg: unknown) => {
    const assign = (msg as { $assign?: ChildAssign } | null)?.$assign;
    if (assign === undefined) return;
    process.off("message", onAssign);
    process.off("disconnect", orphaned);
    startChild(assign.identity, assign.module, flags);
    try {
      for (const key of Object.keys(Deno.env.toObject())) {
        if (!(key in assign.env)) Deno.env.delete(key);
      }
      for (const [key, value] of Object.entries(assign.env)) {
        Deno.env.set(key, value);
      }
      Deno.chdir(assign.cwd);
    } catch (err) {
      loaded(null, err);
      return;
    }
    import(assign.module).then(
      (ns) => loaded(ns),
      (err) => loaded(null, err),
    );
  };
  process.on("message", onAssign);
  process.on("disconnect", orphaned);
  startWatchdog(Deno.ppid);
  preloadLibrary();
}

/** The target module finished loading (or failed to, with `error`). */
export function loaded(
  ns: Record<string, unknown> | null,
  error?: unknown,
): void {
  // A module that does not resolve may need the parent's command-line
  // flags, which this child could not be given.
  if (ns === null && importHint !== "" && error instanceof TypeError) {
    try {
      error.message += importHint;
    } catch {
      // a frozen error keeps its message
    }
  }
  moduleLoaded(ns, error);
}
