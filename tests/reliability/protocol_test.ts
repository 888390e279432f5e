// A worker with scoped permissions that breaks the library's protocol: its
// code captures the port to the main side (or uses its own global scope)
// and sends forged messages. The main program keeps running, every call
// settles, a malformed message ends only its worker (a ProcessError with
// code "ERR_WORKER_PROTOCOL"), and the pool replaces it. A well-formed
// forgery settles its call and the pool goes on. Nothing stalls the main
// thread (a forged count is never allocated).
//
// The same attacks run under both isolations. In a child OS process
// (isolation: "process") the channel is the IPC channel, on which hostile
// code writes with node:process's `send`, past the library's checks; the
// tests at the end are what only such a channel allows (closing it while
// the process lives on, control messages, floods, sizes).
import { allowWorkerUnref } from "../../lib/_engine/web_spawn.ts";
import assert from "node:assert/strict";
import { Process, ProcessError } from "@parallel/multiprocessing";
import {
  CHANNEL_FORGERIES,
  CHANNEL_HARMLESS,
  disconnectAndLinger,
  flood,
  forgeOnChannel,
  forgeOnPort,
  forgeOnPortAndWait,
  forgeOnScope,
  forgeOnScopeAndWait,
  FORGERIES,
  inc,
  lieAboutExit,
  nap,
  ownPid,
  WELL_FORMED,
} from "./fixtures/protocol_targets.ts";
import {
  ISOLATIONS,
  openPool,
  pidExists,
  rejectionOf,
  until,
  watchTimers,
  within,
} from "../fixtures/harness.ts";

const module = new URL("./fixtures/protocol_targets.ts", import.meta.url);
/** A malformed message must settle its call well within this (ms). */
const SETTLE_MS = 10_000;
/** The longest the main thread's timer may be late while a forged message
 * is handled (a forged count of 1e9 stalled it for 15 s before). */
const MAX_TIMER_GAP_MS = 1_000;

function assertProtocolError(err: unknown, what: string): void {
  assert.ok(err instanceof ProcessError, `${what}: ${Deno.inspect(err)}`);
  assert.equal(err.code, "ERR_WORKER_PROTOCOL", what);
  assert.match(err.message, /sent a malformed message/, what);
  assert.equal(err.exitCode, 1, what);
}

for (const isolation of ISOLATIONS) {
  Deno.test(`${isolation}: a scoped pool worker that sends a malformed message is ended with ERR_WORKER_PROTOCOL and replaced`, async () => {
    const pool = openPool({
      processes: 1,
      module,
      permissions: "none",
      isolation,
    });
    try {
      for (const name of Object.keys(FORGERIES)) {
        const timers = watchTimers();
        const err = await rejectionOf(
          pool.apply(forgeOnPort, [name, 1]),
          SETTLE_MS,
        );
        const gap = timers.stop();
        assertProtocolError(err, name);
        assert.ok(
          gap < MAX_TIMER_GAP_MS,
          `${name}: main thread stalled ${gap} ms`,
        );
        // The pool replaced the worker and goes on.
        assert.equal(await within(pool.apply(inc, [1]), SETTLE_MS, name), 2);
      }
      console.log(
        `malformed messages, each ending its worker: ${
          Object.keys(FORGERIES).length
        }`,
      );
    } finally {
      pool.close();
      await within(pool.join(), SETTLE_MS, "join");
    }
  });

  Deno.test(`${isolation}: a well-formed forged message settles its call and the pool goes on`, async () => {
    const pool = openPool({
      processes: 1,
      module,
      permissions: "none",
      isolation,
    });
    try {
      const stale = await within(
        pool.apply(forgeOnPort, ["staleResult", 5]),
        SETTLE_MS,
      );
      assert.equal(stale, 5, "a result for no chunk in flight is ignored");
      for (const name of Object.keys(WELL_FORMED)) {
        if (name === "staleResult") continue;
        const timers = watchTimers();
        const err = await rejectionOf(
          pool.apply(forgeOnPort, [name, 1]),
          SETTLE_MS,
        );
        const gap = timers.stop();
        assert.ok(err instanceof Error, `${name}: ${Deno.inspect(err)}`);
        assert.ok(
          gap < MAX_TIMER_GAP_MS,
          `${name}: main thread stalled ${gap} ms`,
        );
        assert.equal(await within(pool.apply(inc, [1]), SETTLE_MS, name), 2);
      }
      // A forged "__proto__" property changes no prototype.
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(
        (Object.prototype as Record<string, unknown>).polluted,
        undefined,
      );
    } finally {
      pool.close();
      await within(pool.join(), SETTLE_MS, "join");
    }
  });

  Deno.test(`${isolation}: postMessage(null) on a scoped pool worker's global scope (a child's channel) ends it, not the program`, async () => {
    const pool = openPool({
      processes: 2,
      module,
      permissions: "none",
      isolation,
    });
    try {
      const err = await rejectionOf(pool.apply(forgeOnScope, [1]), SETTLE_MS);
      assertProtocolError(err, "null on the global scope");
      assert.deepEqual(
        await within(pool.map(inc, [1, 2, 3, 4]), SETTLE_MS),
        [2, 3, 4, 5],
      );
    } finally {
      pool.close();
      await within(pool.join(), SETTLE_MS, "join");
    }
  });

  Deno.test(`${isolation}: a Process with permissions "none" that sends a malformed message ends with ERR_WORKER_PROTOCOL`, async () => {
    for (
      const [what, target, args] of [
        ["null on its global scope", forgeOnScopeAndWait, [30_000]],
        ["null on its port", forgeOnPortAndWait, ["null", 30_000]],
        ["an exit with no code", forgeOnPortAndWait, ["exitNullCode", 30_000]],
      ] as const
    ) {
      const p = new Process({
        target: target as (...a: unknown[]) => unknown,
        args: [...args],
        module,
        permissions: "none",
        isolation,
      });
      // The error is also printed as "Process <name>:", as for any error.
      p.start();
      await p.join(SETTLE_MS);
      if (p.isAlive()) p.kill();
      // A child's exit code is the OS's: the library ended it by SIGKILL.
      assert.equal(p.exitCode, isolation === "process" ? -9 : 1, what);
      assertProtocolError(p.error, what);
    }
  });
}

// A scoped daemon starts unreferenced, directly; where Deno cannot
// unreference a web Worker, through the hub thread (forced here).
for (const hub of [false, true]) {
  const via = hub ? "through the hub thread" : "directly";
  Deno.test(`a scoped daemon started ${via} that sends null before its port ends alone; the other daemons go on`, async () => {
    const allowed = allowWorkerUnref(!hub);
    try {
      // The benign daemon runs through the whole attack.
      const benign = new Process({
        target: nap,
        args: [1_500, 0],
        module,
        permissions: "none",
        daemon: true,
      });
      benign.start();
      const hostile = new Process({
        target: forgeOnScopeAndWait,
        args: [30_000],
        module,
        permissions: "none",
        daemon: true,
      });
      hostile.start();
      await hostile.join(SETTLE_MS * 2);
      if (hostile.isAlive()) hostile.kill();
      assert.equal(hostile.exitCode, 1);
      assertProtocolError(hostile.error, `null sent ${via}`);
      await benign.join(SETTLE_MS * 2);
      if (benign.isAlive()) benign.kill();
      assert.equal(benign.exitCode, 0, Deno.inspect(benign.error));
      // A new daemon starts the same way.
      const after = new Process({
        target: inc,
        args: [1],
        module,
        permissions: "none",
        daemon: true,
      });
      after.start();
      await after.join(SETTLE_MS * 2);
      if (after.isAlive()) after.kill();
      assert.equal(after.exitCode, 0, Deno.inspect(after.error));
    } finally {
      allowWorkerUnref(allowed);
    }
  });
}

// ---- what only a child process's channel allows (isolation: "process") ------

const isolation = "process";

Deno.test("process: forged control messages, a Manager reply nobody asked for and a 64 MiB lie end the worker alone; harmless ones settle the call", async () => {
  const pool = openPool({
    processes: 1,
    module,
    permissions: "none",
    isolation,
  });
  try {
    for (const name of Object.keys(CHANNEL_FORGERIES)) {
      const timers = watchTimers();
      const err = await rejectionOf(
        pool.apply(forgeOnChannel, [name, 1]),
        SETTLE_MS,
      );
      const gap = timers.stop();
      assertProtocolError(err, name);
      assert.ok(
        gap < MAX_TIMER_GAP_MS,
        `${name}: main thread stalled ${gap} ms`,
      );
      assert.equal(await within(pool.apply(inc, [1]), SETTLE_MS, name), 2);
    }
    for (const name of Object.keys(CHANNEL_HARMLESS)) {
      assert.equal(
        await within(pool.apply(forgeOnChannel, [name, 5]), SETTLE_MS, name),
        5,
        name,
      );
    }
  } finally {
    pool.close();
    await within(pool.join(), SETTLE_MS, "join");
  }
});

Deno.test("process: a child that closes its channel and lives on fails its task with a clear error, is ended, and is replaced", async () => {
  const pool = openPool({
    processes: 1,
    module,
    permissions: "none",
    isolation,
  });
  try {
    const before = await within(pool.apply(inc, [1]), SETTLE_MS);
    assert.equal(before, 2);
    const t0 = performance.now();
    const err = await rejectionOf(
      pool.apply(disconnectAndLinger, [60_000]),
      SETTLE_MS,
    );
    assert.ok(err instanceof ProcessError, Deno.inspect(err));
    assert.equal(err.code, "ERR_WORKER_PROTOCOL");
    assert.match(err.message, /closed its channel/);
    assert.ok(performance.now() - t0 < SETTLE_MS);
    assert.deepEqual(
      await within(pool.map(inc, [1, 2, 3]), SETTLE_MS),
      [2, 3, 4],
    );
  } finally {
    pool.close();
    await within(pool.join(), SETTLE_MS, "join");
  }
  // The same for a Process: it is ended, not left running without a channel.
  const p = new Process({
    target: disconnectAndLinger,
    args: [60_000],
    module,
    permissions: "none",
    isolation,
  });
  p.start();
  const pid = p.pid!;
  await p.join(SETTLE_MS);
  if (p.isAlive()) p.kill();
  assert.ok(p.error instanceof ProcessError, Deno.inspect(p.error));
  assert.equal((p.error as ProcessError).code, "ERR_WORKER_PROTOCOL");
  assert.notEqual(p.exitCode, 0);
  await until(() => !pidExists(pid), { what: `child ${pid} to end` });
});

Deno.test("process: 20,000 results for chunks never given settle nothing; the call returns and the main thread keeps its timers", async () => {
  const pool = openPool({
    processes: 1,
    module,
    permissions: "none",
    isolation,
  });
  try {
    await within(pool.apply(inc, [0]), SETTLE_MS);
    const timers = watchTimers();
    assert.equal(
      await within(pool.apply(flood, [20_000, 9]), SETTLE_MS),
      9,
    );
    const gap = timers.stop();
    assert.ok(gap < MAX_TIMER_GAP_MS, `main thread stalled ${gap} ms`);
  } finally {
    pool.close();
    await within(pool.join(), SETTLE_MS, "join");
  }
});

Deno.test("process: a pool worker that reports its exit and runs on fails its task, is ended (no process left), and is replaced", async () => {
  const pool = openPool({
    processes: 1,
    module,
    permissions: "none",
    isolation,
  });
  try {
    const pid = await within(pool.apply(ownPid), SETTLE_MS);
    const err = await rejectionOf(
      pool.apply(lieAboutExit, [60_000, 1]),
      SETTLE_MS,
    );
    assert.ok(err instanceof ProcessError, Deno.inspect(err));
    console.log(String(err));
    await until(() => !pidExists(pid), { what: `child ${pid} to end` });
    assert.deepEqual(
      await within(pool.map(inc, [1, 2]), SETTLE_MS),
      [2, 3],
    );
  } finally {
    pool.close();
    await within(pool.join(), SETTLE_MS, "join");
  }
});
