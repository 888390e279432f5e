// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { children } from "../_engine/registry.ts";
import type { Process } from "./process.ts";

/**
 * The processes this process started that are still alive, as Python's
 * `active_children()`.
 *
 * @returns The live child processes, in start order.
 *
 * @example None before any start
 * ```ts
 * import { activeChildren } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(activeChildren(), []);
 * ```
 */
export function activeChildren(): Process[] {
  return [...children].filter((c) => c.isAlive()) as Process[];
}
