// Proxies in other processes: passed to a Process and to pool tasks, used
// from several at once, and used after their manager is gone (which must
// reject, never hang). Each test runs under every isolation in ISOLATIONS.
import assert from "node:assert/strict";
import {
  AbandonedLockError,
  Manager,
  Pool,
  Process,
} from "@parallel/multiprocessing";
import {
  appendSquare,
  childDict,
  childList,
  childLock,
  childNamespace,
  childQueue,
  expectShutDown,
  increment,
  makeManagerDict,
  setItem,
  takeAndEnd,
  waitThenShutDown,
} from "./fixtures/targets.ts";
import {
  endPool,
  finish,
  rejectionOf,
  runDeno,
  until,
  within,
} from "../fixtures/harness.ts";
import { revive } from "../../lib/_shared/shareable.ts";

const module = new URL("./fixtures/targets.ts", import.meta.url);

/** The isolations every test runs under. */
const ISOLATIONS = ["thread", "process"] as const;
type Isolation = (typeof ISOLATIONS)[number];

/** Runs `target(...args)` in a process and fails with its error, if any. */
async function run<A extends unknown[]>(
  isolation: Isolation,
  target: (...args: A) => unknown,
  ...args: A
): Promise<void> {
  const p = new Process({ target, args, module, isolation });
  p.start();
  await finish(p, 20_000);
  if (p.exitCode !== 0) {
    throw new Error(
      `${target.name} ended with ${p.exitCode}: ${
        (p.error as Error | undefined)?.stack ?? p.error
      }`,
    );
  }
}

for (const isolation of ISOLATIONS) {
  Deno.test(`[${isolation}] TestSyncManagerTypes: a child process uses each kind of proxy`, async () => {
    await using manager = new Manager();
    const d = manager.dict<string, number>();
    await d.set("foo", 5);
    await run(isolation, childDict, d);
    assert.equal(await d.size(), 0);

    const l = manager.list<number>();
    await l.append(5);
    await run(isolation, childList, l);
    assert.equal(await l.length(), 0);

    const ns = manager.namespace({ x: 0, y: 1 });
    await run(isolation, childNamespace, ns);

    const q = manager.queue<number>(2);
    await q.put(5);
    await q.put(6);
    await run(isolation, childQueue, q);
    assert.equal(await q.qsize(), 0);

    const lock = manager.lock();
    await run(isolation, childLock, lock);
    assert.equal(await lock.acquire(0), true);
    await lock.release();
  });

  Deno.test(`[${isolation}] a read-modify-write under manager.lock() from 3 processes loses no update`, async () => {
    await using manager = new Manager();
    const lock = manager.lock();
    const ns = manager.namespace({ count: 0 });
    const n = 100;
    const ps = [1, 2, 3].map(() =>
      new Process({ target: increment, args: [lock, ns, n], module, isolation })
    );
    for (const p of ps) p.start();
    for (const p of ps) {
      await finish(p, 30_000);
      assert.equal(p.exitCode, 0, String((p.error as Error)?.stack));
    }
    assert.equal(await ns.get("count"), 3 * n);
  });

  Deno.test(`[${isolation}] proxies pass as pool task arguments`, async () => {
    await using manager = new Manager();
    const d = manager.dict<string, number>();
    const l = manager.list<number>();
    const pool = new Pool({ processes: 2, module, isolation });
    try {
      const keys = await within(
        pool.starmap(
          setItem,
          [["a", 1], ["b", 2], ["c", 3]].map((
            [k, v],
          ) => [d, k as string, v as number] as const),
        ),
        20_000,
        "starmap",
      );
      assert.deepEqual(keys, ["a", "b", "c"]);
      assert.deepEqual(
        await d.toMap(),
        new Map([["a", 1], ["b", 2], ["c", 3]]),
      );
      const xs = [1, 2, 3, 4, 5, 6];
      assert.deepEqual(
        await within(
          pool.starmap(appendSquare, xs.map((x) => [l, x] as const), 1),
          20_000,
          "starmap",
        ),
        xs,
      );
      assert.deepEqual(
        (await l.toArray()).sort((a, b) => a - b),
        xs.map((x) => x * x),
      );
    } finally {
      await endPool(pool);
    }
  });

  Deno.test(`[${isolation}] a process using a proxy after its manager shut down gets a rejection`, async () => {
    const manager = new Manager();
    const d = manager.dict<string, number>();
    await d.set("a", 1);
    await manager.shutdown();
    await run(isolation, expectShutDown, d);
  });

  Deno.test(`[${isolation}] a process waiting on a proxy when its manager shuts down gets a rejection`, async () => {
    await using signaling = new Manager();
    const signals = signaling.queue<string>();
    const manager = new Manager();
    const q = manager.queue<number>();
    const p = new Process({
      target: waitThenShutDown,
      args: [q, signals],
      module,
      isolation,
    });
    p.start();
    try {
      assert.equal(await signals.get(15_000), "waiting");
      await manager.shutdown();
      assert.equal(await signals.get(5_000), "rejected");
      await finish(p);
      assert.equal(p.exitCode, 0, String((p.error as Error)?.stack));
    } finally {
      if (p.isAlive()) p.kill();
      await manager.shutdown();
    }
  });

  Deno.test(`[${isolation}] a lock left held by a process that ended rejects the next acquire() with AbandonedLockError`, async () => {
    await using manager = new Manager();
    const lock = manager.lock();
    await run(isolation, takeAndEnd, lock);
    const err = await rejectionOf(lock.acquire(), 5_000);
    assert.ok(err instanceof AbandonedLockError, String(err));
    assert.equal(await lock.acquire(0), true);
    await lock.release();
  });
}

Deno.test("a proxy of a manager made in a worker that ended rejects, never hangs", async () => {
  const pool = new Pool({ processes: 1, module });
  let d;
  try {
    d = revive(await within(pool.apply(makeManagerDict, []), 20_000));
    assert.equal(await within(d.get("a"), 5_000), 1);
  } finally {
    await endPool(pool);
  }
  // Its server notices within a fraction of a second and ends; every call
  // from then on rejects.
  const err = await until(
    () => d.get("a").then(() => undefined, (e: unknown) => e),
    { what: "a call to reject", timeout: 5_000 },
  );
  assert.ok(err instanceof Error);
  assert.match(err.message, /which made its manager, has ended/);
});

Deno.test("new Manager() in a worker importing its module gets the import.meta.main error", async () => {
  const out = await runDeno([
    "run",
    "-R",
    "--no-prompt",
    new URL("./fixtures/unguarded_manager.ts", import.meta.url).pathname,
  ]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /exitCode=1/);
  assert.match(
    out.stdout,
    /errorMessage=Cannot start a Manager while a worker is importing its target module.*if \(import\.meta\.main\)/,
  );
  assert.doesNotMatch(out.stdout, /target ran/);
});

Deno.test("a Manager that became garbage shuts down: a copy of its proxy rejects", async () => {
  const out = await runDeno([
    "run",
    "-R",
    "--no-prompt",
    "--v8-flags=--expose-gc",
    new URL("./fixtures/gc_manager.ts", import.meta.url).pathname,
  ]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /before=1/);
  assert.match(
    out.stdout,
    /rejected: Cannot use the dict: its manager was shut down/,
  );
});
