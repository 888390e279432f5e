// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Whether --unstable-worker-options is on, which scoped worker permissions
// need (without it Deno ends the program). Deno has no API for it, so this
// reads the command line (/proc/self/cmdline, with -A) and the deno.json in
// effect, and says "unknown" when it cannot tell.
//
// Imports lib/_shared/, lib/_messages.ts and permissions.ts only.

import { context } from "../_shared/context.ts";
import { messages } from "../_messages.ts";
import { readable } from "./permissions.ts";

/** How many folders up from its start the search for deno.json goes. */
const MAX_CONFIG_DEPTH = 64;
const CONFIG_NAMES = ["deno.json", "deno.jsonc"] as const;
const CONFIG_FLAGS = ["--config", "-c"] as const;
const CONFIG_INLINE = "--config=";
const FLAG = "--unstable-worker-options";

/** What was found out, once per isolate. */
let flagState: "on" | "off" | "unknown" | undefined;

/** Whether the config file at `path` turns the flag on (undefined: it could
 * not be read). */
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

/** The nearest readable deno.json(c) at or above `startDir`. */
export function findConfig(startDir: string): string | undefined {
  let dir = startDir;
  for (let i = 0; i < MAX_CONFIG_DEPTH; i++) {
    for (const name of CONFIG_NAMES) {
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

/** Whether `a` is the --config flag (or its short form). */
function isConfigFlag(a: string | undefined): boolean {
  return (CONFIG_FLAGS as readonly (string | undefined)[]).includes(a);
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
    // Deno's own flags come before the script (args[0] is deno, args[1] the
    // subcommand); a value after --config is not the script.
    const scriptAt = args.findIndex((a, i) =>
      i > 1 && !a.startsWith("-") && !isConfigFlag(args![i - 1])
    );
    const flags = scriptAt === -1 ? args : args.slice(0, scriptAt);
    if (flags.includes(FLAG)) return "on";
    if (flags.includes("--no-config")) return "off";
    const at = flags.findIndex(isConfigFlag);
    const inline = flags.find((a) => a.startsWith(CONFIG_INLINE));
    const explicit = at !== -1
      ? flags[at + 1]
      : inline?.slice(CONFIG_INLINE.length);
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
  if (context().workerOptions) return;
  flagState ??= detectFlag();
  if (flagState === "on") return;
  throw new Error(
    flagState === "off" ? messages.noFlag() : messages.flagUnknown(),
  );
}
