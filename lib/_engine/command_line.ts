// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// This process's command line, where it may be read (-A), and Deno's own
// flags on it (those before the script). Read for `--no-prompt` (sandbox.ts)
// and for the config flags `deno info` needs (deno_info.ts).
//
// Imports lib/_engine/local_paths.ts.

import { granted } from "./local_paths.ts";

/** Flags whose value is the next argument (so it is not the script). */
const VALUE_FLAGS: ReadonlySet<string> = new Set([
  "--config",
  "-c",
  "--import-map",
  "--location",
  "--seed",
  "--cert",
  "--env-file",
]);

/** This process's command line, where it may be read (-A), else
 * undefined. */
export function commandLine(): string[] | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const path = "/proc/self/cmdline";
  if (!granted({ name: "read", path })) return undefined;
  try {
    return Deno.readTextFileSync(path).split("\0");
  } catch {
    return undefined;
  }
}

/** Deno's own flags on a command line: those before the script. */
export function denoFlags(args: readonly string[]): string[] {
  const at = args.findIndex((a, i) =>
    i > 1 && !a.startsWith("-") && !VALUE_FLAGS.has(args[i - 1]!)
  );
  return at === -1 ? args.slice(2) : args.slice(2, at);
}
