// No permission prompt from the library's own start-up. Deno prompts only
// when stdin and stderr are a terminal, so a piped run never shows one: these
// tests run each example, with the flags its header gives, under a
// pseudo-terminal (util-linux's `script`, in Debian's essential bsdutils
// package) and fail on any "Deno requests".
// Every prompt is answered "n", so none can hang; every run is bounded.
import assert from "node:assert/strict";
import { PROMPT, type PtyRun, ROOT_DIR, runInPty } from "./fixtures/harness.ts";

/** A stack trace for any prompt, to say where it comes from. */
const TRACE = { env: { DENO_TRACE_PERMISSIONS: "1" } };

/** A `deno run` line as an example's header comment gives it. */
interface Usage {
  readonly example: string;
  readonly flags: readonly string[];
}

/** The examples' own `deno run <flags> examples/<name>.ts` lines, but those
 * with -A (all permissions: nothing to prompt for; the Redis example). */
function usages(): Usage[] {
  const found: Usage[] = [];
  for (const entry of Deno.readDirSync(`${ROOT_DIR}/examples`)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const path = `examples/${entry.name}`;
    const text = Deno.readTextFileSync(`${ROOT_DIR}/${path}`);
    const escaped = path.replace(/[.]/g, "\\.");
    const line = text.match(
      new RegExp(`^//\\s+deno run ((?:-\\S+ )*)${escaped}\\b`, "m"),
    );
    assert.ok(line, `${path} has no "//   deno run … ${path}" header line`);
    const flags = line[1]!.trim().split(/\s+/).filter((f) => f !== "");
    if (flags.includes("-A") || flags.includes("--allow-all")) continue;
    found.push({ example: path, flags });
  }
  return found.sort((a, b) => a.example.localeCompare(b.example));
}

/** The output of a run under a pseudo-terminal. */

function assertNoPrompt(run: PtyRun, what: string): void {
  assert.ok(
    !run.output.includes(PROMPT),
    `${what} asked for a permission:\n${run.output}`,
  );
  assert.equal(run.killed, false, `${what} was killed: it ran out of time`);
  assert.equal(run.code, 0, `${what} failed:\n${run.output}`);
}

Deno.test("runInPty() sees a prompt: a program that reads the environment under -R is asked", async () => {
  // Without this, a harness that lost the terminal would pass every test.
  const dir = await Deno.makeTempDir({ prefix: "pty_test_" });
  try {
    const program = `${dir}/reads_env.ts`;
    await Deno.writeTextFile(
      program,
      `try { Deno.env.get("HOME"); } catch { console.log("denied"); }\n`,
    );
    const run = await runInPty(["run", "--no-config", "-R", program], TRACE);
    assert.equal(run.killed, false, "it ran out of time");
    assert.ok(run.output.includes(PROMPT), run.output);
    assert.ok(run.output.includes("denied"), run.output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const { example, flags } of usages()) {
  const line = ["deno", "run", ...flags, example].join(" ");
  Deno.test(`${example} asks for no permission in a terminal: ${line}`, async () => {
    assertNoPrompt(await runInPty(["run", ...flags, example], TRACE), line);
  });
}

// Beyond the examples: the other ways a worker starts. In a terminal, a
// scoped thread worker is refused before it starts (Deno could prompt for
// it: see tests/reliability/prompt_test.ts); the refusal asks for nothing.
const SCOPED_REFUSED =
  "Cannot start a worker with scoped permissions in a terminal";
const FIXTURES: readonly (readonly string[])[] = [
  // A scoped daemon: an unreferenced web Worker.
  ["run", "-R", "tests/fixtures/daemon.ts", "daemon", "none"],
  // Scoped pool workers start directly as web Workers.
  ["run", "-R", "tests/fixtures/pool_scoped_main.ts"],
];

for (const args of FIXTURES) {
  const line = ["deno", ...args].join(" ");
  Deno.test(`${args[2]} asks for no permission in a terminal: ${line}`, async () => {
    const run = await runInPty(args, TRACE);
    assert.ok(run.output.includes(SCOPED_REFUSED), `${line}:\n${run.output}`);
    assert.ok(!run.output.includes(PROMPT), `${line}:\n${run.output}`);
    assert.equal(run.killed, false, `${line} was killed: it ran out of time`);
  });
}

Deno.test("a warm standby thread starts in the background without a prompt in a terminal (deno run -R)", async () => {
  const args = ["run", "-R", "tests/fixtures/standby_main.ts", "thread"];
  const run = await runInPty(args, TRACE);
  const line = ["deno", ...args].join(" ");
  assert.ok(!run.output.includes(PROMPT), `${line}:\n${run.output}`);
  assert.match(run.output, /exit 0, waiting [1-9]/, `${line}:\n${run.output}`);
  assert.equal(run.killed, false, `${line} was killed: it ran out of time`);
});
