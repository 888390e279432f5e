// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// How a child process (isolation: "process") resolves modules as its parent
// does: the parent's own resolution flags (in a child, the flags it was
// given; with -A, copied from its command line), else the deno.json Deno
// found for it. Used by flags.ts, which builds the child's command line (see
// there for why the command line can be read only with -A).
//
// Its permission flags, for a child with permissions "inherit", are read
// here too (`parentPermissions`): from the command line when this program
// may read it, else through a helper process (see `helperCommandLine`).
//
// Imports lib/_shared/process_flags.ts and unstable_flag.ts.

import process from "node:process";
import { ownFlags, type ResolveFlags } from "../_shared/process_flags.ts";
import { findConfig } from "./unstable_flag.ts";

/** Flags whose value may follow as the next argument. */
const VALUE_FLAGS: ReadonlySet<string> = new Set([
  "--config",
  "-c",
  "--import-map",
  "--ext",
  "--cert",
  "--location",
  "--seed",
  "--preload",
  "--require",
  "--conditions",
  "--inspect-publish-uid",
  "--node-modules-linker",
  "--min-dep-age",
  "--log-level",
  "-L",
  "--filter",
  "--reporter",
  "--junit-path",
]);

/** Flags copied as they are. */
const COPIED: ReadonlySet<string> = new Set([
  "--no-config",
  "--no-lock",
  "--cached-only",
  "--no-remote",
  "--no-npm",
  "--quiet",
  "-q",
  "--no-code-cache",
  "--use-env-proxy",
  "--frozen",
  "--frozen-lockfile",
  "--node-modules-dir",
  "--vendor",
  "--unsafely-ignore-certificate-errors",
  "--node-modules-linker",
  "--conditions",
  "--location",
  "--seed",
  "--min-dep-age",
  "--log-level",
  "-L",
]);

/** Flags whose value is a path, made absolute. */
const PATH_FLAGS: ReadonlySet<string> = new Set([
  "--config",
  "-c",
  "--import-map",
  "--lock",
  "--cert",
]);

/** Subcommands whose flags end at the script (the rest is its arguments). */
const SCRIPT_COMMANDS: ReadonlySet<string> = new Set(["run", "serve", "eval"]);
/** Subcommands whose flags may follow their file arguments. */
const FILE_COMMANDS: ReadonlySet<string> = new Set(["test", "bench"]);

/** `path` made absolute against the working folder (a URL stays). */
function absolute(path: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith("/")) return path;
  try {
    return `${Deno.cwd()}/${path}`;
  } catch {
    return path;
  }
}

/**
 * Each flag of `args` (a Deno command line, /proc/self/cmdline split at
 * NUL) that Deno reads as its own: those before the script, and for `test`
 * and `bench` those among their files. A flag's value is what follows its
 * `=`, or the next argument for a flag that takes one.
 */
function* commandFlags(
  args: readonly string[],
): Generator<{ name: string; value: string | undefined }> {
  let i = 1;
  let sub = "run";
  const first = args[1];
  if (first === undefined) return;
  if (!first.startsWith("-")) {
    // `deno main.ts` runs main.ts: no flags come before it.
    if (!SCRIPT_COMMANDS.has(first) && !FILE_COMMANDS.has(first)) return;
    sub = first;
    i = 2;
  }
  const stopAtScript = !FILE_COMMANDS.has(sub);
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") break;
    if (!arg.startsWith("-")) {
      if (stopAtScript) break;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    let value = eq === -1 ? undefined : arg.slice(eq + 1);
    if (value === undefined && VALUE_FLAGS.has(name)) value = args[++i];
    else if (
      value === undefined && name === "--lock" &&
      /\.(?:lock|jsonc?)$/.test(args[i + 1] ?? "")
    ) {
      value = args[++i];
    }
    yield { name, value };
  }
}

/**
 * The flags of `args` (a Deno command line, /proc/self/cmdline split at
 * NUL) that decide how modules resolve and load, rewritten for a child.
 * Exported for tests.
 */
export function parseCommandLine(
  args: readonly string[],
): { flags: string[]; v8: string[] } {
  const flags: string[] = [];
  const v8: string[] = [];
  for (const { name, value } of commandFlags(args)) {
    if (name === "--v8-flags") {
      if (value) v8.push(...value.split(",").filter((f) => f !== ""));
    } else if (PATH_FLAGS.has(name)) {
      const long = name === "-c" ? "--config" : name;
      flags.push(value === undefined ? long : `${long}=${absolute(value)}`);
    } else if (COPIED.has(name) || name.startsWith("--unstable")) {
      flags.push(value === undefined ? name : `${name}=${value}`);
    }
  }
  return { flags, v8 };
}

/** Short permission flags and the permission each stands for ("A" is all). */
const SHORT_PERMISSIONS: Readonly<Record<string, string>> = {
  A: "all",
  R: "read",
  W: "write",
  N: "net",
  E: "env",
  S: "sys",
  I: "import",
};

/** Permissions whose list entries are paths (made absolute for a child). */
const PATH_PERMISSIONS: ReadonlySet<string> = new Set([
  "read",
  "write",
  "ffi",
]);

/** What a command line grants and denies of one permission: `true` for
 * all of it, else the listed entries. */
export interface PermissionGrant {
  allow?: true | string[];
  deny?: true | string[];
}

/** Adds `items` (undefined: all) to `grant[side]`. */
function addGrant(
  grant: PermissionGrant,
  side: "allow" | "deny",
  items: string[] | undefined,
): void {
  const had = grant[side];
  if (items === undefined || had === true) {
    grant[side] = true;
    return;
  }
  grant[side] = [...(had ?? []), ...items];
}

/**
 * The permission flags of `args` (a Deno command line, as
 * `parseCommandLine` takes it): what each permission allows and denies.
 * `undefined` when they cannot be known (a permission set, `-P`, names
 * them in a config file). Exported for tests.
 */
export function parsePermissions(
  args: readonly string[],
): Map<string, PermissionGrant> | undefined {
  const out = new Map<string, PermissionGrant>();
  const grant = (name: string) => {
    let g = out.get(name);
    if (g === undefined) out.set(name, g = {});
    return g;
  };
  for (const { name: flag, value } of commandFlags(args)) {
    const items = value === undefined
      ? undefined
      : value.split(",").filter((x) => x !== "");
    if (flag === "-P" || flag === "--permission-set") return undefined;
    if (flag === "--allow-all") {
      addGrant(grant("all"), "allow", undefined);
      continue;
    }
    const long = /^--(allow|deny)-([a-z]+)$/.exec(flag);
    if (long !== null) {
      addGrant(grant(long[2]!), long[1] as "allow" | "deny", items);
      continue;
    }
    // -A, -R, -R=/tmp, -RWE
    if (/^-[A-Z]+$/.test(flag)) {
      const letters = flag.slice(1);
      if (![...letters].every((l) => l in SHORT_PERMISSIONS)) continue;
      for (const l of letters) {
        addGrant(
          grant(SHORT_PERMISSIONS[l]!),
          "allow",
          letters.length === 1 ? items : undefined,
        );
      }
    }
  }
  // Relative paths resolve against the working folder, as Deno resolved
  // them when the program started.
  for (const [name, g] of out) {
    if (!PATH_PERMISSIONS.has(name)) continue;
    for (const side of ["allow", "deny"] as const) {
      const v = g[side];
      if (Array.isArray(v)) g[side] = v.map(absolute);
    }
  }
  return out;
}

/**
 * This program's command line, read by a helper: a `deno eval` that may
 * read only /proc/<this pid>/cmdline (any process of the same user may
 * read it; Deno's permissions keep this one from it). It needs permission
 * to run the Deno executable, which a child process needs anyway. Costs one
 * short process (~0.15 s), once.
 */
function helperCommandLine(): string[] | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const exec = process.execPath;
  if (
    Deno.permissions.querySync({ name: "run", command: exec }).state !==
      "granted"
  ) return undefined;
  const path = `/proc/${Deno.pid}/cmdline`;
  try {
    const out = new Deno.Command(exec, {
      args: [
        "eval",
        "--no-config",
        "--no-prompt",
        `--allow-read=${path}`,
        `Deno.stdout.writeSync(Deno.readFileSync(${JSON.stringify(path)}))`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    if (!out.success) return undefined;
    const args = new TextDecoder().decode(out.stdout).split("\0");
    if (args.at(-1) === "") args.pop();
    return args.length > 0 ? args : undefined;
  } catch {
    return undefined;
  }
}

let permissionsRead = false;
let parentGrants: Map<string, PermissionGrant> | undefined;

/**
 * What this program's own command line grants and denies, per permission
 * (read once); `undefined` when it cannot be known.
 */
export function parentPermissions(): Map<string, PermissionGrant> | undefined {
  if (permissionsRead) return parentGrants;
  permissionsRead = true;
  const args = commandLine() ?? helperCommandLine();
  parentGrants = args === undefined ? undefined : parsePermissions(args);
  return parentGrants;
}

/** This program's command line, when Deno lets it be read (with -A). */
function commandLine(): string[] | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const path = "/proc/self/cmdline";
  try {
    if (
      Deno.permissions.querySync({ name: "read", path }).state !== "granted"
    ) {
      return undefined;
    }
    const args = Deno.readTextFileSync(path).split("\0");
    if (args.at(-1) === "") args.pop();
    return args;
  } catch {
    return undefined;
  }
}

/** The deno.json Deno found for this program: from the main module's
 * folder, else from the working folder. */
function configInEffect(): string | undefined {
  const main = (Deno as { mainModule?: string }).mainModule;
  let start: string | undefined;
  if (typeof main === "string" && main.startsWith("file:")) {
    start = decodeURIComponent(new URL(".", main).pathname);
  } else {
    try {
      start = Deno.cwd();
    } catch {
      return undefined;
    }
  }
  return findConfig(start.replace(/\/$/, ""));
}

let resolved: ResolveFlags | undefined;

/**
 * How a child resolves modules: the flags this process was given (in a
 * child), else copied from the command line, else the deno.json in effect.
 */
export function resolveFlags(): ResolveFlags {
  if (resolved !== undefined) return resolved;
  const own = ownFlags();
  if (own !== undefined) return resolved = own;
  const args = commandLine();
  const config = configInEffect();
  if (args !== undefined) {
    const { flags, v8 } = parseCommandLine(args);
    // Deno found a deno.json by itself (next to the main module, which a
    // child's entry is not): name it.
    const named = flags.some((f) =>
      f === "--no-config" || f.startsWith("--config")
    );
    if (!named && config !== undefined) flags.unshift(`--config=${config}`);
    return resolved = { flags, v8, source: "cmdline", config };
  }
  return resolved = config === undefined
    ? { flags: [], v8: [], source: "none", config }
    : { flags: [`--config=${config}`], v8: [], source: "config", config };
}
