// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The worker options that Process and Pool share: what a worker may do
// ("permissions") and how large it may grow ("resourceLimits"). Types only;
// lib/_engine/permissions.ts checks them.

/** What a worker may do: the parent's permissions, none, or a subset. */
export type Permissions = "inherit" | "none" | Deno.PermissionOptionsObject;

/**
 * Per-worker V8 limits, as `node:worker_threads` takes them. A worker that
 * exceeds `maxOldGenerationSizeMb` ends with an out-of-memory `ProcessError`
 * and exit code 1; the program goes on.
 */
export interface ResourceLimits {
  /** The main heap's cap, in MB. */
  maxOldGenerationSizeMb?: number;
  /** The young generation's cap, in MB. */
  maxYoungGenerationSizeMb?: number;
  /** The thread's stack size, in MB. */
  stackSizeMb?: number;
}
