// Process permissions and resource limits, and the errors when the program
// lacks the flags or permissions a worker needs.
import assert from "node:assert/strict";
import { Process, ProcessError } from "@parallel/multiprocessing";
import { allocate, allocateBig, noop, readFile } from "../fixtures/targets.ts";
import {
  finish,
  fixture,
  ISOLATIONS,
  ROOT,
  ROOT_DIR,
  runDeno,
} from "../fixtures/harness.ts";

const module = fixture("targets.ts");
const OUTSIDE = `${ROOT_DIR}/deno.json`;

for (const isolation of ISOLATIONS) {
  const tag = `(isolation "${isolation}")`;

  Deno.test(`new Process() with permissions "none" makes a worker that cannot read files ${tag}`, async () => {
    const p = new Process({
      target: readFile,
      args: [OUTSIDE],
      module,
      permissions: "none",
      isolation,
    });
    p.start();
    await finish(p);
    assert.equal(p.exitCode, 1);
    assert.ok(p.error instanceof Deno.errors.NotCapable, String(p.error));
  });

  Deno.test(`new Process() with permissions "inherit" makes a worker that reads what the program may read ${tag}`, async () => {
    const p = new Process({
      target: readFile,
      args: [OUTSIDE],
      module,
      isolation,
    });
    p.start();
    await finish(p);
    assert.equal(p.error, undefined);
    assert.equal(p.exitCode, 0);
  });

  Deno.test(`new Process() with permissions { read: [dir] } makes a worker that reads inside dir and nowhere else ${tag}`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const inside = `${dir}/data.txt`;
      await Deno.writeTextFile(inside, "data");
      const ok = new Process({
        target: readFile,
        args: [inside],
        module,
        permissions: { read: [dir] },
        isolation,
      });
      const denied = new Process({
        target: readFile,
        args: [OUTSIDE],
        module,
        permissions: { read: [dir] },
        isolation,
      });
      ok.start();
      denied.start();
      await finish(ok);
      await finish(denied);
      assert.equal(ok.error, undefined);
      assert.equal(ok.exitCode, 0);
      assert.equal(denied.exitCode, 1);
      assert.ok(
        denied.error instanceof Deno.errors.NotCapable,
        String(denied.error),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  // ---- resource limits -------------------------------------------------------

  Deno.test(`new Process() with resourceLimits makes a worker that ends alone with an out-of-memory ProcessError ${tag}`, async () => {
    // Deno 2.9 ends an over-limit thread reliably only when the allocation
    // that crosses the limit fits in the head-room it grants (see README,
    // Limits): 160 MB arrays against a 256 MB cap.
    const p = new Process({
      target: allocateBig,
      module,
      resourceLimits: { maxOldGenerationSizeMb: 256 },
      isolation,
    });
    p.start();
    await finish(p, 30_000);
    const err = p.error as ProcessError;
    // A thread reports 1; an OS process, the signal V8 ended it with.
    if (isolation === "thread") assert.equal(p.exitCode, 1);
    else assert.ok(p.exitCode! < 0, `exitCode ${p.exitCode}`);
    assert.equal(err.exitCode, p.exitCode);
    assert.ok(err instanceof ProcessError, String(err));
    assert.equal(err.name, "ProcessError");
    assert.equal(err.code, "ERR_WORKER_OUT_OF_MEMORY");
    assert.match(err.message, /maxOldGenerationSizeMb/);
    assert.match(err.message, /\b256\b/);
    // The program goes on: another process runs normally.
    const next = new Process({ target: noop, module, isolation });
    next.start();
    await finish(next);
    assert.equal(next.exitCode, 0);
  });

  Deno.test(`new Process() with resourceLimits runs a target that stays under them ${tag}`, async () => {
    const p = new Process({
      target: allocate,
      args: [16],
      module,
      resourceLimits: { maxOldGenerationSizeMb: 128 },
      isolation,
    });
    p.start();
    await finish(p);
    assert.equal(p.error, undefined);
    assert.equal(p.exitCode, 0);
  });
}

// ---- missing flag or permission (subprocesses) -----------------------------

Deno.test("Process.start() with permissions throws, not exits 70, without --unstable-worker-options (deno run --no-config -R)", async () => {
  // no_flag.ts sits below a deno.json that turns "worker-options" on, but
  // --no-config ignores that file: Deno would end the program with exit
  // code 70 if the library made the worker.
  const r = await runDeno(
    ["run", "--no-config", "-R", "tests/fixtures/no_flag.ts"],
  );
  assert.notEqual(r.code, 70, `the runtime ended the program: ${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^caught Error: .*--unstable-worker-options/m);
});

Deno.test("Process.start() with permissions throws, not exits 70, without --unstable-worker-options (deno run --no-config -A)", async () => {
  const r = await runDeno(
    ["run", "--no-config", "-A", "tests/fixtures/no_flag.ts"],
  );
  assert.notEqual(r.code, 70, `the runtime ended the program: ${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^caught Error: .*--unstable-worker-options/m);
});

Deno.test('Process.start() with permissions and isolation "process" needs no --unstable-worker-options (deno run --no-config -A)', async () => {
  // The child's permissions are its own flags: no scoped worker exists.
  const r = await runDeno(
    ["run", "--no-config", "-A", "tests/fixtures/no_flag.ts", "process"],
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "exitCode=0\n");
});

Deno.test("Process.start() with permissions runs with --unstable-worker-options", async () => {
  const r = await runDeno([
    "run",
    "--no-config",
    "-A",
    "--unstable-worker-options",
    "tests/fixtures/no_flag.ts",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "exitCode=0\n");
});

for (const isolation of ISOLATIONS) {
  Deno.test(`Process.start() names the module and -R / --allow-read without read permission (isolation "${isolation}")`, async () => {
    const r = await runDeno(
      ["run", "--no-config", "tests/fixtures/no_read.ts", isolation],
    );
    assert.equal(r.code, 0, r.stderr);
    const line = r.stdout.trim();
    // The same error under both isolations, before anything starts.
    assert.match(line, /^caught NotCapable: Cannot load /);
    assert.ok(line.includes(fixture("no_read.ts").href), line);
    assert.match(line, /--allow-read/);
    assert.match(line, /-R\b/);
  });
}

Deno.test("Process.start() runs the same program when read permission is given", async () => {
  const r = await runDeno(
    ["run", "--no-config", "-R", "tests/fixtures/no_read.ts"],
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "exitCode=0\n");
});

Deno.test("Process.start() with permissions and only -R outside a deno.json gives advice that works", async () => {
  // A program outside any deno.json: only the command line has the flag,
  // and Deno 2.9 lets a program read its command line only with -A. The
  // library cannot confirm the flag, so it refuses with what to do instead
  // of risking Deno's exit 70.
  const dir = await Deno.makeTempDir();
  try {
    const main = `${dir}/scoped.ts`;
    await Deno.writeTextFile(
      main,
      `import { Process } from ${
        JSON.stringify(new URL("mod.ts", ROOT).href)
      };\n` + (await Deno.readTextFile(fixture("no_flag.ts")))
        .replace(/^import .*$/m, ""),
    );
    const r = await runDeno([
      "run",
      "--no-config",
      "-R",
      "--unstable-worker-options",
      main,
    ], { cwd: dir });
    assert.notEqual(r.code, 70, r.stderr);
    assert.match(r.stdout, /^caught Error: Cannot scope worker permissions/);
    assert.match(r.stdout, /"unstable": \["worker-options"\]/);
    assert.match(r.stdout, /-A/);
    const withAll = await runDeno([
      "run",
      "--no-config",
      "-A",
      "--unstable-worker-options",
      main,
    ], { cwd: dir });
    assert.equal(withAll.code, 0, withAll.stderr);
    assert.equal(withAll.stdout, "exitCode=0\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
