// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The checks of the worker options: "permissions", "resourceLimits" and the
// two together, and the read access a worker needs to load its module.
// Whether --unstable-worker-options is on is found out in unstable_flag.ts.
//
// Imports lib/_messages.ts, and types from lib/process/worker_options.ts.

import { messages } from "../_messages.ts";
import type {
  Isolation,
  Permissions,
  ResourceLimits,
} from "../process/worker_options.ts";

const LIMIT_KEYS: ReadonlySet<string> = new Set<keyof ResourceLimits>([
  "maxOldGenerationSizeMb",
  "maxYoungGenerationSizeMb",
  "stackSizeMb",
]);

/** Checks `isolation`; returns it with the default ("thread") filled in. */
export function checkIsolation(value: unknown): Isolation {
  if (value === undefined) return "thread";
  if (value === "thread" || value === "process") return value;
  throw new TypeError(messages.badIsolation(value));
}

/** Checks `permissions`; returns it with the default filled in. */
export function checkPermissions(value: unknown): Permissions {
  if (value === undefined) return "inherit";
  if (value === "inherit" || value === "none") return value;
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    return value as Deno.PermissionOptionsObject;
  }
  throw new TypeError(messages.badPermissions(value));
}

/** Checks `resourceLimits`; returns a frozen copy or undefined. */
export function checkLimits(value: unknown): ResourceLimits | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(
      messages.badOption('"resourceLimits"', "an object", value),
    );
  }
  const out: Record<string, number> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!LIMIT_KEYS.has(key)) throw new TypeError(messages.badLimitKey(key));
    if (v === undefined) continue;
    if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) {
      throw new RangeError(messages.badLimit(key, v));
    }
    out[key] = v;
  }
  return Object.freeze(out);
}

/** Throws when scoped permissions meet limits a thread cannot also enforce
 * (an OS process can: they are its own flags). */
export function checkCombination(
  permissions: Permissions,
  limits: ResourceLimits | undefined,
  isolation: Isolation = "thread",
): void {
  if (isolation === "process") return;
  if (limits !== undefined && permissions !== "inherit") {
    throw new TypeError(messages.limitsWithScope());
  }
}

/** Whether this process may read `path` (without asking for it). */
export function readable(path: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "read", path }).state ===
      "granted";
  } catch {
    return false;
  }
}

/** Throws when a worker could not load `module` for want of read access. */
export function assertReadable(module: string): void {
  if (!module.startsWith("file:")) return;
  const path = decodeURIComponent(new URL(module).pathname);
  if (!readable(path)) {
    throw new Deno.errors.NotCapable(messages.noRead(module, path));
  }
}
