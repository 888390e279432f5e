// Never a permission prompt on behalf of a worker with scoped permissions.
// In a terminal, Deno asks the person there to grant what a scoped thread
// worker lacks, and "y" grants it: so the library refuses to start one in a
// terminal unless prompts are known to be off (--no-prompt seen under -A,
// or DENO_NO_PROMPT=1 readable). These tests run a program under a
// pseudo-terminal (util-linux's `script`) that answers "y" to anything, and
// check that the secret is never read.
import assert from "node:assert/strict";
import { PROMPT, type PtyRun, runInPty } from "../fixtures/harness.ts";
import type { SandboxCase } from "./fixtures/sandbox_main.ts";

const MAIN = "tests/reliability/fixtures/sandbox_main.ts";
const MODULE = new URL("./fixtures/prompt_targets.ts", import.meta.url).href;
/** Runs `deno <args>` under a pseudo-terminal, typing "y" all along. */
function runAnsweringYes(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<PtyRun> {
  return runInPty(args, { answer: "y", env });
}

async function withSecret(
  body: (secret: string, text: string, cases: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "prompt_" });
  const secret = `${dir}/secret.txt`;
  const text = `s3cr3t-${crypto.randomUUID()}`;
  await Deno.writeTextFile(secret, text);
  const cases: SandboxCase[] = [
    {
      name: "pool",
      how: "pool",
      module: MODULE,
      fn: "readAndPrint",
      read: null,
      arg: secret,
    },
    {
      name: "process",
      how: "process",
      module: MODULE,
      fn: "readAndPrint",
      read: null,
      arg: secret,
    },
  ];
  try {
    await body(secret, text, JSON.stringify(cases));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function outcomes(output: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of output.split(/\r?\n/)) {
    if (!line.startsWith("{")) continue;
    try {
      const { name, outcome } = JSON.parse(line);
      found.set(name, outcome);
    } catch {
      // not one of ours
    }
  }
  return found;
}

Deno.test('a scoped worker in a terminal is refused (-R -E): answering "y" to everything reads no secret', async () => {
  await withSecret(async (_secret, text, cases) => {
    for (const flags of [["-R", "-E"], ["-A"]]) {
      const run = await runAnsweringYes(["run", ...flags, MAIN, cases]);
      const what = `deno run ${flags.join(" ")}`;
      assert.ok(
        !run.output.includes(text),
        `${what}: the secret was read:\n${run.output}`,
      );
      assert.ok(
        !run.output.includes(PROMPT),
        `${what} prompted:\n${run.output}`,
      );
      const found = outcomes(run.output);
      for (const name of ["pool", "process"]) {
        assert.match(
          found.get(name) ?? run.output,
          /^refused NotCapable: Cannot start a worker with scoped permissions in a terminal.*--no-prompt.*isolation: "process"/,
          `${what} ${name}`,
        );
      }
    }
  });
});

Deno.test("a scoped worker runs in a terminal when prompts are off (-A --no-prompt, DENO_NO_PROMPT=1), and its read is denied", async () => {
  await withSecret(async (_secret, text, cases) => {
    const runs: [string, string[], Record<string, string>][] = [
      ["-A --no-prompt", ["run", "-A", "--no-prompt", MAIN, cases], {}],
      [
        "DENO_NO_PROMPT=1 -R --allow-env=DENO_NO_PROMPT",
        ["run", "-R", "--allow-env=DENO_NO_PROMPT", MAIN, cases],
        { DENO_NO_PROMPT: "1" },
      ],
    ];
    for (const [what, args, env] of runs) {
      const run = await runAnsweringYes(args, env);
      assert.ok(
        !run.output.includes(text),
        `${what}: the secret was read:\n${run.output}`,
      );
      assert.ok(
        !run.output.includes(PROMPT),
        `${what} prompted:\n${run.output}`,
      );
      const found = outcomes(run.output);
      assert.match(
        found.get("pool") ?? run.output,
        /^failed NotCapable: /,
        `${what} pool`,
      );
      assert.match(
        found.get("process") ?? run.output,
        /^failed NotCapable: /,
        `${what} process`,
      );
    }
  });
});
