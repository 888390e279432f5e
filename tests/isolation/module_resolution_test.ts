// isolation: "process": a child resolves modules as its parent does. It is
// given the parent's --import-map, --config and lockfile flags, read from the
// command line (which Deno lets a program read only with -A); without -A, the
// deno.json that Deno found for the program, and an import that fails says
// why.
import assert from "node:assert/strict";
import { ROOT, runDeno } from "../fixtures/harness.ts";

/** A program outside any deno.json whose target imports a bare specifier
 * that only its import map (map.json) resolves. */
async function importMapProgram(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "mp-import-map-" });
  await Deno.writeTextFile(
    `${dir}/map.json`,
    JSON.stringify({
      imports: {
        "bare-thing": "./thing.ts",
        "@parallel/multiprocessing": new URL("mod.ts", ROOT).href,
      },
    }),
  );
  await Deno.writeTextFile(`${dir}/thing.ts`, "export const answer = 42;\n");
  await Deno.writeTextFile(
    `${dir}/main.ts`,
    `import { Pool } from "@parallel/multiprocessing";
import { answer } from "bare-thing";

export function get(): number {
  return answer;
}

if (import.meta.main) {
  const pool = new Pool({ processes: 1, isolation: "process" });
  try {
    console.log("answer " + await pool.apply(get));
  } catch (err) {
    const cause = (err as Error).cause as Error | undefined;
    console.log("caught " + (err as Error).message);
    console.log("cause " + cause?.message);
  } finally {
    pool.terminate();
    await pool.join();
  }
}
`,
  );
  return dir;
}

Deno.test('Pool({ isolation: "process" }) in a program run with --import-map: the child resolves a bare specifier through it', async () => {
  const dir = await importMapProgram();
  try {
    const r = await runDeno(
      ["run", "-A", "--import-map=map.json", "main.ts"],
      { cwd: dir, timeout: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "answer 42\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test('Pool({ isolation: "process" }) without -A cannot see --import-map: the failing import says why and what to do', async () => {
  const dir = await importMapProgram();
  try {
    const r = await runDeno(
      [
        "run",
        "-R",
        "--allow-run",
        "--allow-env",
        "--import-map=map.json",
        "main.ts",
      ],
      { cwd: dir, timeout: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^caught .*ended with exit code 1/m);
    const cause = /^cause ([^]*)$/m.exec(r.stdout)?.[1] ?? "";
    assert.match(cause, /@parallel\/multiprocessing|bare-thing/);
    assert.match(cause, /isolation "process"/);
    assert.match(cause, /--import-map/);
    assert.match(cause, /run with -A/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test('Pool({ isolation: "process" }) without -A uses the deno.json Deno found for the program', async () => {
  // The project's deno.json maps "@parallel/multiprocessing"; the program
  // reads no command line (-R only), and its child still resolves it.
  const r = await runDeno([
    "run",
    "-R",
    "--allow-run",
    "--allow-env",
    "tests/fixtures/isolation_main.ts",
    "unscoped",
  ], { timeout: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "square 49\n");
});
