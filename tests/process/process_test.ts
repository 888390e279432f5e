// Behaviour of Process: lifecycle, exit codes, error, names, pids, daemons.
import assert from "node:assert/strict";
import { Process } from "@parallel/multiprocessing";
import {
  callDenoExit,
  callExit,
  echoArgs,
  noop,
  rejectLater,
  sleep,
  sleepThenExit,
  throwCustom,
  throwRange,
  throwString,
  ticker,
  uncaughtLater,
} from "../fixtures/targets.ts";
import { makeProcess } from "../fixtures/call_site.ts";
import {
  delay,
  finish,
  fixture,
  Listener,
  receive,
  runDeno,
  within,
} from "../fixtures/harness.ts";

const module = fixture("targets.ts");
const PERMISSIONS = ["inherit", "none"] as const;

// ---- exit codes, for both kinds of worker ----------------------------------

for (const permissions of PERMISSIONS) {
  const tag = `(permissions "${permissions}")`;

  Deno.test(`Process.exitCode is 0 after the target returns ${tag}`, async () => {
    const p = new Process({ target: noop, module, permissions });
    p.start();
    await finish(p);
    assert.equal(p.exitCode, 0);
    assert.equal(p.error, undefined);
  });

  Deno.test(`Process.exitCode is 1 after the target throws ${tag}`, async () => {
    const p = new Process({
      target: throwRange,
      args: ["sync"],
      module,
      permissions,
    });
    p.start();
    await finish(p);
    assert.equal(p.exitCode, 1);
  });

  Deno.test(`Process.exitCode is 1 after an async target rejects ${tag}`, async () => {
    const p = new Process({ target: rejectLater, module, permissions });
    p.start();
    await finish(p);
    assert.equal(p.exitCode, 1);
    assert.ok(p.error instanceof Error);
    assert.equal(p.error.message, "async failure");
  });

  Deno.test(`Process.exitCode is 1 after an error thrown later from a timer ${tag}`, async () => {
    // The target itself would sleep 5 s: the timer's error must end it.
    const p = new Process({ target: uncaughtLater, module, permissions });
    const t0 = performance.now();
    p.start();
    await finish(p, 4_000);
    assert.equal(p.exitCode, 1);
    assert.ok(p.error instanceof Error);
    assert.equal(p.error.message, "from a timer");
    assert.ok(performance.now() - t0 < 4_000);
  });

  Deno.test(`Process.exitCode is n after the library's exit(n) ${tag}`, async () => {
    const p = new Process({ target: callExit, args: [3], module, permissions });
    const q = new Process({
      target: sleepThenExit,
      args: [50, 0],
      module,
      permissions,
    });
    p.start();
    q.start();
    await finish(p);
    await finish(q);
    assert.equal(p.exitCode, 3);
    assert.equal(p.error, undefined);
    assert.equal(q.exitCode, 0);
  });

  Deno.test(`Process.exitCode is n after a bare Deno.exit(n) ${tag}`, async () => {
    const p = new Process({
      target: callDenoExit,
      args: [4],
      module,
      permissions,
    });
    p.start();
    await finish(p);
    assert.equal(p.exitCode, 4);
    assert.equal(p.error, undefined);
  });

  for (const [method, code] of [["terminate", -15], ["kill", -9]] as const) {
    Deno.test(`Process.${method}() ends the worker now with exitCode ${code} ${tag}`, async () => {
      using ticks = new Listener();
      const p = new Process({
        target: ticker,
        args: [ticks.name, 50],
        module,
        permissions,
      });
      p.start();
      assert.equal(await receive(ticks, p), 0); // it runs
      const joined = p.join();
      p[method]();
      await within(joined, 5_000); // join() resolves
      assert.equal(p.isAlive(), false);
      assert.equal(p.exitCode, code);
      assert.equal(p.error, undefined);
      // Deliberate: the target really stopped, so no tick comes in 400 ms
      // after a grace period for ticks already on their way.
      await delay(200);
      ticks.drain();
      await delay(400);
      assert.equal(ticks.drain(), 0, "the target still runs after " + method);
    });
  }

  // ---- error -----------------------------------------------------------------

  Deno.test(`Process.error keeps the class, message, remote stack and cause ${tag}`, async () => {
    const p = new Process({
      target: throwRange,
      args: ["out of range"],
      module,
      permissions,
    });
    p.start();
    await finish(p);
    const err = p.error;
    assert.ok(err instanceof RangeError, `not a RangeError: ${err}`);
    assert.equal(err.name, "RangeError");
    assert.equal(err.message, "out of range");
    assert.match(err.stack ?? "", /throwRange/);
    assert.match(err.stack ?? "", /fixtures\/targets\.ts:\d+:\d+/);
    assert.ok(err.cause instanceof TypeError, `cause: ${err.cause}`);
    assert.equal(err.cause.message, "inner");
  });

  Deno.test(`Process.error keeps a custom error's name and code ${tag}`, async () => {
    const p = new Process({ target: throwCustom, module, permissions });
    p.start();
    await finish(p);
    const err = p.error as Error & { code?: unknown };
    assert.ok(err instanceof Error);
    assert.equal(err.name, "CustomError");
    assert.equal(err.message, "custom");
    assert.equal(err.code, "E_CUSTOM");
    assert.equal(p.exitCode, 1);
  });

  Deno.test(`Process.error is the thrown value when it is not an Error ${tag}`, async () => {
    const p = new Process({ target: throwString, module, permissions });
    p.start();
    await finish(p);
    assert.equal(p.exitCode, 1);
    assert.equal(p.error, "plain string");
  });

  // ---- the calling module as the default module ------------------------------

  Deno.test(`new Process() defaults "module" to the calling module ${tag}`, async () => {
    // call_site.ts constructs the process without "module": the worker must
    // import call_site.ts (its top level runs in the worker) and find the
    // target there.
    using reports = new Listener();
    const p = makeProcess(reports.name, permissions);
    p.start();
    const seen = await receive(reports, p);
    await finish(p);
    assert.equal(p.exitCode, 0);
    assert.deepEqual(seen, { ranIn: p.name, importedBy: p.name });
  });

  Deno.test(`Process.start() passes structured-cloned args to the target ${tag}`, async () => {
    using echo = new Listener();
    const date = new Date(0);
    const args = [
      1,
      "two",
      { three: [3n] },
      new Map([["k", new Set([1])]]),
      date,
      undefined,
    ];
    const p = new Process({
      target: echoArgs,
      args: [echo.name, ...args],
      module,
      permissions,
    });
    p.start();
    const got = await receive(echo, p);
    await finish(p);
    assert.deepEqual(got, args);
    assert.equal(p.exitCode, 0);
  });
}

// ---- lifecycle -------------------------------------------------------------

Deno.test("Process.start() runs an async target until it settles", async () => {
  const p = new Process({ target: sleep, args: [400], module });
  const t0 = performance.now();
  p.start();
  await finish(p);
  assert.ok(performance.now() - t0 >= 390, "ended before its target settled");
  assert.equal(p.exitCode, 0);
});

Deno.test("Process.start() throws when called a second time", async () => {
  const p = new Process({ target: sleep, args: [200], module });
  p.start();
  assert.throws(() => p.start(), Error);
  await finish(p);
  assert.throws(() => p.start(), Error);
  assert.equal(p.exitCode, 0);
});

Deno.test("Process.join() rejects before start()", async () => {
  const p = new Process({ target: noop, module });
  await assert.rejects(p.join(), Error);
  await assert.rejects(p.join(10), Error);
  assert.equal(p.isAlive(), false);
});

Deno.test("Process.join() resolves after the timeout with the process still running", async () => {
  const p = new Process({ target: sleep, args: [30_000], module });
  p.start();
  try {
    const t0 = performance.now();
    await within(p.join(300), 5_000);
    const took = performance.now() - t0;
    assert.ok(took >= 290, `join(300) resolved after ${took} ms`);
    assert.equal(p.isAlive(), true);
    assert.equal(p.exitCode, null);
  } finally {
    p.terminate();
  }
  await finish(p);
  assert.equal(p.exitCode, -15);
});

Deno.test("Process.join() resolves at once for a process that has ended", async () => {
  const p = new Process({ target: noop, module });
  p.start();
  await finish(p);
  await within(p.join(), 100);
  await within(p.join(60_000), 100);
});

Deno.test("Process.isAlive() is false before start(), true while running, false after", async () => {
  const p = new Process({ target: sleep, args: [300], module });
  assert.equal(p.isAlive(), false);
  p.start();
  assert.equal(p.isAlive(), true);
  await p.join(100);
  assert.equal(p.isAlive(), true);
  await finish(p);
  assert.equal(p.isAlive(), false);
});

Deno.test("Process.exitCode is null before start() and while running", async () => {
  const p = new Process({ target: sleep, args: [300], module });
  assert.equal(p.exitCode, null);
  p.start();
  assert.equal(p.exitCode, null);
  await p.join(100);
  assert.equal(p.exitCode, null);
  await finish(p);
  assert.equal(p.exitCode, 0);
});

Deno.test("Process.pid is undefined before start() and a unique positive integer after", async () => {
  const ps = [1, 2, 3].map(() => new Process({ target: noop, module }));
  for (const p of ps) assert.equal(p.pid, undefined);
  for (const p of ps) p.start();
  for (const p of ps) await finish(p);
  const pids = ps.map((p) => p.pid);
  for (const pid of pids) {
    assert.ok(Number.isInteger(pid) && pid! > 0, `bad pid ${pid}`);
  }
  assert.equal(new Set(pids).size, 3, `pids not unique: ${pids}`);
  // It stays after the end.
  assert.equal(ps[0]!.pid, pids[0]);
});

Deno.test('new Process() names processes "Process-<n>" with n counting up', () => {
  const a = new Process({ target: noop, module });
  const b = new Process({ target: noop, module });
  const m = /^Process-(\d+)$/.exec(a.name);
  assert.ok(m, `default name ${a.name}`);
  assert.equal(b.name, `Process-${Number(m[1]) + 1}`);
});

Deno.test('new Process() uses the "name" and "daemon" options', () => {
  const p = new Process({ target: noop, module, name: "worker-a" });
  assert.equal(p.name, "worker-a");
  assert.equal(p.daemon, false);
  const d = new Process({ target: noop, module, daemon: true });
  assert.equal(d.daemon, true);
});

Deno.test("Process.daemon can be set before start() and not after", async () => {
  const p = new Process({ target: noop, module });
  p.daemon = true;
  assert.equal(p.daemon, true);
  p.daemon = false;
  assert.equal(p.daemon, false);
  p.start();
  assert.throws(() => {
    p.daemon = true;
  }, Error);
  assert.equal(p.daemon, false);
  await finish(p);
  assert.throws(() => {
    p.daemon = true;
  }, Error);
  assert.equal(p.daemon, false);
});

Deno.test("Process.join() waits for a daemon process", async () => {
  const p = new Process({ target: sleep, args: [300], module, daemon: true });
  const t0 = performance.now();
  p.start();
  await finish(p);
  assert.ok(performance.now() - t0 >= 290);
  assert.equal(p.exitCode, 0);
});

Deno.test("Process.close() throws while running and works after the end", async () => {
  const p = new Process({ target: sleep, args: [200], module });
  p.start();
  assert.throws(() => p.close(), Error);
  assert.equal(p.isAlive(), true);
  await finish(p);
  p.close();
  assert.throws(() => p.start(), Error);
  assert.equal(p.exitCode, 0);
});

Deno.test("Process.terminate() before the worker finished loading ends it", async () => {
  const p = new Process({ target: sleep, args: [30_000], module });
  p.start();
  p.terminate();
  await within(p.join(), 5_000);
  assert.equal(p.isAlive(), false);
  assert.equal(p.exitCode, -15);
});

Deno.test("Process.terminate() after the end changes nothing", async () => {
  const p = new Process({ target: callExit, args: [2], module });
  p.start();
  await finish(p);
  p.terminate();
  p.kill();
  assert.equal(p.exitCode, 2);
});

// ---- daemons and program exit (subprocesses) ---------------------------------

for (const permissions of PERMISSIONS) {
  const tag = `(permissions "${permissions}")`;

  Deno.test(`Process.start() of a daemon does not keep the program alive ${tag}`, async () => {
    // daemon.ts starts a daemon that sleeps 20 s and never joins it.
    const r = await runDeno(
      ["run", "-R", "tests/fixtures/daemon.ts", "daemon", permissions],
      { timeout: 15_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.ms < 8_000, `program took ${r.ms} ms`);
    assert.equal(r.stdout, "main done\n");
  });

  Deno.test(`Process.start() of a non-daemon keeps the program alive until it ends ${tag}`, async () => {
    // daemon.ts starts a non-daemon that sleeps 1.5 s, prints, and never
    // joins it: the program must wait for it.
    const r = await runDeno(
      ["run", "-R", "tests/fixtures/daemon.ts", "nondaemon", permissions],
      { timeout: 15_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "main done\nchild done\n");
    assert.ok(r.ms >= 1_500, `program took ${r.ms} ms`);
  });
}
