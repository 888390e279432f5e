// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The command line of a child process (isolation: "process"): the flags that
// make it resolve modules as its parent does, its permissions as flags, and
// its V8 limits; and the check that this program may start one at all.
//
// Module resolution: a child must see the parent's --config, --no-config,
// --import-map, lockfile flags and the like. Deno lets a program read its own
// command line (/proc/self/cmdline) only with -A (under -R that read is
// refused), so there they are copied. Elsewhere the child is given the
// deno.json that Deno would have found for the parent (next to the main
// module, else in the working folder), and the flags of the command line are
// unknown: a failing import says so (see ../_worker/process_entry.ts).
//
// Permissions: a Deno child started through node:child_process gets EVERY
// permission unless its command holds a permission flag (--no-prompt is not
// one), so the command holds `--no-prompt`, exactly the flags that grant
// what was asked (checked against this program's own permissions first:
// never more), and a --deny flag for each permission not granted at all
// ("none" is seven --deny flags). Import is left at Deno's default (remote
// static imports from its list of hosts, such as jsr.io, which the library
// itself may come from), or denied when this program's is; a program's own
// --allow-import list cannot be read back (querySync shows "prompt" for the
// default hosts either way), so a child does not see it.
//
// How a child resolves modules (the parent's own flags and config) is
// read in parent_flags.ts.
//
// Imports lib/_shared/ (types), lib/_messages.ts, parent_flags.ts and types.

import process from "node:process";
import { messages } from "../_messages.ts";
import type { ResolveFlags } from "../_shared/process_flags.ts";
import type { Permissions, ResourceLimits } from "../process/worker_options.ts";
import { parentPermissions, resolveFlags } from "./parent_flags.ts";

/** Deno's permission names, in the order flags are written. */
export const PERMISSION_NAMES = [
  "read",
  "write",
  "net",
  "env",
  "sys",
  "run",
  "ffi",
  "import",
] as const;

type PermissionName = typeof PERMISSION_NAMES[number];

/** A child's main thread has the OS's main-thread stack (8 MB by default,
 * `ulimit -s`), so V8's stack limit (KB) must stay below it. */
const MAX_CHILD_STACK_KB = 7 * 1024;
/** V8's young generation is three semi-spaces. */
const SEMI_SPACES_PER_YOUNG_GENERATION = 3;

/** Whether this program holds all of permission `name`. */
function holdsAll(name: PermissionName): boolean {
  const s = Deno.permissions.querySync({ name } as Deno.PermissionDescriptor);
  return s.state === "granted" && !s.partial;
}

function descriptor(
  name: PermissionName,
  item: string,
): Deno.PermissionDescriptor {
  switch (name) {
    case "read":
    case "write":
    case "ffi":
      return { name, path: item };
    case "net":
    case "import":
      return { name, host: item };
    case "env":
      return { name, variable: item };
    case "sys":
      return {
        name,
        kind: item as NonNullable<Deno.SysPermissionDescriptor["kind"]>,
      };
    case "run":
      return { name, command: item };
  }
}

/** An entry of a permission list as a flag value. */
function entry(item: unknown, name: PermissionName): string {
  if (item instanceof URL) {
    return item.protocol === "file:"
      ? decodeURIComponent(item.pathname)
      : item.host;
  }
  if (typeof item !== "string") {
    throw new TypeError(messages.badPermissionValue(name, item));
  }
  return item;
}

/**
 * The permission flags of a child with `permissions`: exactly what was
 * asked, never more than this program holds. "inherit" gives what this
 * program holds, partial grants included (see `inheritFlags`).
 *
 * @throws {Deno.errors.NotCapable} when asked for more than this program
 * holds.
 * @throws {TypeError} for a malformed permissions object.
 */
export function permissionFlags(permissions: Permissions): string[] {
  const out = grantFlags(permissions);
  if (out.includes("--allow-all")) return out;
  // What is not granted is denied: the command must hold a permission flag
  // (without one, node:child_process would grant everything).
  for (const name of PERMISSION_NAMES) {
    // Import keeps Deno's default hosts (the library may come from one),
    // unless this program may import nothing at all.
    if (
      name === "import" &&
      Deno.permissions.querySync({ name }).state !== "denied"
    ) continue;
    if (
      !out.some((f) =>
        f === `--allow-${name}` || f.startsWith(`--allow-${name}=`)
      )
    ) {
      out.push(`--deny-${name}`);
    }
  }
  return out;
}

/**
 * The flags of a child that inherits this program's permissions: each one
 * held whole, and those held in part (a list, or with --deny exceptions) as
 * this program's own command line gives them, each list entry checked
 * against what this program holds (never more). When the command line
 * cannot be read, a permission held in part is left out.
 */
function inheritFlags(): string[] {
  const held = PERMISSION_NAMES.filter(holdsAll);
  if (held.length === PERMISSION_NAMES.length) return ["--allow-all"];
  const out: string[] = [];
  const parent = parentPermissions();
  const all = parent?.get("all")?.allow === true;
  for (const name of PERMISSION_NAMES) {
    const grant = parent?.get(name);
    const whole = held.includes(name);
    if (whole) out.push(`--allow-${name}`);
    else if (grant !== undefined || all) {
      const state = Deno.permissions.querySync(
        { name } as Deno.PermissionDescriptor,
      );
      if (state.state === "granted" && (grant?.allow === true || all)) {
        // All of it but what is denied, below.
        out.push(`--allow-${name}`);
      } else if (Array.isArray(grant?.allow)) {
        const items = grant.allow.filter((item) =>
          !item.includes(",") &&
          Deno.permissions.querySync(descriptor(name, item)).state ===
            "granted"
        );
        if (items.length > 0) out.push(`--allow-${name}=${items.join(",")}`);
      }
    }
    // What this program is denied of a permission it holds in part, the
    // child is denied too (one it lacks is denied whole by the caller).
    const deny = grant?.deny;
    if (
      !whole && Array.isArray(deny) && deny.length > 0 &&
      out.at(-1)?.startsWith(`--allow-${name}`)
    ) out.push(`--deny-${name}=${deny.join(",")}`);
  }
  return out;
}

/** The --allow flags of `permissions`. */
function grantFlags(permissions: Permissions): string[] {
  if (permissions === "none") return [];
  if (permissions === "inherit") return inheritFlags();
  const out: string[] = [];
  for (const [key, value] of Object.entries(permissions)) {
    if (!(PERMISSION_NAMES as readonly string[]).includes(key)) {
      throw new TypeError(messages.badPermissionKey(key));
    }
    const name = key as PermissionName;
    if (value === undefined || value === false) continue;
    if (value === "inherit") {
      if (holdsAll(name)) out.push(`--allow-${name}`);
    } else if (value === true) {
      const s = Deno.permissions.querySync(
        { name } as Deno.PermissionDescriptor,
      );
      if (s.state !== "granted") {
        throw new Deno.errors.NotCapable(messages.escalate(name));
      }
      if (s.partial) {
        throw new Deno.errors.NotCapable(messages.partialGrant(name));
      }
      out.push(`--allow-${name}`);
    } else if (Array.isArray(value)) {
      const items = value.map((v) => entry(v, name));
      for (const item of items) {
        if (item.includes(",")) {
          throw new TypeError(messages.commaInGrant(name, item));
        }
        const state = Deno.permissions.querySync(descriptor(name, item)).state;
        if (state !== "granted") {
          throw new Deno.errors.NotCapable(messages.escalate(name, item));
        }
      }
      if (items.length > 0) out.push(`--allow-${name}=${items.join(",")}`);
    } else {
      throw new TypeError(messages.badPermissionValue(name, value));
    }
  }
  return out;
}

/** V8's flags for `limits` (none for an absent limit). */
export function limitFlags(limits: ResourceLimits | undefined): string[] {
  const out: string[] = [];
  if (limits === undefined) return out;
  const { maxOldGenerationSizeMb, maxYoungGenerationSizeMb, stackSizeMb } =
    limits;
  if (maxOldGenerationSizeMb !== undefined) {
    out.push(
      `--max-old-space-size=${Math.max(1, Math.floor(maxOldGenerationSizeMb))}`,
    );
  }
  if (maxYoungGenerationSizeMb !== undefined) {
    const semi = Math.max(
      1,
      Math.floor(maxYoungGenerationSizeMb / SEMI_SPACES_PER_YOUNG_GENERATION),
    );
    out.push(`--max-semi-space-size=${semi}`);
  }
  if (stackSizeMb !== undefined) {
    const kb = Math.min(MAX_CHILD_STACK_KB, Math.floor(stackSizeMb * 1024));
    out.push(`--stack-size=${Math.max(1, kb)}`);
  }
  return out;
}

/** The Deno executable this program runs on. */
export function denoExecutable(): string {
  return process.execPath;
}

/**
 * Throws the one clear error when this program may not start a child
 * process: it needs to run the Deno executable, and node:child_process
 * reads the whole environment to pass it on. Asks nothing (no prompt).
 *
 * @throws {Deno.errors.NotCapable} naming the missing flags.
 */
export function assertCanSpawn(): void {
  const exec = denoExecutable();
  const missing: string[] = [];
  const run = Deno.permissions.querySync({ name: "run", command: exec });
  if (run.state !== "granted") {
    missing.push(`permission to run it (--allow-run=${exec})`);
  }
  const env = Deno.permissions.querySync({ name: "env" });
  if (env.state !== "granted" || env.partial) {
    missing.push("access to the whole environment it passes on (--allow-env)");
  }
  if (missing.length > 0) {
    throw new Deno.errors.NotCapable(
      messages.noSpawnPermission(exec, missing.join(" and ")),
    );
  }
}

/** Everything after `deno` in a child's command, but its entry module. */
export interface ChildCommand {
  readonly args: readonly string[];
  readonly resolve: ResolveFlags;
}

/**
 * The command line of a child with these options (checked now: an
 * impossible one throws here, before anything starts).
 *
 * @throws what {@linkcode permissionFlags} throws.
 */
export function childCommand(
  permissions: Permissions,
  limits: ResourceLimits | undefined,
): ChildCommand {
  const resolve = resolveFlags();
  const v8 = [...resolve.v8, ...limitFlags(limits)];
  const args = [
    "run",
    "--no-prompt",
    ...permissionFlags(permissions),
    ...resolve.flags,
    ...(v8.length === 0 ? [] : [`--v8-flags=${v8.join(",")}`]),
  ];
  return { args, resolve };
}

/**
 * Permissions from a command line's `--permissions` values (the worker
 * command's): `inherit`, `none`, or entries `NAME` (all of it) and
 * `NAME=A,B` (those, as Deno's `--allow-NAME=A,B`), one per flag or
 * several separated by `;`. Entries of one name add up.
 *
 * @throws {TypeError} for an unknown name, or `inherit`/`none` mixed with
 * entries.
 */
export function permissionsFromFlags(values: readonly string[]): Permissions {
  const entries = values.flatMap((v) => v.split(";")).map((e) => e.trim())
    .filter((e) => e !== "");
  if (entries.length === 0) return "inherit";
  if (
    entries.length === 1 && (entries[0] === "inherit" || entries[0] === "none")
  ) {
    return entries[0];
  }
  const out: Record<string, true | string[]> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    const name = eq === -1 ? entry : entry.slice(0, eq);
    if (!(PERMISSION_NAMES as readonly string[]).includes(name)) {
      throw new TypeError(messages.badPermissionFlag(entry));
    }
    if (eq === -1) {
      out[name] = true;
      continue;
    }
    const items = entry.slice(eq + 1).split(",").filter((i) => i !== "");
    const had = out[name];
    if (had === true) continue;
    out[name] = [...(had ?? []), ...items];
  }
  return out as Deno.PermissionOptionsObject;
}
