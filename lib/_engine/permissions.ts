// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Validation of "permissions" and "resourceLimits", detection of the
// --unstable-worker-options flag, and the read check for module loading.

import { messages } from "../_messages.ts";

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

const LIMIT_KEYS = new Set([
  "maxOldGenerationSizeMb",
  "maxYoungGenerationSizeMb",
  "stackSizeMb",
]);

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

/** Throws when scoped permissions meet limits it cannot also enforce. */
export function checkCombination(
  permissions: Permissions,
  limits: ResourceLimits | undefined,
): void {
  if (limits !== undefined && permissions !== "inherit") {
    throw new TypeError(messages.limitsWithScope());
  }
}

let flagState: "on" | "off" | "unknown" | undefined;

function readable(path: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "read", path }).state ===
      "granted";
  } catch {
    return false;
  }
}

function configUnstable(path: string): boolean | undefined {
  if (!readable(path)) return undefined;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
  // deno.jsonc may hold comments; a plain search for the entry is enough.
  return /"unstable"\s*:\s*\[[^\]]*"worker-options"/.test(text);
}

function findConfig(startDir: string): string | undefined {
  let dir = startDir;
  for (let i = 0; i < 64; i++) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      const path = `${dir}/${name}`;
      if (!readable(path)) continue;
      try {
        if (Deno.statSync(path).isFile) return path;
      } catch {
        // not there
      }
    }
    const parent = dir.replace(/\/[^/]*$/, "");
    if (parent === dir || parent === "") break;
    dir = parent;
  }
  return undefined;
}

function detectFlag(): "on" | "off" | "unknown" {
  let args: string[] | undefined;
  if (Deno.build.os === "linux" && readable("/proc/self/cmdline")) {
    try {
      args = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
    } catch {
      args = undefined;
    }
  }
  if (args !== undefined) {
    const scriptAt = args.findIndex((a, i) =>
      i > 1 && !a.startsWith("-") && args![i - 1] !== "--config" &&
      args![i - 1] !== "-c"
    );
    const flags = scriptAt === -1 ? args : args.slice(0, scriptAt);
    if (flags.includes("--unstable-worker-options")) return "on";
    if (flags.includes("--no-config")) return "off";
    const at = flags.findIndex((a) => a === "--config" || a === "-c");
    const inline = flags.find((a) => a.startsWith("--config="));
    const explicit = at !== -1 ? flags[at + 1] : inline?.slice(9);
    if (explicit !== undefined) {
      const found = configUnstable(explicit);
      return found === undefined ? "unknown" : found ? "on" : "off";
    }
  }
  // Deno finds deno.json from the main module's folder, or the cwd.
  const starts: string[] = [];
  // Deno.mainModule is undefined inside a web Worker.
  const main = (Deno as { mainModule?: string }).mainModule;
  if (typeof main === "string" && main.startsWith("file:")) {
    starts.push(decodeURIComponent(new URL(".", main).pathname));
  }
  try {
    starts.push(Deno.cwd());
  } catch {
    // no read access to the cwd
  }
  let unknown = args === undefined;
  for (const start of starts) {
    const config = findConfig(start.replace(/\/$/, ""));
    if (config === undefined) continue;
    const found = configUnstable(config);
    // Without the command line, `--no-config` cannot be ruled out: confirm
    // the config is in effect where its import map shows it.
    if (found && (args !== undefined || inEffect(config))) return "on";
    if (found === undefined || found) unknown = true;
  }
  return unknown ? "unknown" : "off";
}

/** Whether the config's import map is the one in effect, where that can be
 * seen: a bare key of it must resolve from this (local) module. */
function inEffect(config: string): boolean {
  if (!import.meta.url.startsWith("file:")) return true;
  let keys: string[] = [];
  try {
    const text = Deno.readTextFileSync(config);
    const json = JSON.parse(
      text.replace(/^\s*\/\/.*$/gm, "").replace(/,(\s*[}\]])/g, "$1"),
    );
    keys = Object.keys(json?.imports ?? {}).filter((k) =>
      !k.endsWith("/") && !/^[a-z]+:/.test(k) && !k.startsWith(".")
    );
  } catch {
    return true;
  }
  if (keys.length === 0) return true;
  try {
    import.meta.resolve(keys[0]!);
    return true;
  } catch {
    return false;
  }
}

/** Throws the SPEC's clear error unless --unstable-worker-options is on. */
export function assertWorkerOptions(): void {
  const known = (globalThis as Record<symbol, unknown>)[
    Symbol.for("@parallel/multiprocessing/worker-options")
  ];
  if (known === true) return;
  flagState ??= detectFlag();
  if (flagState === "on") return;
  throw new Error(
    flagState === "off" ? messages.noFlag() : messages.flagUnknown(),
  );
}

/** Throws when a worker could not load `module` for want of read access. */
export function assertReadable(module: string): void {
  if (!module.startsWith("file:")) return;
  const path = decodeURIComponent(new URL(module).pathname);
  if (!readable(path)) {
    throw new Deno.errors.NotCapable(messages.noRead(module, path));
  }
}
