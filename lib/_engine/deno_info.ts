// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Deno's own module graph of a worker's module: the local files that
// `deno info --json` reports (without remote and npm modules), when this
// program may run deno, read with the --config / --import-map flags this
// program was run with.
//
// Imports lib/_engine/local_paths.ts and lib/_engine/command_line.ts.

import { commandLine, denoFlags } from "./command_line.ts";
import { granted, isLibrary, pathOf, realPath } from "./local_paths.ts";

/** A local file the graph loads, and the module that imports it ("" for
 * the root). */
export interface InfoFile {
  readonly path: string;
  readonly via: string;
}

/** The local files of `root`'s graph as `deno info --json` (Deno's own
 * module graph, without remote and npm modules) reports them, when this
 * program may run deno; else undefined. */
export function infoGraph(root: string): InfoFile[] | undefined {
  let exec: string;
  try {
    exec = Deno.execPath();
  } catch {
    return undefined;
  }
  // A program made by `deno compile` is its own executable: not deno.
  if (!/(^|[\\/])deno(\.exe)?$/.test(exec)) return undefined;
  if (!granted({ name: "run", command: exec })) return undefined;
  let out: Deno.CommandOutput;
  try {
    out = new Deno.Command(exec, {
      args: [
        "info",
        "--json",
        "--no-remote",
        "--no-npm",
        "--no-lock",
        ...configFlags(),
        root,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
  } catch {
    return undefined;
  }
  if (!out.success) return undefined;
  let info: {
    roots?: string[];
    redirects?: Record<string, string>;
    modules?: {
      specifier: string;
      local?: string;
      dependencies?: { code?: { specifier?: string } }[];
    }[];
  };
  try {
    info = JSON.parse(new TextDecoder().decode(out.stdout));
  } catch {
    return undefined;
  }
  const modules = new Map((info.modules ?? []).map((m) => [m.specifier, m]));
  const redirects = info.redirects ?? {};
  const reached: InfoFile[] = [];
  const seen = new Set<string>();
  const queue = (info.roots ?? [root]).map((s) => ({ s, via: "" }));
  while (queue.length > 0) {
    const { s, via } = queue.shift()!;
    const spec = redirects[s] ?? s;
    if (seen.has(spec)) continue;
    seen.add(spec);
    const m = modules.get(spec);
    if (m === undefined) continue;
    if (spec.startsWith("file:")) {
      const real = realPath(m.local ?? pathOf(new URL(spec)));
      if (isLibrary(real)) continue;
      reached.push({ path: real, via });
    }
    // Only what runs: type-only dependencies are not loaded.
    for (const d of m.dependencies ?? []) {
      const next = d.code?.specifier;
      if (next !== undefined) queue.push({ s: next, via: spec });
    }
  }
  return reached;
}

/** The --config / --import-map / --no-config flags this program was run
 * with, for `deno info` (where the command line can be read). */
function configFlags(): string[] {
  const args = commandLine();
  if (args === undefined) return [];
  const flags = denoFlags(args);
  const out: string[] = [];
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i]!;
    if (f === "--no-config") out.push(f);
    else if (/^(--config|--import-map)=/.test(f)) out.push(f);
    else if ((f === "--config" || f === "-c" || f === "--import-map")) {
      const value = flags[i + 1];
      if (value !== undefined) out.push(f, value);
    }
  }
  return out;
}
