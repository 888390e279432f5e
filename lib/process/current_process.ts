// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { context } from "../_shared/context.ts";

/** What {@linkcode currentProcess} and {@linkcode parentProcess} report. */
export interface ProcessInfo {
  /** The process name, `"MainProcess"` in the main program. */
  readonly name: string;
  /** A positive id, unique among this program's processes. */
  readonly pid: number;
  /** Whether the process is a daemon. */
  readonly daemon: boolean;
}

/**
 * The process this code runs in, as Python's `current_process()`:
 * `"MainProcess"` in the main program, and inside a worker its own name,
 * pid and daemon flag.
 *
 * @returns The name, pid and daemon flag of the current process.
 *
 * @example In the main program
 * ```ts
 * import { currentProcess } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.equal(currentProcess().name, "MainProcess");
 * ```
 */
export function currentProcess(): ProcessInfo {
  return { ...context().current };
}

/**
 * The process that started this one, as Python's `parent_process()`: `null`
 * in the main program.
 *
 * @returns The parent's name, pid and daemon flag, or `null`.
 *
 * @example In the main program
 * ```ts
 * import { parentProcess } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parentProcess(), null);
 * ```
 */
export function parentProcess(): ProcessInfo | null {
  const parent = context().parent;
  return parent === null ? null : { ...parent };
}
