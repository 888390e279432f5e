// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The worker options that Process and Pool share: what a worker may do
// ("permissions") and how large it may grow ("resourceLimits"). Types only;
// lib/_engine/permissions.ts checks them.

/** Where a worker runs: a thread of this process (`"thread"`, the default)
 * or an OS process of its own (`"process"`, as Python runs one). */
export type Isolation = "thread" | "process";

/** What a worker may do: the parent's permissions, none, or a subset. */
export type Permissions = "inherit" | "none" | Deno.PermissionOptionsObject;

/**
 * Per-worker V8 limits, as `node:worker_threads` takes them. A worker that
 * exceeds `maxOldGenerationSizeMb` ends with an out-of-memory `ProcessError`
 * (`code: "ERR_WORKER_OUT_OF_MEMORY"`): exit code 1 for a thread, the
 * signal the OS ended it with (such as -5, SIGTRAP) for an OS process; the
 * program goes on. With isolation "process" they become the child's V8
 * flags (`--max-old-space-size` and the like).
 */
export interface ResourceLimits {
  /** The main heap's cap, in MB. */
  maxOldGenerationSizeMb?: number;
  /** The young generation's cap, in MB. */
  maxYoungGenerationSizeMb?: number;
  /** The thread's stack size, in MB (an OS process: V8's stack limit,
   * at most 7 MB, under the OS's 8 MB main-thread stack). */
  stackSizeMb?: number;
}
