// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// What must hold before a worker with scoped permissions starts, since it
// may run code that is hostile (see docs/security.md):
//
// - No permission prompt. In a terminal, Deno asks the person there to grant
//   a worker what it lacks, and "y" grants it. Deno has no API to turn
//   prompts off at run time, so a scoped thread worker starts only where no
//   prompt can appear: standard input or standard error is not a terminal,
//   `--no-prompt` is on the command line (readable with -A), DENO_NO_PROMPT
//   is "1" (readable with env access), or the program runs under `deno test`
//   or `deno bench`, which never prompt.
// - A module graph inside the places the worker may load from. Deno loads
//   the static imports of a worker's modules, and `import()` of a literal
//   specifier, without checking the worker's read permission. So the graph
//   of the worker's module is read (this library's own scan of import
//   specifiers, and `deno info --json` when the program may run deno), and a
//   worker is refused when its graph reaches a local file outside its "read"
//   permission, its module's folder, and this library.
//
// This file holds the prompt check and assertSandbox, the entry the rest of
// lib/ calls; the module graph check is in module_graph.ts.
//
// Imports lib/_messages.ts, a type from lib/process/, and
// lib/_engine/{command_line,local_paths,module_graph}.ts.

import { messages } from "../_messages.ts";
import type { Permissions } from "../process/worker_options.ts";
import { commandLine, denoFlags } from "./command_line.ts";
import { granted } from "./local_paths.ts";
import { assertGraphInside } from "./module_graph.ts";

// ---- prompts ----------------------------------------------------------------

/** Deno's subcommands that never prompt. */
const NO_PROMPT_COMMANDS: ReadonlySet<string> = new Set(["test", "bench"]);
/** Deno's flag that turns prompts off, and the variable that does. */
const NO_PROMPT_FLAG = "--no-prompt";
const NO_PROMPT_ENV = "DENO_NO_PROMPT";

/** DENO_NO_PROMPT as Deno saw it when the program started: read as the
 * library loads, since setting it later does not turn prompts off. */
const envNoPrompt = granted({ name: "env", variable: NO_PROMPT_ENV }) &&
  Deno.env.get(NO_PROMPT_ENV) === "1";

let promptsOff: boolean | undefined;

/** Whether Deno is known never to prompt in this process. */
function knownNoPrompt(): boolean {
  if (promptsOff !== undefined) return promptsOff;
  const args = commandLine();
  promptsOff = envNoPrompt ||
    (args !== undefined &&
      (NO_PROMPT_COMMANDS.has(args[1] ?? "") ||
        denoFlags(args).includes(NO_PROMPT_FLAG)));
  return promptsOff;
}

/** Whether a scoped thread worker could make Deno prompt the person at the
 * terminal: Deno prompts only when standard input and standard error are
 * both terminals, and prompts are not turned off. */
export function promptRisk(): boolean {
  let terminal: boolean;
  try {
    terminal = Deno.stdin.isTerminal() && Deno.stderr.isTerminal();
  } catch {
    terminal = true;
  }
  return terminal && !knownNoPrompt();
}

/**
 * Checks what must hold before a worker with `permissions` that loads
 * `module` starts: with scoped permissions, no prompt (`terminal`: the
 * worker is a thread of this process, which Deno may prompt for), and a
 * module graph inside the places the worker may load from.
 *
 * @throws {Deno.errors.NotCapable} when either does not hold.
 */
export function assertSandbox(
  module: string,
  permissions: Permissions,
  { terminal }: { terminal: boolean },
): void {
  if (permissions === "inherit") return;
  if (terminal && promptRisk()) {
    throw new Deno.errors.NotCapable(messages.scopedPromptRisk());
  }
  assertGraphInside(module, permissions);
}
