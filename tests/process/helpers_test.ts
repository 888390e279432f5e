// The helpers: currentProcess(), parentProcess(), activeChildren(),
// cpuCount(), exit(), and the error classes.
import assert from "node:assert/strict";
import {
  activeChildren,
  cpuCount,
  currentProcess,
  exit,
  parentProcess,
  Process,
  ProcessError,
  TimeoutError,
} from "@parallel/multiprocessing";
import { noop, report, sleep, startChild } from "../fixtures/targets.ts";
import {
  finish,
  fixture,
  ISOLATIONS,
  Listener,
  receive,
  runDeno,
  scopedFor,
} from "../fixtures/harness.ts";

const module = fixture("targets.ts");

interface Info {
  name: string;
  pid: number;
  daemon: boolean;
}
interface Report {
  current: Info;
  parent: Info | null;
  /** Deno.pid where the report was made. */
  osPid: number;
}

Deno.test('currentProcess() is "MainProcess" in the main program', () => {
  const me = currentProcess();
  assert.equal(me.name, "MainProcess");
  assert.equal(me.daemon, false);
  assert.ok(Number.isInteger(me.pid) && me.pid > 0, `pid ${me.pid}`);
});

Deno.test("parentProcess() is null in the main program", () => {
  assert.equal(parentProcess(), null);
});

for (const isolation of ISOLATIONS) {
  for (const scoped of [false, true]) {
    Deno.test(
      `currentProcess() and parentProcess() describe the worker and the main program (isolation "${isolation}", permissions "${
        scoped ? "scoped" : "inherit"
      }")`,
      async () => {
        using reports = new Listener(isolation);
        const p = new Process({
          target: report,
          args: [reports.name],
          module,
          name: "reporter",
          daemon: true,
          permissions: scoped ? scopedFor(isolation, reports) : "inherit",
          isolation,
        });
        p.start();
        const got = await receive(reports, p) as Report;
        await finish(p);
        assert.equal(p.exitCode, 0);
        assert.deepEqual(got.current, {
          name: "reporter",
          pid: p.pid,
          daemon: true,
        });
        assert.deepEqual(got.parent, currentProcess());
        // A thread shares the program's OS process; a child has its own.
        if (isolation === "thread") assert.equal(got.osPid, Deno.pid);
        else assert.equal(got.osPid, p.pid);
      },
    );
  }
}

for (const isolation of ISOLATIONS) {
  Deno.test(`parentProcess() in a grandchild is the child that started it (isolation "${isolation}")`, async () => {
    using reports = new Listener(isolation);
    // The child starts a grandchild (a thread) running report().
    const child = new Process({
      target: startChild,
      args: [reports.name],
      module,
      name: "child",
      isolation,
    });
    child.start();
    const got = await receive(reports, child) as Report;
    await finish(child);
    assert.equal(child.exitCode, 0);
    assert.deepEqual(got.parent, {
      name: "child",
      pid: child.pid,
      daemon: false,
    });
    assert.notEqual(got.current.name, "child");
    assert.ok(got.current.pid > 0 && got.current.pid !== child.pid);
    // A thread's id is above every OS pid, so never a live child's pid.
    assert.ok(got.current.pid > 2 ** 22, `thread id ${got.current.pid}`);
  });
}

for (const isolation of ISOLATIONS) {
  Deno.test(`activeChildren() lists running processes and not ended ones (isolation "${isolation}")`, async () => {
    const running = new Process({
      target: sleep,
      args: [30_000],
      module,
      isolation,
    });
    const ended = new Process({ target: noop, module, isolation });
    assert.ok(!activeChildren().includes(running), "listed before start()");
    running.start();
    ended.start();
    try {
      await finish(ended);
      const now = activeChildren();
      assert.ok(now.includes(running), "a running process is not listed");
      assert.ok(!now.includes(ended), "an ended process is listed");
    } finally {
      running.terminate();
    }
    await finish(running);
    assert.ok(!activeChildren().includes(running), "listed after terminate()");
  });
}

Deno.test("cpuCount() is a positive integer", () => {
  const n = cpuCount();
  assert.ok(Number.isInteger(n) && n >= 1, `cpuCount() ${n}`);
});

Deno.test("exit() throws a TypeError for a code that is not an integer", () => {
  assert.throws(() => exit(1.5), TypeError);
  assert.throws(() => exit("1" as unknown as number), TypeError);
});

Deno.test("exit() in the main program ends it with that code", async () => {
  const r = await runDeno(["run", "tests/fixtures/exit_main.ts"]);
  assert.equal(r.code, 7, r.stderr);
  assert.equal(r.stdout, "before\n");
});

Deno.test("TimeoutError() and ProcessError() are named Error subclasses", () => {
  const t = new TimeoutError("late");
  assert.ok(t instanceof Error);
  assert.equal(t.name, "TimeoutError");
  assert.equal(t.message, "late");
  const cause = new Error("why");
  const p = new ProcessError("gone", {
    processName: "P",
    exitCode: 3,
    code: "E_X",
    cause,
  });
  assert.ok(p instanceof Error);
  assert.equal(p.name, "ProcessError");
  assert.equal(p.processName, "P");
  assert.equal(p.exitCode, 3);
  assert.equal(p.code, "E_X");
  assert.equal(p.cause, cause);
});
