// No permission prompt from the library's own start-up. Deno prompts only
// when stdin and stderr are a terminal, so a piped run never shows one: these
// tests run each example, with the flags its header gives, under a
// pseudo-terminal (util-linux's `script`, in Debian's essential bsdutils
// package) and fail on any "Deno requests".
// Every prompt is answered "n", so none can hang; every run is bounded.
import assert from "node:assert/strict";
import { delay, ROOT_DIR } from "./fixtures/harness.ts";

/** How long one run may take before it is killed (updown.ts takes 4-12 s). */
const RUN_MS = 45_000;
/** How often a run is sent "n\n": Deno discards what was typed before its
 * prompt, so the answer must keep coming. */
const ANSWER_EVERY_MS = 250;
/** How long a killed `script` may take to end before SIGKILL. */
const KILL_GRACE_MS = 2_000;

const PROMPT = "Deno requests";
/** A terminal escape sequence (colours, cursor moves), removed from the
 * output: it starts with the control character ESC. */
// deno-lint-ignore no-control-regex
const ESCAPE = /\x1b\[[0-9;?]*[A-Za-z]/g;
const NO_SCRIPT = "`script` is missing: these tests run programs under a " +
  "pseudo-terminal with util-linux's `script` (on Debian: apt-get install " +
  "bsdutils)";

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
interface PtyRun {
  /** `script -e`'s status: the program's own exit code. */
  readonly code: number;
  /** True when it was killed after {@linkcode RUN_MS}. */
  readonly killed: boolean;
  /** Everything the terminal showed, colours removed. */
  readonly output: string;
}

function quote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Runs `deno <args>` in the project root under a pseudo-terminal, answering
 * "n" to any prompt, killed after {@linkcode RUN_MS}. */
async function runInPty(args: readonly string[]): Promise<PtyRun> {
  const command = [Deno.execPath(), ...args].map(quote).join(" ");
  // Without DENO_NO_PROMPT, which would hide every prompt; with a stack
  // trace for any prompt, to say where it comes from.
  const env = Deno.env.toObject();
  delete env.DENO_NO_PROMPT;
  env.DENO_TRACE_PERMISSIONS = "1";
  env.NO_COLOR = "1";
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("script", {
      args: ["-qec", command, "/dev/null"],
      cwd: ROOT_DIR,
      clearEnv: true,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(NO_SCRIPT, { cause: error });
    }
    throw error;
  }
  const output = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  const status = child.status;
  let done = false;
  status.finally(() => (done = true));

  const writer = child.stdin.getWriter();
  const answer = new TextEncoder().encode("n\n");
  const answering = (async () => {
    while (!done) {
      await delay(ANSWER_EVERY_MS);
      if (done) break;
      // It may end between the check and the write.
      await writer.write(answer).catch(() => {});
    }
    await writer.close().catch(() => {});
  })();

  let killed = false;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  const timer = setTimeout(() => {
    killed = true;
    // `script` ends its program on SIGTERM; SIGKILL if it lingers.
    child.kill("SIGTERM");
    graceTimer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
  }, RUN_MS);
  try {
    const { code } = await status;
    const [stdout, stderr] = await output;
    await answering;
    const text = (stdout + stderr).replace(ESCAPE, "");
    return { code, killed, output: text };
  } finally {
    clearTimeout(timer);
    clearTimeout(graceTimer);
  }
}

function assertNoPrompt(run: PtyRun, what: string): void {
  assert.ok(
    !run.output.includes(PROMPT),
    `${what} asked for a permission:\n${run.output}`,
  );
  assert.equal(run.killed, false, `${what} was killed after ${RUN_MS} ms`);
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
    const run = await runInPty(["run", "--no-config", "-R", program]);
    assert.equal(run.killed, false, `killed after ${RUN_MS} ms`);
    assert.ok(run.output.includes(PROMPT), run.output);
    assert.ok(run.output.includes("denied"), run.output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const { example, flags } of usages()) {
  const line = ["deno", "run", ...flags, example].join(" ");
  Deno.test(`${example} asks for no permission in a terminal: ${line}`, async () => {
    assertNoPrompt(await runInPty(["run", ...flags, example]), line);
  });
}

// Beyond the examples: the other ways a worker starts. In a terminal, a
// scoped thread worker is refused before it starts (Deno could prompt for
// it: see tests/reliability/prompt_test.ts); the refusal asks for nothing.
const SCOPED_REFUSED =
  "Cannot start a worker with scoped permissions in a terminal";
const FIXTURES: readonly (readonly string[])[] = [
  // A scoped daemon starts through the hub thread.
  ["run", "-R", "tests/fixtures/daemon.ts", "daemon", "none"],
  // Scoped pool workers start directly as web Workers.
  ["run", "-R", "tests/fixtures/pool_scoped_main.ts"],
];

for (const args of FIXTURES) {
  const line = ["deno", ...args].join(" ");
  Deno.test(`${args[2]} asks for no permission in a terminal: ${line}`, async () => {
    const run = await runInPty(args);
    assert.ok(run.output.includes(SCOPED_REFUSED), `${line}:\n${run.output}`);
    assert.ok(!run.output.includes(PROMPT), `${line}:\n${run.output}`);
    assert.equal(run.killed, false, `${line} was killed after ${RUN_MS} ms`);
  });
}
