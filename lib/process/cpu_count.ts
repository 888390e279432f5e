// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { availableParallelism } from "node:os";

/**
 * The number of CPUs the program may use, as Python's `cpu_count()`; the
 * default size of a {@linkcode Pool}. At least 1.
 *
 * @returns The number of logical CPUs.
 *
 * @example Size a pool by the CPUs
 * ```ts
 * import { cpuCount } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.ok(cpuCount() >= 1);
 * ```
 */
export function cpuCount(): number {
  let n = 0;
  try {
    n = availableParallelism();
  } catch {
    n = navigator.hardwareConcurrency ?? 1;
  }
  return Math.max(1, n | 0);
}
