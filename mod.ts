// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

/**
 * Python's `multiprocessing` for Deno: run functions in parallel on module
 * Workers with `Process` and `Pool`, with per-worker permission scoping,
 * heap limits, structured-clone messages and clear errors. Zero runtime
 * dependencies.
 *
 * A target is a function **exported** by an ES module; the worker imports
 * that module and calls it. Guard process-starting code with
 * `if (import.meta.main)`, as Python guards it with `__name__ == "__main__"`.
 *
 * @example Two processes, started then joined
 * ```ts no-eval
 * import { Process } from "@parallel/multiprocessing";
 *
 * export function count(label: string, n: number) {
 *   for (let i = 0; i < n; i++) console.log(`${label}:\t${i}`);
 * }
 *
 * if (import.meta.main) {
 *   const up = new Process({ target: count, args: ["Up", 4] });
 *   const down = new Process({ target: count, args: ["Down", 4] });
 *   up.start();
 *   down.start();
 *   await up.join();
 *   await down.join();
 * }
 * ```
 *
 * @module
 */

export * from "./lib/active_children.ts";
export * from "./lib/cpu_count.ts";
export * from "./lib/current_process.ts";
export * from "./lib/errors.ts";
export * from "./lib/exit.ts";
export * from "./lib/process.ts";
export * from "./lib/async_result.ts";
export * from "./lib/pool.ts";
export * from "./lib/progress_bar.ts";
export * from "./lib/transfer.ts";
export * from "./lib/queue.ts";
export * from "./lib/joinable_queue.ts";
export * from "./lib/simple_queue.ts";
export * from "./lib/pipe.ts";
export * from "./lib/lock.ts";
export * from "./lib/rlock.ts";
export * from "./lib/semaphore.ts";
export * from "./lib/event.ts";
export * from "./lib/condition.ts";
export * from "./lib/barrier.ts";
export * from "./lib/shared_memory.ts";
