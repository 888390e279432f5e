// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Thread workers (permissions "inherit", isolation "thread"): a
// node:worker_threads Worker. It enforces resourceLimits (an out-of-memory
// worker ends alone) and reports its exit. The main side unreferences it; the
// MessagePort decides liveness.
//
// A thread starts idle, with no target: `IdleThread.assign()` then gives it
// its identity, module and port (../_worker/thread_entry.ts). The same two
// steps serve a thread started on demand (assigned at once) and a warm one
// started ahead of time by standby.ts (assigned when asked for).
//
// Imports lib/errors.ts, lib/_messages.ts, lib/_shared/wire.ts (types) and
// thread_watchdog.ts.

import { getHeapStatistics } from "node:v8";
import {
  SHARE_ENV,
  type TransferListItem as ThreadTransferable,
  Worker as ThreadWorker,
} from "node:worker_threads";
import { ProcessError } from "../errors.ts";
import { messages } from "../_messages.ts";
import type { AssignMessage, WorkerIdentity } from "../_shared/wire.ts";
import type { ResourceLimits } from "../process/worker_options.ts";
import { watchThread } from "./thread_watchdog.ts";

const THREAD_ENTRY = new URL("../_worker/thread_entry.ts", import.meta.url);

/** After a thread's exit event, how long its last port messages (its
 * results, its own exit report) may take to arrive, ms: the exit can
 * overtake them. */
const EXIT_GRACE_MS = 100;

/** Called once when a worker ends without reporting its own exit, with the
 * error that ended it (decoded), if any. */
export type OnDeath = (code: number, error: unknown) => void;

// By default a thread may grow as large as the main heap: with an explicit
// limit, Deno ends an out-of-memory worker alone instead of the program.
let defaultLimit: number | undefined;
function heapLimitMb(): number {
  defaultLimit ??= Math.floor(getHeapStatistics().heap_size_limit / 2 ** 20);
  return defaultLimit;
}

/**
 * Whether a thread may copy `process.env`. By default a node:worker_threads
 * Worker copies it, which reads every variable: without env access, Deno
 * prompts for it (`deno run -R` in a terminal stops at "Deno requests env
 * access" before the first worker starts). So a thread copies the environment
 * only when the program may read all of it; otherwise it shares the main
 * thread's view (SHARE_ENV), which reads nothing up front and checks each
 * variable when the worker's own code reads it, as the main thread would.
 * `querySync` never prompts.
 */
export function threadEnvCopied(): boolean {
  return Deno.permissions.querySync({ name: "env" }).state === "granted";
}

/** The worker options that `threadEnvCopied()` chose. */
function envOption(
  copied: boolean,
): { env: typeof SHARE_ENV } | Record<never, never> {
  return copied ? {} : { env: SHARE_ENV };
}

/** A started thread worker that has no target yet. */
export class IdleThread {
  readonly #worker: ThreadWorker;
  readonly #limits: ResourceLimits & { maxOldGenerationSizeMb: number };
  readonly #asked: ResourceLimits | undefined;
  #name = "(idle worker)";
  #onDeath: OnDeath | null = null;
  #onEnd: (() => void) | null = null;
  #lastError: unknown;
  #stopWatch: () => void = () => {};
  /** Ended by this side (kill or out of memory): no end to report. */
  #killed = false;
  #ended = false;

  /**
   * Starts a thread with `resourceLimits` (the heap limit defaults to the
   * main thread's). `warm`: it loads the library while it waits.
   */
  constructor(
    resourceLimits: ResourceLimits | undefined,
    envCopied: boolean,
    warm: boolean,
  ) {
    this.#asked = resourceLimits;
    this.#limits = {
      maxOldGenerationSizeMb: heapLimitMb(),
      ...resourceLimits,
    };
    this.#worker = new ThreadWorker(
      THREAD_ENTRY,
      {
        name: "multiprocessing-worker",
        workerData: { warm, envCopied },
        resourceLimits: this.#limits,
        ...envOption(envCopied),
      } as ConstructorParameters<typeof ThreadWorker>[1],
    );
    this.#worker.unref();
    this.#worker.on("error", (err: unknown) => {
      this.#lastError = err;
    });
    this.#worker.on("exit", (code: number) => {
      this.#ended = true;
      this.#stopWatch();
      this.#onEnd?.();
      if (this.#killed || this.#onDeath === null) return;
      setTimeout(() => this.#died(code), EXIT_GRACE_MS);
    });
  }

  /** True once the thread has ended (an idle one is of no more use). */
  get ended(): boolean {
    return this.#ended || this.#killed;
  }

  /** Ends an idle thread. */
  end(): void {
    this.#killed = true;
    this.#worker.terminate();
  }

  /**
   * Gives the thread its target: it takes `identity`, imports `module` and
   * talks over `port`. `onDeath` learns of an end it did not report;
   * `onEnd`, if given, of its end, whatever the cause.
   */
  assign(
    identity: WorkerIdentity,
    module: string,
    port: MessagePort,
    onDeath: OnDeath,
    onEnd?: () => void,
  ): { kill(): void } {
    this.#name = identity.name;
    this.#onDeath = onDeath;
    this.#onEnd = onEnd ?? null;
    const msg: AssignMessage = { t: "assign", identity, module, port };
    this.#worker.postMessage(msg, [port as unknown as ThreadTransferable]);
    this.#stopWatch = watchThread(this.#worker, () => {
      // Stuck at its heap limit: Deno will never end it (see watchThread).
      if (this.#killed) return;
      this.#killed = true;
      this.#worker.terminate();
      onDeath(1, this.#outOfMemory());
    });
    if (this.#ended) setTimeout(() => this.#died(1), 0);
    return {
      kill: () => {
        this.#stopWatch();
        if (this.#killed) return;
        this.#killed = true;
        this.#worker.terminate();
      },
    };
  }

  #outOfMemory(): ProcessError {
    const limit = this.#asked?.maxOldGenerationSizeMb;
    const what = limit === undefined
      ? `the heap limit (${this.#limits.maxOldGenerationSizeMb} MB)`
      : `resourceLimits.maxOldGenerationSizeMb (${limit} MB)`;
    return new ProcessError(messages.outOfMemory(this.#name, what), {
      processName: this.#name,
      exitCode: 1,
      code: "ERR_WORKER_OUT_OF_MEMORY",
      cause: this.#lastError,
    });
  }

  #died(code: number): void {
    if (this.#killed || this.#onDeath === null) return;
    this.#killed = true;
    const err = this.#lastError as { code?: string } | undefined;
    if (err?.code === "ERR_WORKER_OUT_OF_MEMORY") {
      this.#onDeath(1, this.#outOfMemory());
    } else this.#onDeath(code, this.#lastError);
  }
}
