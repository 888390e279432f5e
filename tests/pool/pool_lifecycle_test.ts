// Pool lifecycle: close, terminate, join, disposal, cancellation with a
// signal, the initializer, maxTasksPerChild and idleTimeout.
import assert from "node:assert/strict";
import { Pool } from "@parallel/multiprocessing";
import {
  add,
  cube,
  failingSetUp,
  pid,
  setUp,
  setUpState,
  sleepy,
  slowSetUp,
  uneven,
} from "../fixtures/pool_targets.ts";
import {
  delay,
  endPool,
  failureOf,
  ISOLATIONS,
  openPool,
  range,
  rejectionOf,
  TARGETS,
  until,
  within,
} from "../fixtures/harness.ts";

/** The type PoolOptions takes (cast: see the type test in pool_test.ts). */
type Initializer = (...args: unknown[]) => unknown;

// ---- close, join, terminate, dispose ---------------------------------------

for (const isolation of ISOLATIONS) {
  const tag = `(isolation "${isolation}")`;

  Deno.test(`Pool.close() refuses new work; join() then resolves ${tag}`, async () => {
    const pool = new Pool({ processes: 2, module: TARGETS });
    try {
      assert.deepEqual(await within(pool.map(cube, [1, 2])), [1, 8]);
      pool.close();
      for (
        const call of [
          () => pool.map(cube, [1]),
          () => pool.starmap(add, [[1, 2]]),
          () => pool.apply(cube, [1]),
          () => pool.applyAsync(cube, [1]).get(),
          () => pool.mapAsync(cube, [1]).get(),
          () => pool.starmapAsync(add, [[1, 2]]).get(),
          () => pool.imap(cube, [1]).next(),
          () => pool.imapUnordered(cube, [1]).next(),
        ]
      ) {
        const err = await failureOf(call);
        assert.ok(err instanceof Error, `${call}: ${Deno.inspect(err)}`);
        assert.match(err.message, /closed/, `${call}`);
      }
      await within(pool.join());
    } finally {
      await endPool(pool);
    }
  });

  Deno.test(`Pool.close() lets queued work finish ${tag}`, async () => {
    const pool = new Pool({ processes: 2, module: TARGETS });
    try {
      const work = pool.map(uneven, range(30), 1);
      const one = pool.apply(sleepy, [200, "last"]);
      pool.close();
      assert.deepEqual(await within(work), range(30).map((x) => 2 * x));
      assert.equal(await within(one), "last");
      await within(pool.join());
      assert.deepEqual(pool.stats().busy, 0);
    } finally {
      await endPool(pool);
    }
  });

  Deno.test(`Pool.join() before close() or terminate() throws ${tag}`, async () => {
    const pool = new Pool({ processes: 1, module: TARGETS });
    try {
      const err = await failureOf(() => pool.join());
      assert.ok(err instanceof Error, `${Deno.inspect(err)}`);
      assert.match(err.message, /close\(\)|terminate\(\)/);
      // The pool was not harmed.
      assert.equal(await within(pool.apply(cube, [2])), 8);
    } finally {
      await endPool(pool);
    }
  });

  Deno.test(`Pool.join() after close() on an unused pool resolves ${tag}`, async () => {
    const pool = new Pool({ processes: 2, module: TARGETS });
    pool.close();
    await within(pool.join());
    await within(pool.join()); // again
  });

  Deno.test(`Pool.terminate() mid-map rejects the pending calls promptly; join() resolves ${tag}`, async () => {
    const pool = new Pool({ processes: 2, module: TARGETS });
    try {
      await within(pool.map(cube, [1, 2], 1)); // workers started
      let done = 0;
      const work = pool.starmap(sleepy, range(20).map(() => [300]), 1, {
        onProgress: (d) => done = d,
      });
      const one = pool.apply(sleepy, [10_000, "never"]);
      const lazy = pool.imap(sleepy, [2_000, 2_000]);
      const lazyNext = lazy.next();
      // Mid-map: some items done, most not.
      await until(() => done >= 1, { what: "the first results" });
      const t0 = performance.now();
      pool.terminate();
      for (const p of [work, one, lazyNext]) {
        const err = await rejectionOf(p, 1_000);
        assert.ok(err instanceof Error, Deno.inspect(err));
        assert.match(err.message, /terminat/i);
      }
      assert.ok(performance.now() - t0 < 1_000);
      assert.ok(done < 20, `all done before terminate? ${done}`);
      await within(pool.join(), 5_000);
      // Work after terminate() throws too.
      assert.ok((await failureOf(() => pool.map(cube, [1]))) instanceof Error);
    } finally {
      await endPool(pool);
    }
  });

  Deno.test(`Pool[Symbol.asyncDispose]() closes the pool gracefully at the end of an \`await using\` block ${tag}`, async () => {
    let pool: Pool | undefined;
    let slow: Promise<unknown> | undefined;
    {
      await using p = new Pool({ processes: 2, module: TARGETS });
      pool = p;
      assert.deepEqual(await within(p.map(cube, [3])), [27]);
      slow = p.apply(sleepy, [300, "finished"]);
    }
    // Disposal waited for the queued call, and the pool is closed.
    assert.equal(await within(slow, 100), "finished");
    const err = await failureOf(() => pool.map(cube, [1]));
    assert.match((err as Error).message, /closed/);
    await within(pool.join(), 1_000);
  });

  // ---- signal -----------------------------------------------------------------

  Deno.test(`Pool.map() with a signal: aborting rejects that call with the reason, promptly; another call goes on ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    await within(pool.map(cube, [1, 2], 1)); // workers started
    const controller = new AbortController();
    const doomed = pool.starmap(sleepy, range(20).map(() => [300]), 1, {
      signal: controller.signal,
    });
    const other = pool.map(uneven, range(20), 1);
    await until(() => pool.stats().busy === 2, {
      what: "both workers to be busy",
    });
    const reason = new Error("stop");
    const t0 = performance.now();
    controller.abort(reason);
    assert.equal(await rejectionOf(doomed, 1_000), reason);
    const ms = performance.now() - t0;
    // Its remaining tasks would take ~3 s. (Replacing the two busy workers
    // blocks this thread ~100 ms each: Worker construction is synchronous.)
    assert.ok(ms < 1_000, `rejected ${ms} ms after abort`);
    assert.deepEqual(await within(other), range(20).map((x) => 2 * x));
    assert.deepEqual(await within(pool.map(cube, range(4))), [0, 1, 8, 27]);
  });

  Deno.test(`Pool.apply() with an aborted signal replaces the busy worker, so the pool is free at once ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const before = await within(pool.apply(pid));
    const controller = new AbortController();
    const doomed = pool.apply(sleepy, [20_000, "never"], {
      signal: controller.signal,
    });
    await until(() => pool.stats().busy === 1, {
      what: "the worker to take the task",
    });
    controller.abort(new Error("stop"));
    assert.equal(((await rejectionOf(doomed, 1_000)) as Error).message, "stop");
    // The next call does not wait 20 s for the abandoned task.
    const t0 = performance.now();
    const after = await within(pool.apply(pid), 5_000);
    assert.ok(performance.now() - t0 < 5_000);
    assert.notEqual(after, before, "the busy worker was not replaced");
  });

  Deno.test(`Pool.map() with an already-aborted signal rejects at once with its reason ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const reason = new Error("already");
    const signal = AbortSignal.abort(reason);
    assert.equal(
      await rejectionOf(pool.map(cube, [1, 2], 1, { signal }), 100),
      reason,
    );
    assert.equal(
      await rejectionOf(pool.apply(cube, [1], { signal }), 100),
      reason,
    );
    assert.equal(
      await rejectionOf(pool.mapAsync(cube, [1], { signal }).get(), 100),
      reason,
    );
    assert.equal(
      await failureOf(() => pool.imap(cube, [1], 1, { signal }).next(), 100),
      reason,
    );
    // Nothing ran.
    assert.equal(pool.stats().completed, 0);
  });

  Deno.test(`Pool.imap() with a signal: aborting makes the iteration throw the reason ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const controller = new AbortController();
    const got: number[] = [];
    const reason = new Error("stop");
    const err = await failureOf(async () => {
      for await (
        const v of pool.imap(uneven, range(1_000), 1, {
          signal: controller.signal,
        })
      ) {
        got.push(v);
        if (got.length === 5) controller.abort(reason);
      }
    });
    assert.equal(err, reason);
    assert.deepEqual(got.slice(0, 5), range(5).map((x) => 2 * x));
    assert.ok(got.length < 1_000);
  });

  // ---- initializer, maxTasksPerChild, idleTimeout -----------------------------

  Deno.test(`Pool({ initializer, initargs }) runs once in each worker before its first task ${tag}`, async () => {
    await using pool = openPool({
      isolation,
      processes: 2,
      initializer: setUp as Initializer,
      initargs: ["hello"],
    });
    const got = await within(pool.map(setUpState, range(20), 1));
    const pids = new Set<number>();
    for (const s of got) {
      assert.deepEqual({ ...s, pid: 0 }, {
        greeting: "hello",
        setUps: 1,
        pid: 0,
      });
      pids.add(s.pid);
    }
    assert.equal(pids.size, 2, "both workers ran tasks");
  });

  Deno.test(`Pool({ initializer }) is awaited when async ${tag}`, async () => {
    await using pool = openPool({
      isolation,
      processes: 1,
      initializer: slowSetUp as Initializer,
      initargs: ["later"],
    });
    const got = await within(pool.apply(setUpState));
    assert.equal(got.greeting, "later");
    assert.equal(got.setUps, 1);
  });

  Deno.test(`Pool({ initializer }) that throws rejects the work instead of hanging ${tag}`, async () => {
    const pool = new Pool({
      processes: 1,
      module: TARGETS,
      initializer: failingSetUp,
    });
    try {
      const err = await rejectionOf(pool.map(cube, [1, 2]));
      assert.ok(err instanceof Error, Deno.inspect(err));
      const cause = (err as Error).cause;
      const text = `${(err as Error).message} ${(cause as Error)?.message}`;
      assert.match(text, /set-up failed|initializer/i);
    } finally {
      await endPool(pool);
    }
  });

  Deno.test(`Pool({ maxTasksPerChild: 1 }) runs each task in a new worker ${tag}`, async () => {
    await using pool = openPool({
      isolation,
      processes: 1,
      maxTasksPerChild: 1,
      initializer: setUp as Initializer,
      initargs: ["again"],
    });
    const pids: number[] = [];
    for (let i = 0; i < 4; i++) {
      const s = await within(pool.apply(setUpState));
      assert.equal(s.greeting, "again");
      assert.equal(s.setUps, 1);
      pids.push(s.pid);
    }
    assert.equal(new Set(pids).size, 4, `pids ${pids}`);
  });

  Deno.test(`Pool({ maxTasksPerChild: 2 }) replaces a worker after two tasks ${tag}`, async () => {
    await using pool = openPool({
      isolation,
      processes: 1,
      maxTasksPerChild: 2,
    });
    const pids: number[] = [];
    for (let i = 0; i < 6; i++) pids.push(await within(pool.apply(pid)));
    assert.equal(pids[0], pids[1]);
    assert.notEqual(pids[1], pids[2]);
    assert.equal(pids[2], pids[3]);
    assert.notEqual(pids[3], pids[4]);
    assert.equal(pids[4], pids[5]);
  });

  Deno.test(`Pool({ idleTimeout }) ends an idle worker; the next task runs in a new one ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1, idleTimeout: 200 });
    const first = await within(pool.apply(pid));
    // Busy back to back: the same worker.
    assert.equal(await within(pool.apply(pid)), first);
    // Deliberate: idle past its idleTimeout, with nothing to poll (the pool
    // shows no worker's end).
    await delay(600);
    const later = await within(pool.apply(pid));
    assert.notEqual(later, first, "the idle worker was not ended");
  });

  Deno.test(`Pool({ idleTimeout }) beyond setTimeout's 32-bit range keeps idle workers ${tag}`, async () => {
    for (const idleTimeout of [2 ** 31, 1e10]) {
      await using pool = openPool({ isolation, processes: 1, idleTimeout });
      const first = await within(pool.apply(pid));
      // Deliberate: idle a while; the worker must still be there.
      await delay(100);
      assert.equal(
        await within(pool.apply(pid)),
        first,
        `idleTimeout ${idleTimeout} ended the worker within 100 ms`,
      );
    }
  });

  Deno.test(`Pool() without idleTimeout keeps its idle workers ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const first = await within(pool.apply(pid));
    // Deliberate: idle longer than the idleTimeout above; the worker stays.
    await delay(600);
    assert.equal(await within(pool.apply(pid)), first);
  });
}
