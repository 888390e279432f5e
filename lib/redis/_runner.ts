// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// A worker machine's local engine (../_engine/local_engine.ts): each chunk
// of a task entry runs on it as one call. Its outcome is the values, or the
// error and the index of the item whose task failed, which the coordinator
// counts from.

import type { Call } from "../_engine/call.ts";
import type { ChildCommand } from "../_engine/flags.ts";
import type { Isolation, Permissions } from "../process/worker_options.ts";
import { Engine } from "../_engine/local_engine.ts";
import type { TaskEntry } from "./_protocol.ts";

/** A chunk's outcome: its values, or the error and the index of the item
 * whose task failed (0 when the chunk failed as a whole). */
export type Outcome =
  | { readonly v: unknown[] }
  | { readonly error: unknown; readonly at: number };

const NO_OPTIONS = Object.freeze({});
/** The module the local Workers load first: one that exports nothing and
 * cannot fail, so that a task's module that fails to load (a missing
 * environment variable on this machine, say) fails only the tasks that name
 * it; each task's module is imported when its first task comes. */
const HOST_MODULE = new URL("./_task_host.ts", import.meta.url).href;

/** How the local Workers run: threads with the machine's permissions
 * (the default), or OS processes with those `permissions` (the worker
 * command's --isolation and --permissions). */
export interface LocalWorkers {
  readonly isolation: Isolation;
  readonly permissions: Permissions;
  /** For OS processes: their command line (../_engine/flags.ts). */
  readonly command: ChildCommand | undefined;
}

/** Threads with the machine's permissions. */
export const THREAD_WORKERS: LocalWorkers = Object.freeze({
  isolation: "thread",
  permissions: "inherit",
  command: undefined,
});

/** Runs chunks on local module Workers. */
export class ChunkRunner {
  readonly #processes: number;
  readonly #workers: LocalWorkers;
  /** Made for the first chunk. */
  #engine: Engine | null = null;
  /** One object per target: the engine's key for it. */
  readonly #targets = new Map<string, object>();

  /** `processes`: the local Workers, run as `workers` says. */
  constructor(processes: number, workers: LocalWorkers = THREAD_WORKERS) {
    this.#processes = processes;
    this.#workers = workers;
  }

  /** The mean time a chunk ran, ms; undefined before one ran. */
  get meanRunTime(): number | undefined {
    return this.#engine?.meanRunTime;
  }

  /** Runs the chunk `items` of `task`, whose module is at `module`. */
  run(task: TaskEntry, module: string, items: unknown[]): Promise<Outcome> {
    // The worker machine's settings: its workers may do what it may (or
    // what --permissions gives its worker processes), have no heap caps,
    // and live as long as it serves.
    const engine = this.#engine ??= new Engine({
      processes: this.#processes,
      module: HOST_MODULE,
      permissions: this.#workers.permissions,
      resourceLimits: undefined,
      initializer: undefined,
      maxTasksPerChild: Infinity,
      idleTimeout: Infinity,
      isolation: this.#workers.isolation,
      command: this.#workers.command,
    });
    const key = `${module}\0${task.name}\0${task.src}`;
    let target = this.#targets.get(key);
    if (target === undefined) this.#targets.set(key, target = {});
    const call: Call = {
      what: "map",
      fn: { name: task.name, src: task.src },
      target,
      module,
      star: task.star,
      chunksize: Math.max(1, items.length),
      input: items,
      options: NO_OPTIONS,
    };
    return new Promise<Outcome>((resolve) => {
      try {
        engine.submit(call, {
          kind: "collect",
          single: false,
          resolve: (v) => resolve({ v: v as unknown[] }),
          reject: (error, at) => resolve({ error, at }),
        });
      } catch (error) {
        resolve({ error, at: 0 });
      }
    });
  }

  /** Ends the Workers; unfinished chunks fail with `reason`. */
  async close(reason: unknown): Promise<void> {
    this.#engine?.terminate(reason);
    await this.#engine?.joined();
  }
}
