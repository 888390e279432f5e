// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { messages } from "../_messages.ts";

/**
 * Ends the current process with `code`, as Python's `sys.exit(code)` in a
 * child: inside a worker its `Process.exitCode` becomes `code` (a pool
 * worker that exits mid-task fails those tasks with a `ProcessError`); in
 * the main program it ends the program. A bare `Deno.exit(code)` in a worker
 * does the same.
 *
 * @param code The exit code, an integer; default 0.
 * @returns Never: it does not return.
 * @throws {TypeError} when `code` is not an integer.
 *
 * @example End a worker with a code
 * ```ts no-eval
 * import { exit, Process } from "@parallel/multiprocessing";
 *
 * export function quit() {
 *   exit(3);
 * }
 *
 * if (import.meta.main) {
 *   const p = new Process({ target: quit });
 *   p.start();
 *   await p.join();
 *   console.log(p.exitCode); // 3
 * }
 * ```
 */
export function exit(code = 0): never {
  if (!Number.isInteger(code)) {
    throw new TypeError(messages.badOption("exit code", "an integer", code));
  }
  return Deno.exit(code);
}
