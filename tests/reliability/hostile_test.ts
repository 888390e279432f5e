// Hostile targets: a worker with scoped permissions cannot read, write, read
// the environment, run a subprocess, reach the network, load native code, or
// get more than it has by starting a worker or a Process of its own. Each
// test runs under both isolations: a thread (a web Worker with scoped
// permissions) and a child OS process (its own permission flags).
import assert from "node:assert/strict";
import { type Isolation, Pool, Process } from "@parallel/multiprocessing";
import {
  hostile,
  nestedProcess,
  readText,
  type Report,
} from "./fixtures/targets.ts";
import { ISOLATIONS, within } from "../fixtures/harness.ts";

const module = new URL("./fixtures/targets.ts", import.meta.url);
const FIXTURES = decodeURIComponent(
  new URL("./fixtures", import.meta.url).pathname,
);
const OUTSIDE = decodeURIComponent(
  new URL("../../deno.json", import.meta.url).pathname,
);
// The errors Deno raises for a missing permission (NotCapable) or for a
// worker asking more than its parent has (NotCapable or PermissionDenied).
const DENIED = new Set(["NotCapable", "PermissionDenied"]);

/** A loopback HTTP listener that counts its requests. */
function listen(): {
  server: Deno.HttpServer;
  port: number;
  hits: () => number;
} {
  let hits = 0;
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => {
      hits++;
      return new Response("secret");
    },
  );
  return { server, port: server.addr.port, hits: () => hits };
}

function assertBlocked(report: Report): number {
  let blocked = 0;
  for (
    const key of [
      "read",
      "write",
      "env",
      "run",
      "fetch",
      "connect",
      "dlopen",
      "workerRead",
    ] as const
  ) {
    assert.ok(
      DENIED.has(report[key]),
      `${key}: expected a permission error, got ${report[key]} (${
        Deno.inspect(report)
      })`,
    );
    blocked++;
  }
  // "inherit" inside a worker gives that worker's permissions: the nested
  // worker starts, but its read is refused.
  assert.ok(
    report.workerInherit === "worker said NotCapable" ||
      DENIED.has(report.workerInherit),
    `workerInherit: expected a refused read, got ${report.workerInherit}`,
  );
  return blocked + 1;
}

for (const isolation of ISOLATIONS) {
  Deno.test(`${isolation}: a Process with permissions "none" is refused every escape it tries`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "hostile_" });
    const target = `${dir}/written.txt`;
    const l = listen();
    try {
      const p = new Process({
        target: hostile,
        args: [OUTSIDE, target, l.port],
        module,
        permissions: "none",
        isolation,
      });
      // The report is the target's return value: catch it via a pool instead
      // (a Process gives only its exit code); the Process must end cleanly.
      p.start();
      await p.join(20_000);
      if (p.isAlive()) p.kill();
      assert.equal(p.exitCode, 0, `error: ${Deno.inspect(p.error)}`);
      await using pool = new Pool({
        processes: 1,
        module,
        permissions: "none",
        isolation,
      });
      const report = await within(
        pool.apply(hostile, [OUTSIDE, target, l.port]),
        30_000,
        "hostile target",
      );
      console.log(report);
      const blocked = assertBlocked(report);
      console.log(`attempts blocked: ${blocked}`);
      assert.equal(l.hits(), 0, "the listener was reached");
      await assert.rejects(Deno.stat(target), Deno.errors.NotFound);
    } finally {
      await l.server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`${isolation}: a pool with permissions { read: [dir] } reads inside dir and nothing outside`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "hostile_read_" });
    try {
      await Deno.writeTextFile(`${dir}/inside.txt`, "inside");
      // The workers load their module: grant its folder as well.
      await using pool = new Pool({
        processes: 1,
        module,
        permissions: { read: [dir, FIXTURES] },
        isolation,
      });
      assert.equal(
        await within(pool.apply(readText, [`${dir}/inside.txt`]), 30_000),
        "inside",
      );
      const err = await within(
        pool.apply(readText, [OUTSIDE]).then(() => null, (e) => e),
        30_000,
      );
      assert.ok(err instanceof Deno.errors.NotCapable, Deno.inspect(err));
      // A report of the other attempts, with read access to one folder.
      const l = listen();
      try {
        const report = await within(
          pool.apply(hostile, [OUTSIDE, `${dir}/w.txt`, l.port]),
          30_000,
        );
        assertBlocked(report);
        assert.equal(l.hits(), 0);
      } finally {
        await l.server.shutdown();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  const assertRefused = (
    r: { exitCode: number | null; error: string },
    what: string,
  ): void => {
    // Either it could not start (a permission error), or its read failed.
    // A child OS process cannot read the deno.json that turns on
    // --unstable-worker-options, so a scoped thread inside it is refused
    // before it starts, for that.
    const refused = r.exitCode === null
      ? /^threw (NotCapable|PermissionDenied):/.test(r.error) ||
        (isolation === "process" &&
          /^threw Error: Cannot scope worker permissions/.test(r.error))
      : r.exitCode === 1 && DENIED.has(r.error);
    assert.ok(refused, `${what}: ${Deno.inspect(r)}`);
  };

  const nested = async (
    outer: Deno.PermissionOptionsObject | "none",
    inner: unknown,
    innerIsolation: Isolation = "thread",
  ): Promise<void> => {
    await using pool = new Pool({
      processes: 1,
      module,
      permissions: outer,
      isolation,
    });
    const what = `nested ${innerIsolation} Process in a ${isolation} worker ${
      Deno.inspect(outer)
    } with ${Deno.inspect(inner)}`;
    const r = await within(
      pool.apply(nestedProcess, [OUTSIDE, inner, innerIsolation]),
      30_000,
      what,
    );
    assertRefused(r, what);
  };

  Deno.test(`${isolation}: a nested inherit Process inside a { read: [fixtures] } worker cannot read outside`, async () => {
    // The scoped worker may read only the fixtures (to load its module): a
    // nested Process (default and explicit "inherit") loads it, but its read
    // outside fails.
    await nested({ read: [FIXTURES] }, undefined);
    await nested({ read: [FIXTURES] }, "inherit");
    // A nested child OS process: the worker may not even run one.
    await nested({ read: [FIXTURES] }, "inherit", "process");
  });

  Deno.test(`${isolation}: a nested Process inside a "none" worker cannot even load its module`, async () => {
    await nested("none", "inherit");
    await nested("none", "inherit", "process");
  });

  Deno.test(`${isolation}: a nested Process asking { read: true } inside a { read: [fixtures] } worker is refused with a permission error`, async () => {
    await nested({ read: [FIXTURES] }, { read: true });
  });
}
