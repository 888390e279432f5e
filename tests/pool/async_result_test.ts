// AsyncResult: ready(), successful(), get(timeout), wait(timeout), await,
// callbacks, for results made by the pool and by hand.
import assert from "node:assert/strict";
import { AsyncResult, TimeoutError } from "@parallel/multiprocessing";
import {
  add,
  cube,
  sleepy,
  throwAt3,
  throwCustom,
} from "../fixtures/pool_targets.ts";
import {
  delay,
  ISOLATIONS,
  openPool,
  range,
  rejectionOf,
  within,
} from "../fixtures/harness.ts";

for (const isolation of ISOLATIONS) {
  const tag = `(isolation "${isolation}")`;

  Deno.test(`AsyncResult.ready() and successful() follow the work; successful() throws before ready ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const r = pool.applyAsync(sleepy, [300, "done"]);
    assert.equal(r.ready(), false);
    assert.throws(() => r.successful(), Error);
    assert.equal(await within(r.get()), "done");
    assert.equal(r.ready(), true);
    assert.equal(r.successful(), true);
  });

  Deno.test(`AsyncResult.successful() is false after the work failed ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const r = pool.applyAsync(throwCustom);
    const err = await rejectionOf(r.get());
    assert.equal((err as Error).name, "CustomError");
    assert.equal(r.ready(), true);
    assert.equal(r.successful(), false);
    // Every later get() gives the same error.
    assert.equal(await rejectionOf(r.get()), err);
    assert.equal(await rejectionOf(r.get(1000)), err);
  });

  Deno.test(`AsyncResult.get(timeout) rejects with TimeoutError while the work goes on ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const r = pool.applyAsync(sleepy, [600, 42]);
    const t0 = performance.now();
    const err = await rejectionOf(r.get(50), 5_000);
    const ms = performance.now() - t0;
    assert.ok(err instanceof TimeoutError, `got ${Deno.inspect(err)}`);
    assert.ok(err instanceof Error);
    assert.equal(err.name, "TimeoutError");
    assert.ok(ms >= 45 && ms < 1_000, `get(50) took ${ms} ms`);
    assert.equal(r.ready(), false);
    // The work was not cancelled: a later get() gets the value.
    assert.equal(await within(r.get()), 42);
    assert.equal(r.successful(), true);
  });

  Deno.test(`AsyncResult.get(timeout) gives the value when it comes in time ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    await within(pool.apply(cube, [1])); // the worker is started
    const r = pool.applyAsync(sleepy, [50, "soon"]);
    assert.equal(await within(r.get(5_000)), "soon");
    // And at once when it is ready, even with a zero timeout.
    assert.equal(await within(r.get(0)), "soon");
  });

  Deno.test(`AsyncResult.get() rejects with the work's error ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const r = pool.mapAsync(throwAt3, range(6));
    const err = await rejectionOf(r.get(10_000));
    assert.ok(err instanceof RangeError);
    assert.equal(err.message, "bad item 3");
  });

  Deno.test(`AsyncResult.get(Infinity) and wait(Infinity) wait without a limit ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const r = pool.applyAsync(sleepy, [300, "value"]);
    await within(r.wait(Infinity));
    assert.equal(r.ready(), true, "wait(Infinity) returned before the work");
    const s = pool.applyAsync(sleepy, [300, "value"]);
    assert.equal(await within(s.get(Infinity)), "value");
    // Beyond setTimeout's 32-bit range too.
    const t = pool.applyAsync(sleepy, [300, "value"]);
    assert.equal(await within(t.get(2 ** 31)), "value");
  });

  Deno.test(`AsyncResult.get() with a negative or non-number timeout rejects ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const r = pool.applyAsync(add, [1, 2]);
    assert.ok((await rejectionOf(r.get(-1))) instanceof RangeError);
    assert.ok(
      (await rejectionOf(r.get("10" as unknown as number))) instanceof
        TypeError,
    );
    assert.ok((await rejectionOf(r.get(NaN))) instanceof TypeError);
    assert.equal(await within(r.get()), 3);
  });

  Deno.test(`AsyncResult.wait(timeout) resolves after the timeout without the value, and never rejects for the work ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const slow = pool.applyAsync(sleepy, [500, 1]);
    const t0 = performance.now();
    assert.equal(await within(slow.wait(50), 5_000), undefined);
    const ms = performance.now() - t0;
    assert.ok(ms >= 45 && ms < 1_000, `wait(50) took ${ms} ms`);
    assert.equal(slow.ready(), false);
    await within(slow.wait());
    assert.equal(slow.ready(), true);
    assert.equal(slow.successful(), true);

    const failing = pool.applyAsync(throwCustom);
    assert.equal(await within(failing.wait()), undefined);
    assert.equal(failing.ready(), true);
    assert.equal(failing.successful(), false);
    assert.equal(await within(failing.wait(10)), undefined);
  });

  Deno.test(`AsyncResult.wait() with a negative timeout rejects with RangeError ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const r = pool.applyAsync(sleepy, [100, 1]);
    assert.ok((await rejectionOf(r.wait(-5))) instanceof RangeError);
    await within(r.wait());
  });

  Deno.test(`AsyncResult is awaitable: await gives the value or throws the error ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    assert.equal(await within(pool.applyAsync(add, [20, 22])), 42);
    assert.deepEqual(
      await within(pool.mapAsync(cube, [1, 2, 3])),
      [1, 8, 27],
    );
    assert.deepEqual(
      await within(pool.starmapAsync(add, [[1, 1], [2, 2]])),
      [2, 4],
    );
    const err = await rejectionOf(pool.applyAsync(throwCustom));
    assert.equal((err as Error).message, "custom failure");
    // then() chains as a promise's does.
    const r = pool.applyAsync(add, [1, 2]);
    assert.equal(await within(r.then((v) => v * 10)), 30);
    assert.equal(
      await within(
        pool.applyAsync(throwCustom).then(() => "no", () => "caught"),
      ),
      "caught",
    );
  });

  Deno.test(`AsyncResult callback gets the value and errorCallback the error, once, before get() resolves ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const values: unknown[] = [];
    const errors: unknown[] = [];
    const ok = pool.applyAsync(sleepy, [50, "v"], {
      callback: (v) => values.push(v),
      errorCallback: (e) => errors.push(e),
    });
    assert.equal(await within(ok.get()), "v");
    // (Copies: deepEqual would narrow the arrays' types.)
    assert.deepEqual([...values], ["v"]);
    assert.deepEqual([...errors], []);

    const bad = pool.applyAsync(throwCustom, [], {
      callback: (v) => values.push(v),
      errorCallback: (e) => errors.push(e),
    });
    const err = await rejectionOf(bad.get());
    assert.deepEqual([...values], ["v"]);
    assert.equal(errors.length, 1);
    assert.equal(errors[0], err);
  });

  Deno.test(`applyAsync calls made in one tick each settle with their own value or error, each callback before its awaiter ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const events: string[] = [];
    const n = 600;
    const results = range(n).map((i) =>
      pool.applyAsync(throwAt3, [i % 10], {
        callback: (v) => events.push(`callback ${i} ${v}`),
        errorCallback: (e) => events.push(`error ${i} ${(e as Error).message}`),
      })
    );
    // Arguments that are no array fail that call only.
    const bad = pool.applyAsync(cube, 5 as unknown as [number], {
      errorCallback: (e) => events.push(`error bad ${(e as Error).name}`),
    });
    for (let i = 0; i < n; i++) {
      const r = results[i]!;
      if (i % 10 === 3) {
        const err = await rejectionOf(r);
        assert.ok(err instanceof RangeError, `item ${i}: ${Deno.inspect(err)}`);
        assert.equal(r.successful(), false);
        assert.ok(
          events.includes(`error ${i} bad item 3`),
          `no errorCallback for ${i} before its await resumed`,
        );
      } else {
        assert.equal(await within(r), i % 10);
        assert.equal(r.successful(), true);
        assert.ok(
          events.includes(`callback ${i} ${i % 10}`),
          `no callback for ${i} before its await resumed`,
        );
      }
    }
    assert.ok((await rejectionOf(bad.get())) instanceof TypeError);
    assert.ok(events.includes("error bad TypeError"));
    assert.equal(events.length, n + 1);
    assert.equal(pool.stats().completed, n * 9 / 10);
  });

  Deno.test(`AsyncResult of failed work nobody awaits is not an unhandled rejection ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const r = pool.applyAsync(throwCustom);
    await within(r.wait());
    // Deliberate: give an unhandled rejection time to surface (Deno's test
    // runner fails the test on one).
    await delay(50);
    assert.equal(r.successful(), false);
  });
}

Deno.test("AsyncResult() wraps any promise", async () => {
  const ok = new AsyncResult(Promise.resolve(7));
  assert.equal(await within(ok.get(1_000)), 7);
  assert.equal(ok.successful(), true);
  const pending = new AsyncResult(new Promise<number>(() => {}));
  assert.ok(
    (await rejectionOf(pending.get(10), 2_000)) instanceof TimeoutError,
  );
  assert.equal(pending.ready(), false);
});

for (const isolation of ISOLATIONS) {
  const tag = `(isolation "${isolation}")`;

  Deno.test(`AsyncResult callbacks that throw do not break the result or the program ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const error = console.error;
    const printed: unknown[][] = [];
    console.error = (...args: unknown[]) => printed.push(args);
    try {
      const ok = pool.applyAsync(add, [1, 2], {
        callback: () => {
          throw new Error("callback failed");
        },
      });
      assert.equal(await within(ok.get()), 3);
      assert.equal(ok.successful(), true);
      const bad = pool.applyAsync(throwCustom, [], {
        errorCallback: () => {
          throw new Error("errorCallback failed");
        },
      });
      assert.equal(
        ((await rejectionOf(bad.get())) as Error).message,
        "custom failure",
      );
      // Deliberate: give an unhandled rejection time to surface (Deno's test
      // runner fails the test on one).
      await delay(50);
    } finally {
      console.error = error;
    }
  });
}
