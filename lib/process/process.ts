// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { processEnded } from "../_shared/liveness.ts";
import { children, nextName } from "../_engine/registry.ts";
import type { IpcPort } from "../_shared/ipc.ts";
import { UNREADABLE_MESSAGE } from "../_engine/validate.ts";
import type {
  Isolation,
  Permissions,
  ResourceLimits,
} from "./worker_options.ts";
import { spawnWorker, type WorkerHandle } from "../_engine/spawn.ts";
import { messages } from "../_messages.ts";
import { checkTimeout, MAX_TIMER } from "../_check.ts";
import type { ExitMessage, FnRef } from "../_shared/wire.ts";
import { checkProcessOptions, openWorker, readExit } from "./_process_start.ts";

/** The options of a {@linkcode Process}. */
export interface ProcessOptions<A extends unknown[] = unknown[]> {
  /** The function to run: exported by `module` (default: the calling
   * module). It may be async; the process ends when it settles. */
  target: (...args: A) => unknown;
  /** Its arguments, structured-cloned to the worker. */
  args?: A;
  /** The name, by default `"Process-<n>"` with `n` counting from 1. */
  name?: string;
  /** A daemon never keeps the program alive and ends with it. */
  daemon?: boolean;
  /** What the worker may do: `"inherit"` (default), `"none"`, or a
   * `Deno.PermissionOptionsObject` subset of the parent's permissions. */
  permissions?: Permissions;
  /** Per-worker V8 heap and stack caps; with isolation "thread", only with
   * `"inherit"` permissions. */
  resourceLimits?: ResourceLimits;
  /** The module that exports `target`, such as `import.meta.url`. */
  module?: string | URL;
  /** Where the target runs: `"thread"` (default), a thread of this
   * program; `"process"`, an OS process of its own, as in Python (its
   * `pid` is the OS pid; memory limits, crashes and permissions are its
   * own; it starts slower). */
  isolation?: Isolation;
}

type State = "new" | "running" | "ended" | "closed";

/**
 * A target function running in its own worker, as Python's
 * `multiprocessing.Process`. The worker imports the module that exports the
 * target (so its top level runs there: guard process-starting code with
 * `if (import.meta.main)`), calls the target with `args`, and ends when the
 * target settles.
 *
 * Exit codes: `0` normal end, `1` uncaught error (printed to stderr as
 * `Process <name>:` and the remote stack, kept on `error`), `n` after
 * `exit(n)` or `Deno.exit(n)`, `-15` after `terminate()`, `-9` after
 * `kill()`.
 *
 * @typeParam A The target's parameter types.
 *
 * @example Run a function in a worker
 * ```ts no-eval
 * import { Process } from "@parallel/multiprocessing";
 *
 * export function greet(name: string) {
 *   console.log(`hello, ${name}`);
 * }
 *
 * if (import.meta.main) {
 *   const p = new Process({ target: greet, args: ["bob"] });
 *   p.start();
 *   await p.join();
 *   console.log(p.exitCode); // 0
 * }
 * ```
 */
export class Process<A extends unknown[] = unknown[]> {
  #ref: FnRef;
  #args: A;
  #name: string;
  #daemon: boolean;
  #permissions: Permissions;
  #limits: ResourceLimits | undefined;
  #isolation: Isolation;
  #module: string;
  #state: State = "new";
  #exitCode: number | null = null;
  #error: unknown = undefined;
  #pid: number | undefined;
  #port: MessagePort | IpcPort | null = null;
  #handle: WorkerHandle | null = null;
  /** An OS process: the error its exit report carried (its end comes from
   * the OS), and whether terminate() or kill() ended it. */
  #reported: unknown = undefined;
  #stopped = false;
  #joiners = 0;
  #ended: Promise<void>;
  #resolveEnded!: () => void;

  /**
   * Makes a process; nothing runs until {@linkcode Process.start}.
   *
   * @param options The target, its arguments, and how to run it.
   * @throws {TypeError} when `target` is not a function, or an option has the
   * wrong type, or `resourceLimits` meets scoped `permissions`.
   * @throws {RangeError} when a resource limit is not a positive number.
   */
  constructor(options: ProcessOptions<A>) {
    const o = checkProcessOptions(options);
    this.#ref = o.ref;
    this.#module = o.module;
    this.#args = o.args;
    this.#permissions = o.permissions;
    this.#limits = o.limits;
    this.#isolation = o.isolation;
    this.#name = options.name ?? nextName("Process");
    this.#daemon = options.daemon ?? false;
    this.#ended = new Promise((resolve) => this.#resolveEnded = resolve);
  }

  /**
   * The process name: `options.name`, else one made as Python makes it
   * (`Process-1`, `Process-2`…; `Process-1:1` for a process started inside
   * `Process-1`). It names the worker in errors and is what
   * `currentProcess().name` returns inside it. Settable at any time, as in
   * Python; a change after `start()` is not seen inside the worker.
   */
  get name(): string {
    return this.#name;
  }
  /**
   * Renames the process.
   *
   * @throws {TypeError} when `value` is not a string.
   */
  set name(value: string) {
    if (typeof value !== "string") {
      throw new TypeError(messages.badOption('"name"', "a string", value));
    }
    this.#name = value;
  }

  /**
   * Whether this is a daemon: `options.daemon`, default `false`. A daemon
   * never keeps the program alive by itself, and is ended when the program
   * exits; a non-daemon process keeps it alive until the process ends.
   * Settable only before `start()`, as in Python.
   */
  get daemon(): boolean {
    return this.#daemon;
  }
  /**
   * Makes the process a daemon (`true`) or not, before `start()`.
   *
   * @throws {Error} when the process has started.
   * @throws {TypeError} when `value` is not a boolean.
   */
  set daemon(value: boolean) {
    if (this.#state !== "new") {
      throw new Error(messages.daemonAfterStart(this.#name));
    }
    if (typeof value !== "boolean") {
      throw new TypeError(messages.badOption('"daemon"', "a boolean", value));
    }
    this.#daemon = value;
  }

  /** `null` before start and while running; then the exit code. */
  get exitCode(): number | null {
    return this.#exitCode;
  }

  /**
   * Set at start: with isolation "process", the child's OS pid (also
   * `Deno.pid` inside it); with "thread", a positive id above every OS pid,
   * unique among this process's threads.
   */
  get pid(): number | undefined {
    return this.#pid;
  }

  /** The target's uncaught error (or the out-of-memory `ProcessError`). */
  get error(): unknown {
    return this.#error;
  }

  /**
   * Starts the worker and runs the target in it.
   *
   * @throws {Error} when already started or closed, or when called while a
   * worker imports its target module (an unguarded top level), or when
   * scoped `permissions` lack `--unstable-worker-options`.
   * @throws {TypeError} when the target is not exported from its module.
   * @throws {Deno.errors.NotCapable} when the module cannot be read; with
   * scoped `permissions`, also when Deno could prompt in this terminal for
   * what the worker lacks, or the module imports a file outside the places
   * the worker may read (see docs/security.md).
   * @throws {DOMException} named `DataCloneError` when an argument cannot be
   * sent to a worker.
   */
  start(): void {
    if (this.#state === "closed") {
      throw new Error(messages.closed(this.#name, "start"));
    }
    if (this.#state !== "new") {
      throw new Error(messages.startedTwice(this.#name));
    }
    const { ctx, child, command, port, workerPort, threadPid } = openWorker({
      ref: this.#ref,
      module: this.#module,
      args: this.#args,
      permissions: this.#permissions,
      limits: this.#limits,
      isolation: this.#isolation,
    });
    if (!child) this.#pid = threadPid;
    const onMessage = (e: { data: ExitMessage }) => {
      // The worker may run hostile code: a malformed message ends it.
      const { code, error, malformed } = readExit(
        e.data,
        this.#name,
        this.#module,
      );
      // A child's end comes from the OS, with the OS's exit code.
      if (child) {
        this.#reported = error;
        if (malformed) this.#handle?.kill();
      } else this.#finish(code, error);
    };
    port.onmessage = onMessage;
    if (!child) {
      // A message that cannot be deserialized is a malformed one.
      (port as MessagePort).onmessageerror = () =>
        onMessage({ data: UNREADABLE_MESSAGE as ExitMessage });
    }
    this.#port = port;
    this.#state = "running";
    this.#updateRef();
    children.add(this);
    this.#handle = spawnWorker(
      {
        identity: {
          name: this.#name,
          pid: this.#pid ?? 0,
          daemon: this.#daemon,
          parent: { ...ctx.current },
        },
        module: this.#module,
        permissions: this.#permissions,
        resourceLimits: this.#limits,
        detached: this.#daemon,
        isolation: this.#isolation,
        ...(command === undefined ? {} : { command }),
      },
      workerPort,
      (code, error) =>
        this.#finish(code, error ?? this.#reported, !this.#stopped),
    );
    if (child) this.#pid = this.#handle.pid;
  }

  /**
   * Waits for the process to end, or for `timeout` ms, whichever is first.
   * Like Python's, it resolves in both cases: check
   * {@linkcode Process.exitCode} or {@linkcode Process.isAlive} after it.
   *
   * @param timeout The most milliseconds to wait; by default no limit.
   * @returns A promise that resolves when the process ended or time ran out.
   * @throws {Error} (as a rejection) when the process was not started.
   * @throws {RangeError} (as a rejection) when `timeout` is negative.
   */
  join(timeout?: number): Promise<void> {
    try {
      if (this.#state === "closed") {
        throw new Error(messages.closed(this.#name, "join"));
      }
      if (this.#state === "new") {
        throw new Error(messages.notStarted(this.#name, "join"));
      }
      const ms = checkTimeout(timeout, "join() timeout", true);
      if (this.#state === "ended") return Promise.resolve();
      this.#joiners++;
      this.#updateRef();
      const done = () => {
        this.#joiners--;
        this.#updateRef();
      };
      // Beyond setTimeout's 32-bit range (Infinity too): no time limit.
      if (ms === undefined || ms > MAX_TIMER) {
        return this.#ended.finally(done);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      return Promise.race([
        this.#ended,
        new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
      ]).finally(() => {
        clearTimeout(timer);
        done();
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Whether the process was started and has not ended. */
  isAlive(): boolean {
    if (this.#state === "closed") {
      throw new Error(messages.closed(this.#name, "query"));
    }
    return this.#state === "running";
  }

  /** Ends the worker now; `exitCode` becomes `-15` (an OS process: sends it
   * SIGTERM, and `exitCode` is what the OS reports, -15 unless the target
   * handles the signal). */
  terminate(): void {
    this.#stop(-15, "terminate");
  }

  /** Ends the worker now; `exitCode` becomes `-9` (an OS process: by
   * SIGKILL). */
  kill(): void {
    this.#stop(-9, "kill");
  }

  /**
   * Releases the process object. Python's `Process.close()`.
   *
   * @throws {Error} while the process is still running.
   */
  close(): void {
    if (this.#state === "running") {
      throw new Error(messages.closeRunning(this.#name));
    }
    this.#state = "closed";
  }

  #stop(code: number, what: string): void {
    if (this.#state === "closed") {
      throw new Error(messages.closed(this.#name, what));
    }
    if (this.#state === "new") {
      throw new Error(messages.notStarted(this.#name, what));
    }
    if (this.#state !== "running") return;
    if (this.#isolation === "process") {
      // Python's way: the signal, then the exit code the OS reports.
      this.#stopped = true;
      this.#handle?.kill(code === -15 ? "SIGTERM" : "SIGKILL");
    } else this.#finish(code, undefined, false);
  }

  // A non-daemon keeps the program alive while it runs; a daemon only while
  // someone awaits its join().
  #updateRef(): void {
    const port = this.#port as
      | (MessagePort & { ref(): void; unref(): void })
      | IpcPort
      | null;
    if (port === null) return;
    if (!this.#daemon || this.#joiners > 0) port.ref();
    else port.unref();
  }

  #finish(code: number, error: unknown, report = true): void {
    if (this.#state !== "running") return;
    this.#state = "ended";
    this.#exitCode = code;
    this.#error = error;
    this.#handle?.kill();
    this.#handle = null;
    processEnded(this.#port);
    this.#port?.close();
    this.#port = null;
    children.delete(this);
    if (report && error !== undefined) {
      console.error(`Process ${this.#name}:\n${Deno.inspect(error)}`);
    }
    this.#resolveEnded();
  }
}
