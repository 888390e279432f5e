// Behaviour of Process: lifecycle, exit codes, error, names, pids, daemons;
// under each isolation (a thread, an OS process).
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
  ISOLATIONS,
  Listener,
  pidExists,
  receive,
  runDeno,
  scopedFor,
  until,
  within,
} from "../fixtures/harness.ts";

const module = fixture("targets.ts");
/** What the subprocess fixtures take: all of the program's permissions, or
 * none. */
const PERMISSIONS = ["inherit", "none"] as const;

// ---- exit codes, for every kind of worker ------------------------------------
// A thread with the program's permissions, a scoped thread (a web Worker),
// and an OS process with the program's permissions or scoped ones. A scoped
// process that must report to a Listener may use its socket, and nothing
// else (see scopedFor()).

for (const isolation of ISOLATIONS) {
  for (const scoped of [false, true]) {
    const tag = `(isolation "${isolation}", permissions "${
      scoped ? "scoped" : "inherit"
    }")`;
    /** The permissions of this run, for a worker that reports to `l`. */
    const perms = (l?: Listener) =>
      scoped ? scopedFor(isolation, l) : "inherit";
    const permissions = perms();

    Deno.test(`Process.exitCode is 0 after the target returns ${tag}`, async () => {
      const p = new Process({ target: noop, module, permissions, isolation });
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
        isolation,
      });
      p.start();
      await finish(p);
      assert.equal(p.exitCode, 1);
    });

    Deno.test(`Process.exitCode is 1 after an async target rejects ${tag}`, async () => {
      const p = new Process({
        target: rejectLater,
        module,
        permissions,
        isolation,
      });
      p.start();
      await finish(p);
      assert.equal(p.exitCode, 1);
      assert.ok(p.error instanceof Error);
      assert.equal(p.error.message, "async failure");
    });

    Deno.test(`Process.exitCode is 1 after an error thrown later from a timer ${tag}`, async () => {
      // The target itself would sleep 5 s: the timer's error must end it.
      const p = new Process({
        target: uncaughtLater,
        module,
        permissions,
        isolation,
      });
      const t0 = performance.now();
      p.start();
      await finish(p, 4_000);
      assert.equal(p.exitCode, 1);
      assert.ok(p.error instanceof Error);
      assert.equal(p.error.message, "from a timer");
      assert.ok(performance.now() - t0 < 4_000);
    });

    Deno.test(`Process.exitCode is n after the library's exit(n) ${tag}`, async () => {
      const p = new Process({
        target: callExit,
        args: [3],
        module,
        permissions,
        isolation,
      });
      const q = new Process({
        target: sleepThenExit,
        args: [50, 0],
        module,
        permissions,
        isolation,
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
        isolation,
      });
      p.start();
      await finish(p);
      assert.equal(p.exitCode, 4);
      assert.equal(p.error, undefined);
    });

    for (const [method, code] of [["terminate", -15], ["kill", -9]] as const) {
      Deno.test(`Process.${method}() ends the worker now with exitCode ${code} ${tag}`, async () => {
        using ticks = new Listener(isolation);
        const p = new Process({
          target: ticker,
          args: [ticks.name, 50],
          module,
          permissions: perms(ticks),
          isolation,
        });
        p.start();
        assert.equal(await receive(ticks, p), 0); // it runs
        const joined = p.join();
        p[method]();
        await within(joined, 5_000); // join() resolves
        assert.equal(p.isAlive(), false);
        assert.equal(p.exitCode, code);
        assert.equal(p.error, undefined);
        // An OS process is gone (reaped) once joined.
        if (isolation === "process") assert.ok(!pidExists(p.pid!), "pid lives");
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
        isolation,
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
      const p = new Process({
        target: throwCustom,
        module,
        permissions,
        isolation,
      });
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
      const p = new Process({
        target: throwString,
        module,
        permissions,
        isolation,
      });
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
      using reports = new Listener(isolation);
      const p = makeProcess(reports.name, perms(reports), isolation);
      p.start();
      const seen = await receive(reports, p);
      await finish(p);
      assert.equal(p.exitCode, 0);
      assert.deepEqual(seen, { ranIn: p.name, importedBy: p.name });
    });

    Deno.test(`Process.start() passes structured-cloned args to the target ${tag}`, async () => {
      using echo = new Listener(isolation);
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
        permissions: perms(echo),
        isolation,
      });
      p.start();
      const got = await receive(echo, p);
      await finish(p);
      assert.deepEqual(got, args);
      assert.equal(p.exitCode, 0);
    });
  }
}

// ---- lifecycle -------------------------------------------------------------

for (const isolation of ISOLATIONS) {
  const tag = `(isolation "${isolation}")`;

  Deno.test(`Process.start() runs an async target until it settles ${tag}`, async () => {
    const p = new Process({ target: sleep, args: [400], module, isolation });
    const t0 = performance.now();
    p.start();
    await finish(p);
    assert.ok(performance.now() - t0 >= 390, "ended before its target settled");
    assert.equal(p.exitCode, 0);
  });

  Deno.test(`Process.start() throws when called a second time ${tag}`, async () => {
    const p = new Process({ target: sleep, args: [200], module, isolation });
    p.start();
    assert.throws(() => p.start(), Error);
    await finish(p);
    assert.throws(() => p.start(), Error);
    assert.equal(p.exitCode, 0);
  });

  Deno.test(`Process.join() rejects before start() ${tag}`, async () => {
    const p = new Process({ target: noop, module, isolation });
    await assert.rejects(p.join(), Error);
    await assert.rejects(p.join(10), Error);
    assert.equal(p.isAlive(), false);
  });

  Deno.test(`Process.join() resolves after the timeout with the process still running ${tag}`, async () => {
    const p = new Process({ target: sleep, args: [30_000], module, isolation });
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

  Deno.test(`Process.join() resolves at once for a process that has ended ${tag}`, async () => {
    const p = new Process({ target: noop, module, isolation });
    p.start();
    await finish(p);
    await within(p.join(), 100);
    await within(p.join(60_000), 100);
  });

  Deno.test(`Process.isAlive() is false before start(), true while running, false after ${tag}`, async () => {
    const p = new Process({ target: sleep, args: [300], module, isolation });
    assert.equal(p.isAlive(), false);
    p.start();
    assert.equal(p.isAlive(), true);
    await p.join(100);
    assert.equal(p.isAlive(), true);
    await finish(p);
    assert.equal(p.isAlive(), false);
  });

  Deno.test(`Process.exitCode is null before start() and while running ${tag}`, async () => {
    const p = new Process({ target: sleep, args: [300], module, isolation });
    assert.equal(p.exitCode, null);
    p.start();
    assert.equal(p.exitCode, null);
    await p.join(100);
    assert.equal(p.exitCode, null);
    await finish(p);
    assert.equal(p.exitCode, 0);
  });

  Deno.test(`Process.pid is undefined before start() and a unique positive integer after ${tag}`, async () => {
    const ps = [1, 2, 3].map(() =>
      new Process({ target: noop, module, isolation })
    );
    for (const p of ps) assert.equal(p.pid, undefined);
    for (const p of ps) p.start();
    for (const p of ps) await finish(p);
    const pids = ps.map((p) => p.pid);
    for (const pid of pids) {
      assert.ok(Number.isInteger(pid) && pid! > 0, `bad pid ${pid}`);
      // A thread's id is above every OS pid; a process's pid is its OS pid.
      if (isolation === "thread") assert.ok(pid! > 2 ** 22, `thread id ${pid}`);
      else assert.ok(pid! < 2 ** 22, `OS pid ${pid}`);
    }
    assert.equal(new Set(pids).size, 3, `pids not unique: ${pids}`);
    // It stays after the end.
    assert.equal(ps[0]!.pid, pids[0]);
  });

  Deno.test(`new Process() names processes "Process-<n>" with n counting up ${tag}`, () => {
    const a = new Process({ target: noop, module, isolation });
    const b = new Process({ target: noop, module, isolation });
    const m = /^Process-(\d+)$/.exec(a.name);
    assert.ok(m, `default name ${a.name}`);
    assert.equal(b.name, `Process-${Number(m[1]) + 1}`);
  });

  Deno.test(`new Process() uses the "name" and "daemon" options ${tag}`, () => {
    const p = new Process({
      target: noop,
      module,
      name: "worker-a",
      isolation,
    });
    assert.equal(p.name, "worker-a");
    assert.equal(p.daemon, false);
    const d = new Process({ target: noop, module, daemon: true, isolation });
    assert.equal(d.daemon, true);
  });

  Deno.test(`Process.daemon can be set before start() and not after ${tag}`, async () => {
    const p = new Process({ target: noop, module, isolation });
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

  Deno.test(`Process.join() waits for a daemon process ${tag}`, async () => {
    const p = new Process({
      target: sleep,
      args: [300],
      module,
      daemon: true,
      isolation,
    });
    const t0 = performance.now();
    p.start();
    await finish(p);
    assert.ok(performance.now() - t0 >= 290);
    assert.equal(p.exitCode, 0);
  });

  Deno.test(`Process.close() throws while running and works after the end ${tag}`, async () => {
    const p = new Process({ target: sleep, args: [200], module, isolation });
    p.start();
    assert.throws(() => p.close(), Error);
    assert.equal(p.isAlive(), true);
    await finish(p);
    p.close();
    assert.throws(() => p.start(), Error);
    assert.equal(p.exitCode, 0);
  });

  Deno.test(`Process.terminate() before the worker finished loading ends it ${tag}`, async () => {
    const p = new Process({ target: sleep, args: [30_000], module, isolation });
    p.start();
    p.terminate();
    await within(p.join(), 5_000);
    assert.equal(p.isAlive(), false);
    assert.equal(p.exitCode, -15);
  });

  Deno.test(`Process.terminate() after the end changes nothing ${tag}`, async () => {
    const p = new Process({ target: callExit, args: [2], module, isolation });
    p.start();
    await finish(p);
    p.terminate();
    p.kill();
    assert.equal(p.exitCode, 2);
  });
}

// ---- daemons and program exit (subprocesses) ---------------------------------

for (const isolation of ISOLATIONS) {
  for (const permissions of PERMISSIONS) {
    const tag = `(isolation "${isolation}", permissions "${permissions}")`;
    // An OS process needs the program to run deno and pass on its
    // environment; a scoped thread, the unstable flag (in deno.json).
    const flags = isolation === "process" ? ["-A"] : ["-R"];
    const args = (kind: string) => [
      "run",
      ...flags,
      "tests/fixtures/daemon.ts",
      kind,
      permissions,
      isolation,
    ];

    Deno.test(`Process.start() of a daemon does not keep the program alive ${tag}`, async () => {
      // daemon.ts starts a daemon that sleeps 20 s and never joins it.
      const r = await runDeno(args("daemon"), { timeout: 15_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.ms < 8_000, `program took ${r.ms} ms`);
      assert.equal(r.stdout, "main done\n");
      if (isolation === "process") {
        // It ends with the program (it sleeps 20 s otherwise).
        const pid = Number(/child pid (\d+)/.exec(r.stderr)?.[1]);
        assert.ok(pid > 0, r.stderr);
        await until(() => !pidExists(pid), {
          what: `daemon child ${pid} to end with its program`,
          timeout: 5_000,
        });
      }
    });

    Deno.test(`Process.start() of a non-daemon keeps the program alive until it ends ${tag}`, async () => {
      // daemon.ts starts a non-daemon that sleeps 1.5 s, prints, and never
      // joins it: the program must wait for it.
      const r = await runDeno(args("nondaemon"), { timeout: 15_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "main done\nchild done\n");
      assert.ok(r.ms >= 1_500, `program took ${r.ms} ms`);
    });
  }
}
