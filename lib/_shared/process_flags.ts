// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The flags that a child process (isolation: "process") was started with,
// which decide how it resolves modules, so that the processes it starts in
// turn resolve them the same way. Set by the child's entry
// (../_worker/process_entry.ts), read by the main side (../_engine/flags.ts).
//
// Imports nothing.

/** Where the flags that decide module resolution came from. */
export type FlagSource =
  /** The parent's own command line (readable under -A). */
  | "cmdline"
  /** The deno.json found where Deno would find it (the command line could
   * not be read: its --import-map, --config, --no-config are unknown). */
  | "config"
  /** Neither: no deno.json was found, and the command line is unknown. */
  | "none";

/** How a child process resolves modules, as its parent started it. */
export interface ResolveFlags {
  /** Deno flags (after `run`) that decide module resolution and loading. */
  readonly flags: readonly string[];
  /** V8 flags of the parent, passed on with the child's own limits. */
  readonly v8: readonly string[];
  readonly source: FlagSource;
  /** The deno.json in effect, when known. */
  readonly config: string | undefined;
}

const KEY = Symbol.for("@parallel/multiprocessing/processFlags");

/** Records the flags this process was started with (in a child). */
export function setOwnFlags(flags: ResolveFlags): void {
  (globalThis as unknown as Record<symbol, ResolveFlags>)[KEY] = flags;
}

/** The flags this process was started with, if a parent of this library
 * started it; else undefined. */
export function ownFlags(): ResolveFlags | undefined {
  return (globalThis as unknown as Record<symbol, ResolveFlags | undefined>)[
    KEY
  ];
}
