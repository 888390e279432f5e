// A worker sees the environment as its program does: the whole of it when
// the program has env access (a copy taken at start, as node:worker_threads
// gives by default), and otherwise only what the program may read itself,
// without a prompt at start-up (see pty_test.ts).
import assert from "node:assert/strict";
import { runDeno } from "../fixtures/harness.ts";

const HOME = Deno.env.get("HOME");

/** What tests/fixtures/env_main.ts prints: the reads in each place. */
interface Seen {
  main: Record<string, string | undefined>;
  inPool: Record<string, string | undefined>;
  inProcess: Record<string, string | undefined>;
}

async function seen(
  flags: string[],
  isolation: "thread" | "process" = "thread",
): Promise<Seen> {
  const r = await runDeno(
    ["run", ...flags, "tests/fixtures/env_main.ts", isolation],
    { timeout: 30_000 },
  );
  assert.equal(r.signal, null, `killed after ${r.ms} ms`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  const lines = r.stdout.trim().split("\n");
  const out = JSON.parse(lines.at(-1)!) as Seen;
  // An OS process printed its reads on a line of its own.
  const printed = lines.find((l) => l.startsWith("reads "));
  if (printed !== undefined) out.inProcess = JSON.parse(printed.slice(6));
  return out;
}

Deno.test("Pool() and Process() workers read the environment under -A, a variable set before start included", async () => {
  assert.ok(HOME, "HOME is unset: this test reads it");
  const all = { denoHome: HOME, processHome: HOME, processSet: "set in main" };
  assert.deepEqual(await seen(["-A"]), {
    main: all,
    inPool: all,
    inProcess: all,
  });
});

Deno.test('Pool() and Process() workers with isolation "process" read the environment under -A, a variable set before start included', async () => {
  assert.ok(HOME, "HOME is unset: this test reads it");
  const all = { denoHome: HOME, processHome: HOME, processSet: "set in main" };
  assert.deepEqual(await seen(["-A"], "process"), {
    main: all,
    inPool: all,
    inProcess: all,
  });
});

Deno.test("Pool() and Process() workers read only the allowed variables under --allow-env=HOME", async () => {
  const some = {
    denoHome: HOME,
    processHome: HOME,
    processSet: "throws NotCapable",
  };
  assert.deepEqual(await seen(["-R", "--allow-env=HOME"]), {
    main: some,
    inPool: some,
    inProcess: some,
  });
});

Deno.test("Pool() and Process() workers cannot read the environment under -R", async () => {
  const none = {
    denoHome: "throws NotCapable",
    processHome: "throws NotCapable",
    processSet: "throws NotCapable",
  };
  assert.deepEqual(await seen(["-R"]), {
    main: none,
    inPool: none,
    inProcess: none,
  });
});
