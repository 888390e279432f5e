// isolation: "process": what an OS-process worker is that a thread is not.
// Its pid and exit codes are the OS's (Python's -N for signal N), its memory
// limit and crashes end it alone, it never outlives its parent, and it has
// exactly the permissions it was given.
import assert from "node:assert/strict";
import {
  Pool,
  Process,
  ProcessError,
  Queue,
  Value,
} from "@parallel/multiprocessing";
import {
  abort,
  allocateAsync,
  allocateSync,
  exitAtFive,
  exitWith,
  permissionStates,
  pids,
  queryStates,
  readFile,
  sleep,
  square,
} from "../fixtures/isolation_targets.ts";
import {
  ownPid,
  segfault,
  selfAbort,
  square as square2,
} from "../fixtures/crash_targets.ts";
import {
  finish,
  fixture,
  isZombie,
  pidExists,
  rejectionOf,
  ROOT_DIR,
  runDeno,
  runInPty,
  until,
  within,
} from "../fixtures/harness.ts";

const module = fixture("isolation_targets.ts");
const isolation = "process";
/** How long an orphan may outlive its parent: the watchdog looks every
 * 0.5 s (PARENT_POLL_MS), and a busy machine is slow to schedule. */
const ORPHAN_MS = 5_000;

/** Whether `pid` has ended: gone, or a zombie its new parent (init) has not
 * reaped yet. */
function ended(pid: number): boolean {
  return !pidExists(pid) || isZombie(pid);
}

// ---- exit codes ----------------------------------------------------------------

Deno.test('Process({ isolation: "process" }).exitCode is -6 after an abort (SIGABRT)', async () => {
  const p = new Process({ target: abort, module, isolation });
  p.start();
  await finish(p);
  assert.equal(p.exitCode, -6);
});

Deno.test('Process({ isolation: "process" }).exitCode is 134 after exit(134), not -6', async () => {
  const p = new Process({ target: exitWith, args: [134], module, isolation });
  p.start();
  await finish(p);
  assert.equal(p.exitCode, 134);
  assert.equal(p.error, undefined);
});

Deno.test('Process({ isolation: "process" }).pid is the OS pid, Deno.pid inside, and gone after join()', async () => {
  await using pool = new Pool({ processes: 1, module, isolation });
  const seen = await within(pool.apply(pids));
  assert.equal(seen.deno, seen.current);
  assert.ok(pidExists(seen.deno), "the worker's pid is no live OS process");
  assert.notEqual(seen.deno, Deno.pid);
  const p = new Process({ target: sleep, args: [10], module, isolation });
  p.start();
  assert.ok(pidExists(p.pid!), `pid ${p.pid} is no OS process`);
  await finish(p);
  assert.equal(p.exitCode, 0);
  assert.ok(!pidExists(p.pid!), `pid ${p.pid} lives (or is a zombie)`);
});

Deno.test('Pool({ isolation: "process" }): exit() in a task loses none of the results sent before it', async () => {
  // One worker gets six calls in one batch; the sixth exits. Deno drops the
  // IPC writes still pending at exit, so the child must write the first
  // five results before it ends: else the first call fails in its place.
  await using pool = new Pool({ processes: 1, module, isolation });
  for (let run = 0; run < 5; run++) {
    await within(pool.apply(exitAtFive, [9])); // started
    const calls = [0, 1, 2, 3, 4, 5].map((x) => pool.apply(exitAtFive, [x]));
    const exited = calls.pop()!;
    const got = await within(Promise.all(calls));
    assert.deepEqual(got.map((v) => `${v[0]}:${v.length}`), [
      "0:262144",
      "1:262144",
      "2:262144",
      "3:262144",
      "4:262144",
    ]);
    const err = await rejectionOf(exited);
    assert.ok(err instanceof ProcessError, String(err));
    assert.equal(err.exitCode, 3, `run ${run}`);
  }
});

// ---- memory limits and crashes ---------------------------------------------------

for (
  const [how, target] of [["sync", allocateSync], [
    "async",
    allocateAsync,
  ]] as const
) {
  Deno.test(`Process({ isolation: "process", resourceLimits }) over its heap limit (${how} allocation) ends with ERR_WORKER_OUT_OF_MEMORY`, async () => {
    const p = new Process({
      target,
      module,
      isolation,
      resourceLimits: { maxOldGenerationSizeMb: 64 },
    });
    p.start();
    await finish(p, 30_000);
    const err = p.error as ProcessError;
    assert.ok(err instanceof ProcessError, String(err));
    assert.equal(err.code, "ERR_WORKER_OUT_OF_MEMORY");
    assert.match(err.message, /maxOldGenerationSizeMb \(64 MB\)/);
    // What the OS reports: V8 ends the process by a trap signal.
    assert.ok(p.exitCode! < 0, `exitCode ${p.exitCode}`);
    assert.equal(err.exitCode, p.exitCode);
  });
}

Deno.test('Pool({ isolation: "process", resourceLimits }) replaces a worker that ran out of memory; nothing hangs', async () => {
  await using pool = new Pool({
    processes: 1,
    module,
    isolation,
    resourceLimits: { maxOldGenerationSizeMb: 64 },
  });
  const before = (await within(pool.apply(pids))).deno;
  const err = await rejectionOf(pool.apply(allocateSync), 30_000);
  assert.ok(err instanceof ProcessError, String(err));
  assert.equal(err.code, "ERR_WORKER_OUT_OF_MEMORY");
  const after = (await within(pool.apply(pids))).deno;
  assert.notEqual(after, before, "the worker was not replaced");
  assert.deepEqual(await within(pool.map(square, [1, 2, 3])), [1, 4, 9]);
});

Deno.test('Pool({ isolation: "process" }): an abort ends only its worker (-6); the pool goes on', async () => {
  await using pool = new Pool({ processes: 2, module, isolation });
  const other = pool.apply(sleep, [300]);
  const err = await rejectionOf(pool.apply(abort));
  assert.ok(err instanceof ProcessError, String(err));
  assert.equal(err.exitCode, -6);
  await within(other);
  assert.deepEqual(await within(pool.map(square, [4])), [16]);
});

// ---- no orphans, no zombies, no hang at exit ---------------------------------------

Deno.test('Process({ isolation: "process" }) children end when their parent is SIGKILLed: a busy one and an idle one', async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tests/fixtures/isolation_main.ts", "orphans"],
    cwd: ROOT_DIR,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  try {
    await until(async () => {
      const { value, done } = await reader.read();
      if (value) out += value;
      return done || /pids \d+ \d+/.test(out);
    }, { what: "the orphans program to start its children", timeout: 30_000 });
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
  }
  const [busy, idle] = /pids (\d+) (\d+)/.exec(out)!.slice(1).map(Number);
  const t0 = performance.now();
  await until(() => ended(busy!) && ended(idle!), {
    what: `children ${busy} (busy) and ${idle} (idle) to end with their parent`,
    timeout: ORPHAN_MS,
  });
  assert.ok(performance.now() - t0 < ORPHAN_MS);
});

Deno.test('Pool({ isolation: "process" }) never closed lets the program end, and its workers end with it', async () => {
  const r = await runDeno(
    ["run", "-A", "tests/fixtures/isolation_main.ts", "unclosed-pool"],
    { timeout: 30_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /main done/);
  const workers = /pids ([\d ]+)/.exec(r.stdout)![1]!.split(" ").map(Number);
  await until(() => workers.every(ended), {
    what: `workers ${workers} to end with their program`,
    timeout: ORPHAN_MS,
  });
});

Deno.test('Pool({ isolation: "process" }).join() leaves no zombie: every worker is reaped', async () => {
  const pool = new Pool({ processes: 2, module, isolation });
  const seen = await within(pool.map(pids, [1, 2, 3, 4], 1));
  const workers = [...new Set(seen.map((s) => s.deno))];
  assert.equal(workers.length, 2);
  pool.terminate();
  await within(pool.join());
  for (const pid of workers) {
    assert.ok(!pidExists(pid), `worker ${pid} lives, or is a zombie`);
  }
});

// ---- permissions: the child's own flags ------------------------------------------

Deno.test('Pool({ isolation: "process", permissions: "none" }) makes a child that has no permission at all', async () => {
  await using pool = new Pool({
    processes: 1,
    module,
    isolation,
    permissions: "none",
  });
  const states = await within(pool.apply(permissionStates));
  for (const [name, state] of Object.entries(states)) {
    assert.notEqual(state, "granted", `${name} is granted`);
    assert.doesNotMatch(state, /partial/, `${name} is ${state}`);
  }
  // Asked with --no-prompt: nothing to grant, no prompt.
  const err = await rejectionOf(
    pool.apply(readFile, [`${ROOT_DIR}/deno.json`]),
  );
  assert.ok(err instanceof Deno.errors.NotCapable, String(err));
});

Deno.test('Pool({ isolation: "process", permissions: {...} }) makes a child with exactly those', async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using pool = new Pool({
      processes: 1,
      module,
      isolation,
      permissions: { read: [dir], env: ["HOME"] },
    });
    const states = await within(pool.apply(permissionStates));
    // Lists grant parts: the whole of each is not granted.
    assert.deepEqual(states, {
      read: "prompt",
      write: "denied",
      net: "denied",
      env: "prompt",
      sys: "denied",
      run: "denied",
      ffi: "denied",
      import: "prompt",
    });
    const parts = await within(pool.apply(queryStates, [[
      { name: "read", path: dir },
      { name: "read", path: ROOT_DIR },
      { name: "env", variable: "HOME" },
      { name: "env", variable: "PATH" },
    ]]));
    assert.deepEqual(parts, ["granted", "prompt", "granted", "prompt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test('Pool({ isolation: "process", permissions: "inherit" }) under -A makes a child with every permission', async () => {
  await using pool = new Pool({ processes: 1, module, isolation });
  const states = await within(pool.apply(permissionStates));
  for (const [name, state] of Object.entries(states)) {
    assert.equal(state, "granted", `${name} is ${state}`);
  }
});

Deno.test('Pool({ isolation: "process" }) asking more than the program holds throws NotCapable at once', async () => {
  const r = await runDeno([
    "run",
    "-R",
    "--allow-run",
    "--allow-env",
    "tests/fixtures/isolation_main.ts",
    "escalate",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^caught NotCapable: .*write access.*never gets more/m,
  );
});

Deno.test('Pool({ isolation: "process" }) without permission to run deno gives one clear NotCapable, no prompt', async () => {
  const r = await runDeno([
    "run",
    "-R",
    "tests/fixtures/isolation_main.ts",
    "no-permission",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^caught NotCapable: /m);
  assert.match(r.stdout, /--allow-run/);
  assert.match(r.stdout, /--allow-env/);
  assert.match(r.stdout, /-A/);
  assert.doesNotMatch(r.stderr, /Deno requests/);
});

Deno.test('Pool({ isolation: "process" }) without permission to run deno does not prompt in a terminal', async () => {
  // Under a pseudo-terminal (util-linux's `script`), where Deno would
  // prompt: the library asks nothing and says what to do.
  const run = await runInPty([
    "run",
    "-R",
    "tests/fixtures/isolation_main.ts",
    "no-permission",
  ]);
  assert.equal(run.killed, false, "it ran out of time");
  assert.doesNotMatch(run.output, /Deno requests/, run.output);
  assert.match(run.output, /caught NotCapable: .*--allow-run/);
});

// ---- shared memory does not cross ------------------------------------------------

Deno.test('Process({ isolation: "process" }) refuses a Queue argument with a TypeError naming the way out', () => {
  const queue = new Queue<number>();
  const p = new Process({
    target: square as (...a: unknown[]) => unknown,
    args: [queue],
    module,
    isolation,
  });
  assert.throws(() => p.start(), (err: unknown) => {
    assert.ok(err instanceof TypeError, String(err));
    assert.match(err.message, /args\[0\]/);
    assert.match(err.message, /Queue/);
    assert.match(err.message, /isolation: "thread"/);
    assert.match(err.message, /Manager/);
    return true;
  });
  assert.equal(p.isAlive(), false);
  assert.equal(p.pid, undefined);
});

Deno.test('Pool({ isolation: "process" }).map() rejects a Value item with a TypeError; the pool goes on', async () => {
  await using pool = new Pool({ processes: 1, module, isolation });
  const err = await rejectionOf(
    pool.map(square as (x: unknown) => number, [new Value("i", 1)]),
  );
  assert.ok(err instanceof TypeError, String(err));
  assert.match(err.message, /Value/);
  assert.match(err.message, /isolation: "thread"/);
  assert.deepEqual(await within(pool.map(square, [3])), [9]);
});

// ---- bad input --------------------------------------------------------------------

Deno.test("Process() and Pool() refuse an isolation other than thread or process, listing both", () => {
  for (const value of ["threads", "", "worker", 1, null, true]) {
    for (
      const make of [
        () =>
          new Process({
            target: square,
            module,
            isolation: value as "thread",
          }),
        () => new Pool({ module, isolation: value as "thread" }),
      ]
    ) {
      assert.throws(make, (err: unknown) => {
        assert.ok(err instanceof TypeError, `${value}: ${err}`);
        assert.match(err.message, /"isolation"/);
        assert.match(err.message, /"thread"/);
        assert.match(err.message, /"process"/);
        return true;
      });
    }
  }
});

Deno.test('Pool({ isolation: "process" }) whose worker cannot start rejects with a ProcessError saying so, and does not restart it', async () => {
  // A stack limit too small for Deno to start: the child ends before it
  // runs any code (Deno reports a panic on stderr), as it would with bad
  // flags.
  await using pool = new Pool({
    processes: 2,
    module,
    isolation,
    resourceLimits: { stackSizeMb: 0.02 },
  });
  const t0 = performance.now();
  const err = await rejectionOf(pool.map(square, [1, 2, 3, 4, 5, 6], 1));
  assert.ok(err instanceof ProcessError, String(err));
  assert.equal(err.code, "ERR_WORKER_START");
  assert.match(err.message, /before it ran any code/);
  assert.match(err.message, /--stack-size=20/);
  // The pool is broken: the next call rejects at once, no worker starts.
  await assert.rejects(within(pool.map(square, [1]), 1_000), ProcessError);
  assert.ok(performance.now() - t0 < 20_000);
});

Deno.test('Pool({ isolation: "process", permissions: "inherit" }) in a program with partial grants gives the child exactly those', async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    await Deno.writeTextFile(`${dir}/inside.txt`, "inside");
    const r = await runDeno([
      "run",
      "--no-prompt",
      `--allow-read=${ROOT_DIR},${dir}`,
      "--allow-env",
      `--allow-run=${Deno.execPath()}`,
      "--allow-net=127.0.0.1:9",
      "tests/fixtures/inherit_main.ts",
      dir,
    ], { timeout: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    const line = /^child (.*)$/m.exec(r.stdout);
    assert.ok(line, r.stdout + r.stderr);
    const seen = JSON.parse(line[1]!);
    // Whole: env only. Lists: read, run, net. Nothing else. (With a run
    // grant, Deno shows a --deny-ed permission as "prompt": not granted,
    // and never asked under --no-prompt.)
    const { whole, parts } = seen as {
      whole: Record<string, string>;
      parts: string[];
    };
    assert.equal(whole.env, "granted");
    for (const name of ["read", "net", "run"]) {
      assert.equal(whole[name], "prompt", `${name}: ${Deno.inspect(whole)}`);
    }
    for (const name of ["write", "sys", "ffi", "import"]) {
      assert.notEqual(whole[name], "granted", `${name} is granted`);
    }
    assert.deepEqual(parts.map((p) => p === "granted"), [
      true, // read inside dir
      false, // read /etc
      true, // run deno
      false, // run ls
      true, // net 127.0.0.1:9
      false, // net 127.0.0.1:10
      false, // write inside dir
    ]);
    assert.equal(seen.inside, "inside");
    assert.equal(seen.outside, "NotCapable");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---- native crashes ----------------------------------------------------------------

const crashModule = fixture("crash_targets.ts");

for (
  const [how, target, code] of [
    ["SIGABRT sent to itself", selfAbort, -6],
    ["a segmentation fault in native code (FFI)", segfault, -11],
  ] as const
) {
  Deno.test(`isolation "process": ${how} ends the Process with exitCode ${code}, and fails only its pool task; a new worker replaces it`, async () => {
    const p = new Process({ target, module: crashModule, isolation });
    p.start();
    await finish(p);
    assert.equal(p.exitCode, code);
    await using pool = new Pool({
      processes: 1,
      module: crashModule,
      isolation,
    });
    const before = await within(pool.apply(ownPid));
    const err = await rejectionOf(pool.apply(target));
    assert.ok(err instanceof ProcessError, String(err));
    assert.equal(err.exitCode, code);
    // The message names the worker, how it ended and the task it ran.
    assert.match(err.message, new RegExp(`exit code ${code}`));
    assert.match(err.message, new RegExp(target.name));
    assert.match(err.message, /replaced it/);
    const after = await within(pool.apply(ownPid));
    assert.notEqual(after, before, "the worker was not replaced");
    assert.ok(!pidExists(before), `the crashed worker ${before} lives on`);
    assert.deepEqual(await within(pool.map(square2, [2, 3])), [4, 9]);
  });
}
