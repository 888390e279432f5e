// Pool failure paths: task errors, workers that die mid-task, bad input,
// values that cannot be cloned, and scoped permissions.
import assert from "node:assert/strict";
import { Pool, ProcessError, transfer } from "@parallel/multiprocessing";
import {
  add,
  allocate,
  allocateBig,
  cube,
  denoExitAt5,
  echo,
  exitAt5,
  functionAt2,
  readText,
  rejectLater,
  returnFunction,
  sumBytes,
  throwAggregate,
  throwAt3,
  throwCustom,
  throwLibraryError,
  throwString,
  uncaughtLater,
  uneven,
} from "../fixtures/pool_targets.ts";
import {
  delay,
  fixture,
  ISOLATIONS,
  openPool,
  range,
  rejectionOf,
  ROOT_DIR,
  TARGETS,
  within,
} from "../fixtures/harness.ts";

const STAR = fixture("pool_star.ts");
const DENO_JSON = `${ROOT_DIR}/deno.json`;
const MOD_TS = `${ROOT_DIR}/mod.ts`;

/** Not exported from any module: a worker cannot find it. */
function hidden(x: number): number {
  return x;
}

// ---- errors thrown by tasks ----------------------------------------------

for (const isolation of ISOLATIONS) {
  const tag = `(isolation "${isolation}")`;

  Deno.test(`Pool.map() rejects with a task's RangeError: class, message, remote stack and cause kept ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const err = await rejectionOf(pool.map(throwAt3, range(8)));
    assert.ok(err instanceof RangeError, `got ${Deno.inspect(err)}`);
    assert.equal(err.name, "RangeError");
    assert.equal(err.message, "bad item 3");
    assert.match(err.stack ?? "", /pool_targets\.ts/);
    assert.match(err.stack ?? "", /throwAt3/);
    assert.ok(
      err.cause instanceof TypeError,
      `cause ${Deno.inspect(err.cause)}`,
    );
    assert.equal(err.cause.message, "inner");
  });

  Deno.test(`Pool.apply() rejects with a custom error's name, message and own properties ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const err = await rejectionOf(pool.apply(throwCustom));
    assert.ok(err instanceof Error, `got ${Deno.inspect(err)}`);
    assert.equal(err.name, "CustomError");
    assert.equal(err.message, "custom failure");
    assert.ok(Object.hasOwn(err, "code"), "own property code lost");
    assert.equal((err as Error & { code: unknown }).code, "E_CUSTOM");
    assert.match(err.stack ?? "", /pool_targets\.ts/);
  });

  Deno.test(`Pool.apply() rejects with the library's own error classes as themselves ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const err = await rejectionOf(pool.apply(throwLibraryError));
    assert.ok(err instanceof ProcessError, `got ${Deno.inspect(err)}`);
    assert.equal(err.name, "ProcessError");
    assert.equal(err.message, "a nested worker ended");
    assert.equal(err.processName, "Nested-1");
    assert.equal(err.exitCode, 7);
    assert.equal(err.code, "E_NESTED");
    assert.match(err.stack ?? "", /pool_targets\.ts/);
  });

  Deno.test(`Pool.apply() rejects with an AggregateError that keeps its errors ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const err = await rejectionOf(pool.apply(throwAggregate));
    assert.ok(err instanceof AggregateError, `got ${Deno.inspect(err)}`);
    assert.equal(err.message, "several failures");
    assert.equal(err.errors.length, 2);
    const [first, second] = err.errors;
    assert.ok(first instanceof TypeError);
    assert.equal(first.message, "first");
    assert.ok(second instanceof RangeError);
    assert.equal(second.message, "second");
  });

  Deno.test(`Pool.apply() rejects with a thrown non-Error value as it is ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    assert.equal(await rejectionOf(pool.apply(throwString)), "plain string");
  });

  Deno.test(`Pool.starmap() rejects with an async target's rejection ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const err = await rejectionOf(pool.starmap(rejectLater, [["late"]]));
    assert.ok(err instanceof TypeError, `got ${Deno.inspect(err)}`);
    assert.equal(err.message, "late");
  });

  Deno.test(`Pool.map() failing does not harm the pool: the next call works ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    await rejectionOf(pool.map(throwAt3, range(10), 1));
    assert.deepEqual(
      await within(pool.map(cube, range(10))),
      range(10).map(cube),
    );
  });

  // ---- workers that die mid-task --------------------------------------------

  for (
    const [how, target] of [
      ["exit(3)", exitAt5],
      ["Deno.exit(3)", denoExitAt5],
    ] as const
  ) {
    Deno.test(`Pool.map() rejects with ProcessError when a task calls ${how}; other calls and later work go on ${tag}`, async () => {
      await using pool = openPool({ isolation, processes: 2 });
      const other = pool.map(uneven, range(30), 1);
      const err = await rejectionOf(pool.map(target, range(10), 1));
      assert.ok(err instanceof ProcessError, `got ${Deno.inspect(err)}`);
      assert.ok(err instanceof Error);
      assert.equal(err.name, "ProcessError");
      assert.equal(err.exitCode, 3);
      assert.match(err.processName, /\S/);
      assert.ok(
        err.message.includes(err.processName),
        `message does not name the worker: ${err.message}`,
      );
      // The concurrent call on the same pool is not harmed.
      assert.deepEqual(await within(other), range(30).map((x) => 2 * x));
      // The pool replaced the worker and still works.
      assert.deepEqual(
        await within(pool.map(cube, range(12), 1)),
        range(12).map(cube),
      );
      assert.equal(await within(pool.apply(add, [1, 2])), 3);
    });
  }

  Deno.test(`Pool.apply() rejects with ProcessError for a worker that exits, on a one-worker pool ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const exiting = pool.apply(exitAt5, [5]);
    // Queued behind the task that ends the worker: a new worker runs it.
    const queued = pool.map(cube, range(5), 1);
    const err = await rejectionOf(exiting);
    assert.ok(err instanceof ProcessError, `got ${Deno.inspect(err)}`);
    assert.equal(err.exitCode, 3);
    assert.deepEqual(await within(queued), range(5).map(cube));
    assert.equal(await within(pool.apply(cube, [3])), 27);
  });

  Deno.test(`Pool.apply() rejects with ProcessError (ERR_WORKER_OUT_OF_MEMORY) when a worker exceeds resourceLimits; the pool goes on ${tag}`, async () => {
    await using pool = openPool({
      isolation,
      processes: 1,
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
    const err = await rejectionOf(pool.apply(allocateBig), 30_000);
    assert.ok(err instanceof ProcessError, `got ${Deno.inspect(err)}`);
    assert.equal(err.name, "ProcessError");
    assert.equal(err.code, "ERR_WORKER_OUT_OF_MEMORY");
    // A thread reports 1; an OS process, the signal V8 ended it with.
    if (isolation === "thread") assert.equal(err.exitCode, 1);
    else assert.ok(err.exitCode < 0, `exitCode ${err.exitCode}`);
    assert.ok(err.message.includes(err.processName), err.message);
    assert.match(err.message, /memory/i);
    // A replacement worker runs the next tasks.
    assert.equal(await within(pool.apply(cube, [3])), 27);
    assert.deepEqual(
      await within(pool.map(cube, range(6))),
      range(6).map(cube),
    );
    // And small allocations stay within the limit.
    assert.equal(await within(pool.apply(allocate, [16])), 200);
  });

  Deno.test(`Pool.apply() rejects with ProcessError (exit code 1, the error as cause) when an uncaught error ends the worker ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const t0 = performance.now();
    const err = await rejectionOf(pool.apply(uncaughtLater));
    // At once, not after the task's 5 s.
    assert.ok(performance.now() - t0 < 4_000);
    assert.ok(err instanceof ProcessError, `got ${Deno.inspect(err)}`);
    assert.equal(err.exitCode, 1);
    assert.ok(err.message.includes(err.processName), err.message);
    assert.ok(err.cause instanceof Error, `cause ${Deno.inspect(err.cause)}`);
    assert.equal(err.cause.message, "from a timer");
    assert.equal(await within(pool.apply(cube, [2])), 8);
  });

  Deno.test(`Pool.map() rejects with the error its input throws ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    function* numbers() {
      yield 1;
      yield 2;
      throw new Error("input broke");
    }
    const err = await rejectionOf(pool.map(cube, numbers()));
    assert.equal((err as Error).message, "input broke");
    async function* later() {
      yield 1;
      await delay(5); // the input fails after an await, not at once
      throw new Error("async input broke");
    }
    const err2 = await rejectionOf(pool.map(cube, later()));
    assert.equal((err2 as Error).message, "async input broke");
    assert.deepEqual(await within(pool.map(cube, [2])), [8]);
  });

  // ---- bad input --------------------------------------------------------------

  Deno.test(`Pool() rejects a processes count that is not a positive integer ${tag}`, () => {
    for (const n of [0, -1, 1.5, NaN]) {
      assert.throws(() => new Pool(n), RangeError, `new Pool(${n})`);
      assert.throws(
        () => new Pool({ processes: n, module: TARGETS, isolation }),
        RangeError,
        `processes ${n}`,
      );
    }
    assert.throws(
      () =>
        new Pool({
          processes: "2" as unknown as number,
          module: TARGETS,
          isolation,
        }),
      TypeError,
    );
    assert.throws(
      () => new Pool(0),
      (e: unknown) => e instanceof RangeError && /processes/.test(e.message),
    );
  });

  Deno.test(`Pool() rejects bad options ${tag}`, () => {
    const bad: [Record<string, unknown>, ErrorConstructor][] = [
      [{ maxTasksPerChild: 0 }, RangeError],
      [{ maxTasksPerChild: "1" }, TypeError],
      [{ idleTimeout: -1 }, RangeError],
      [{ idleTimeout: "1" }, TypeError],
      [{ initializer: "setUp" }, TypeError],
      [{ module: 42 }, TypeError],
      [{ permissions: "all" }, TypeError],
      [{ resourceLimits: { maxOldGenerationSizeMb: -1 } }, RangeError],
    ];
    for (const [options, Class] of bad) {
      assert.throws(
        () =>
          new Pool({ processes: 1, module: TARGETS, isolation, ...options }),
        Class,
        Deno.inspect(options),
      );
    }
  });

  Deno.test(
    `Pool() ${
      isolation === "thread" ? "rejects" : "takes"
    } resourceLimits with scoped permissions ${tag}`,
    async () => {
      for (const permissions of ["none", { read: true }] as const) {
        const make = () =>
          new Pool({
            processes: 1,
            module: TARGETS,
            permissions,
            resourceLimits: { maxOldGenerationSizeMb: 64 },
            isolation,
          });
        if (isolation === "thread") {
          // A thread with scoped permissions cannot have heap limits.
          assert.throws(
            make,
            (e: unknown) =>
              e instanceof TypeError && /resourceLimits/.test(e.message),
          );
        } else {
          // An OS process takes both as its own flags.
          const pool = make();
          pool.close();
          await within(pool.join());
        }
      }
    },
  );

  Deno.test(`Pool.map() rejects a chunksize that is not a positive integer ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    for (const cs of [0, -1, 1.5]) {
      assert.ok(
        (await rejectionOf(pool.map(cube, [1, 2], cs))) instanceof RangeError,
        `map chunksize ${cs}`,
      );
      assert.ok(
        (await rejectionOf(pool.starmap(add, [[1, 2]], cs))) instanceof
          RangeError,
        `starmap chunksize ${cs}`,
      );
      assert.ok(
        (await rejectionOf(
          pool.mapAsync(cube, [1], { chunksize: cs }).get(),
        )) instanceof
          RangeError,
        `mapAsync chunksize ${cs}`,
      );
    }
    // The pool is fine afterwards.
    assert.deepEqual(await within(pool.map(cube, [2], 1)), [8]);
  });

  Deno.test(`Pool.map() rejects an input that is not iterable with TypeError ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    for (const input of [42, null, undefined, { length: 2 }]) {
      const err = await rejectionOf(
        pool.map(cube, input as unknown as number[]),
      );
      assert.ok(err instanceof TypeError, `input ${Deno.inspect(input)}`);
    }
    assert.ok(
      (await rejectionOf(
        pool.starmap(add, 7 as unknown as [number, number][]),
      )) instanceof
        TypeError,
    );
  });

  Deno.test(`Pool.map() rejects a target that is not a function with TypeError ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    for (const fn of ["cube", 1, null, { cube }]) {
      const err = await rejectionOf(
        pool.map(fn as unknown as typeof cube, [1]),
      );
      assert.ok(err instanceof TypeError, `target ${Deno.inspect(fn)}`);
    }
    assert.ok(
      (await rejectionOf(
        pool.apply(undefined as unknown as typeof cube),
      )) instanceof
        TypeError,
    );
  });

  Deno.test(`Pool.map() rejects a target not exported from the module with a TypeError naming it ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const err = await rejectionOf(pool.map(hidden, [1]));
    assert.ok(err instanceof TypeError, `got ${Deno.inspect(err)}`);
    assert.match(err.message, /\bhidden\b/);
    assert.match(err.message, /pool_targets\.ts/);
    assert.match(err.message, /export/);
    // An anonymous function cannot be found either.
    const anon = await rejectionOf(pool.apply(() => 1));
    assert.ok(anon instanceof TypeError, `got ${Deno.inspect(anon)}`);
  });

  Deno.test(`Pool.map() rejects a target its worker cannot find (star re-exports) with a TypeError naming it ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1, module: STAR });
    // Found through the star re-export:
    assert.deepEqual(await within(pool.map(cube, [2, 3])), [8, 27]);
    const err = await rejectionOf(pool.map(hidden, [1]));
    assert.ok(err instanceof TypeError, `got ${Deno.inspect(err)}`);
    assert.match(err.message, /\bhidden\b/);
    assert.match(err.message, /pool_star\.ts/);
    // The pool still works.
    assert.equal(await within(pool.apply(add, [2, 2])), 4);
  });

  Deno.test(`Pool.apply() rejects an argument structured clone cannot carry with a DataCloneError naming it ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const err = await rejectionOf(pool.apply(echo, [{ handler() {} }]));
    assert.equal((err as Error).name, "DataCloneError", `${Deno.inspect(err)}`);
    assert.match((err as Error).message, /handler/);
    // Nothing was lost: the pool runs the next call.
    assert.deepEqual(await within(pool.apply(echo, [{ ok: 1 }])), { ok: 1 });
  });

  Deno.test(`Pool.map() rejects an item structured clone cannot carry with a DataCloneError naming it ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const err = await rejectionOf(
      pool.map(echo, [1, { callback: Symbol("s") }, 3], 1),
    );
    assert.equal((err as Error).name, "DataCloneError", `${Deno.inspect(err)}`);
    assert.match((err as Error).message, /callback/);
    assert.deepEqual(await within(pool.map(echo, [1, 2])), [1, 2]);
  });

  Deno.test(`Pool.apply() with an argument that cannot be cloned does not harm a call sent with it ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    await within(pool.apply(cube, [1])); // the worker is started
    // Sent in the same turn, so they may share one message to the worker.
    const bad = pool.apply(echo, [{ handler() {} }]);
    const good = pool.map(cube, range(10), 1);
    assert.equal(((await rejectionOf(bad)) as Error).name, "DataCloneError");
    assert.deepEqual(await within(good), range(10).map(cube));
  });

  Deno.test(`Pool.map() rejects when one result cannot be cloned; results of other calls sent with it arrive ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    await within(pool.apply(cube, [1])); // the worker is started
    const bad = pool.map(functionAt2, range(5), 5);
    const good = pool.map(cube, range(10), 1);
    const err = await rejectionOf(bad);
    assert.equal((err as Error).name, "DataCloneError", Deno.inspect(err));
    assert.match((err as Error).message, /notCloneable|function/);
    assert.deepEqual(await within(good), range(10).map(cube));
  });

  Deno.test(`Pool.map() rejects when a result in a big chunk cannot be cloned ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const err = await rejectionOf(pool.map(functionAt2, range(100), 100));
    assert.equal((err as Error).name, "DataCloneError", Deno.inspect(err));
    assert.deepEqual(
      await within(pool.map(functionAt2, [0, 1, 3], 1)),
      [0, 1, 3],
    );
  });

  Deno.test(`Pool.apply() DataCloneError for a result says it came from the worker ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const err = await rejectionOf(pool.apply(returnFunction));
    const message = (err as Error).message;
    assert.match(message, /result/);
    assert.doesNotMatch(
      message,
      /to a worker/,
      "a result is sent from the worker, not to it",
    );
  });

  Deno.test(`Pool.apply() rejects a result structured clone cannot carry with a DataCloneError ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const err = await rejectionOf(pool.apply(returnFunction));
    assert.equal((err as Error).name, "DataCloneError", `${Deno.inspect(err)}`);
    assert.match((err as Error).message, /function/);
    // The worker is fine: the next call works.
    assert.equal(await within(pool.apply(add, [1, 1])), 2);
  });

  // ---- scoped permissions -----------------------------------------------------

  Deno.test(`Pool({ permissions: "none" }) runs pure targets; a file read rejects with NotCapable ${tag}`, async () => {
    await using pool = openPool({
      isolation,
      processes: 1,
      permissions: "none",
    });
    assert.deepEqual(await within(pool.map(cube, [1, 2, 3])), [1, 8, 27]);
    const err = await rejectionOf(pool.apply(readText, [DENO_JSON]));
    assert.ok(
      err instanceof Deno.errors.NotCapable,
      `got ${Deno.inspect(err)}`,
    );
    assert.equal(await within(pool.apply(cube, [4])), 64);
  });

  Deno.test(`Pool({ permissions: { read: [file] } }) may read that file only ${tag}`, async () => {
    await using pool = openPool({
      isolation,
      processes: 1,
      permissions: { read: [DENO_JSON] },
    });
    const text = await within(pool.apply(readText, [DENO_JSON]));
    assert.match(text, /@parallel\/multiprocessing/);
    const err = await rejectionOf(pool.apply(readText, [MOD_TS]));
    assert.ok(
      err instanceof Deno.errors.NotCapable,
      `got ${Deno.inspect(err)}`,
    );
  });

  Deno.test(`Pool.apply() still moves a transfer()'d buffer when another call in the same batch cannot be sent ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    // Many tiny tasks widen the pipeline, so the next two calls leave in
    // one message; that message fails for the symbol, and each call is then
    // sent alone.
    await within(pool.map(cube, range(2000), 1));
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const moved = pool.apply(sumBytes, [transfer(bytes)]);
    const bad = pool.apply(echo, [Symbol("not cloneable")]);
    const err = await rejectionOf(bad);
    assert.equal((err as Error).name, "DataCloneError");
    assert.equal(await within(moved), 10);
    assert.equal(bytes.byteLength, 0, "the buffer was copied, not moved");
  });
}
