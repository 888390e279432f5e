// Pool basics: map, starmap, apply, chunking, inputs, progress, stats and
// transfer.
import assert from "node:assert/strict";
import {
  AsyncResult,
  cpuCount,
  Pool,
  progressBar,
  transfer,
} from "@parallel/multiprocessing";
import {
  add,
  cube,
  echo,
  makeBytes,
  sleepy,
  sumBytes,
  tagged,
  throwAt3,
  uneven,
} from "../fixtures/pool_targets.ts";
import {
  assertChunks,
  delay,
  ISOLATIONS,
  openPool,
  range,
  rejectionOf,
  runDeno,
  TARGETS,
  typeCheck,
  within,
} from "../fixtures/harness.ts";

for (const isolation of ISOLATIONS) {
  const tag = `(isolation "${isolation}")`;

  Deno.test(`Pool.map() keeps input order when later items finish first ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const input = range(40);
    const got = await within(pool.map(uneven, input, 1));
    assert.deepEqual(got, input.map((x) => 2 * x));
  });

  Deno.test(`Pool.map() gives the cubes of the Python tutorial ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    assert.deepEqual(
      await within(pool.map(cube, [0, 1, 2, 3])),
      [0, 1, 8, 27],
    );
  });

  Deno.test(`Pool.map() takes an async iterable input ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    async function* numbers() {
      for (let i = 0; i < 25; i++) {
        if (i % 5 === 0) await delay(1); // an input that really is async
        yield i;
      }
    }
    assert.deepEqual(
      await within(pool.map(uneven, numbers())),
      range(25).map((x) => 2 * x),
    );
  });

  Deno.test(`Pool.map() takes a sync generator, a Set and a typed array ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    function* numbers() {
      for (let i = 0; i < 10; i++) yield i;
    }
    assert.deepEqual(
      await within(pool.map(cube, numbers())),
      range(10).map(cube),
    );
    assert.deepEqual(
      await within(pool.map(cube, new Set([3, 1, 2]))),
      [27, 1, 8],
    );
    assert.deepEqual(
      await within(pool.map(cube, new Int32Array([4, 5]))),
      [64, 125],
    );
  });

  Deno.test(`Pool.map() of an empty input is [] ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    assert.deepEqual(await within(pool.map(cube, [])), []);
    assert.deepEqual(await within(pool.map(cube, [], 3)), []);
    async function* none(): AsyncGenerator<number> {}
    assert.deepEqual(await within(pool.map(cube, none())), []);
    assert.deepEqual(await within(pool.starmap(add, [])), []);
  });

  Deno.test(`Pool.map() runs each chunk of an explicit chunksize in one worker ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const got = await within(pool.map(tagged, range(16), 4));
    assert.deepEqual(got.map(([x]) => x), range(16));
    assertChunks(got.map(([, pid]) => pid), 4);
  });

  Deno.test(`Pool.map() default chunksize is ceil(n / (4 * processes)) ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    // 40 items, 2 processes: chunks of 5.
    const got = await within(pool.map(tagged, range(40)));
    assert.deepEqual(got.map(([x]) => x), range(40));
    assertChunks(got.map(([, pid]) => pid), 5);
  });

  Deno.test(`Pool.map() default chunksize is 1 for an input of unknown length ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    function* numbers() {
      for (let i = 0; i < 6; i++) yield i;
    }
    const got = await within(pool.map(tagged, numbers()));
    assert.deepEqual(got.map(([x]) => x), range(6));
    assertChunks(got.map(([, pid]) => pid), 1);
  });

  Deno.test(`Pool.map() with big chunks gives every result in order ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    assert.deepEqual(
      await within(pool.map(cube, range(1_000), 250)),
      range(1_000).map(cube),
    );
    // Default chunksize: 2000 / 8 = 250 items per chunk.
    assert.deepEqual(
      await within(pool.map(cube, range(2_000))),
      range(2_000).map(cube),
    );
  });

  Deno.test(`Pool.starmap() calls fn(...args) per item, in input order ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const input = range(30).map((i) => [i, 100 * i] as [number, number]);
    assert.deepEqual(
      await within(pool.starmap(add, input)),
      range(30).map((i) => 101 * i),
    );
    // Uneven times, chunksize 1, async iterable input.
    async function* pairs() {
      for (let i = 0; i < 8; i++) yield [(8 - i) * 15, i] as [number, number];
    }
    assert.deepEqual(
      await within(pool.starmap(sleepy, pairs(), 1)),
      range(8),
    );
  });

  Deno.test(`Pool.apply() runs one call and gives its result ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    assert.equal(await within(pool.apply(add, [2, 40])), 42);
    assert.equal(await within(pool.apply(sleepy, [20, "late"])), "late");
    assert.deepEqual(
      await within(pool.apply(echo, [{ a: [1, 2], m: new Map([[1, 2]]) }])),
      { a: [1, 2], m: new Map([[1, 2]]) },
    );
  });

  Deno.test(`Pool.apply() runs concurrent calls in parallel on the workers ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    await within(pool.apply(cube, [1])); // workers started and warm
    await within(pool.map(cube, [1, 2], 1));
    const t0 = performance.now();
    const got = await within(
      Promise.all([pool.apply(sleepy, [400, 1]), pool.apply(sleepy, [400, 2])]),
    );
    const ms = performance.now() - t0;
    assert.deepEqual(got, [1, 2]);
    assert.ok(ms < 780, `two 400 ms calls on 2 workers took ${ms} ms`);
  });

  Deno.test(`Pool.mapAsync(), starmapAsync() and applyAsync() give AsyncResults with callbacks ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const called: unknown[] = [];
    const m = pool.mapAsync(cube, [1, 2, 3], {
      chunksize: 1,
      callback: (v) => called.push(["map", v]),
    });
    const s = pool.starmapAsync(add, [[1, 2], [3, 4]], {
      callback: (v) => called.push(["starmap", v]),
    });
    const a = pool.applyAsync(add, [5, 6], {
      callback: (v) => called.push(["apply", v]),
    });
    assert.ok(m instanceof AsyncResult);
    assert.ok(s instanceof AsyncResult);
    assert.ok(a instanceof AsyncResult);
    assert.deepEqual(await within(m.get()), [1, 8, 27]);
    assert.deepEqual(await within(s.get()), [3, 7]);
    assert.equal(await within(a.get()), 11);
    assert.deepEqual(
      called.sort((x, y) => String(x).localeCompare(String(y))),
      [["apply", 11], ["map", [1, 8, 27]], ["starmap", [3, 7]]],
    );
  });

  Deno.test(`Pool.mapAsync() calls errorCallback with the task's error ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const errors: unknown[] = [];
    const values: unknown[] = [];
    const r = pool.mapAsync(throwAt3, range(6), {
      callback: (v) => values.push(v),
      errorCallback: (e) => errors.push(e),
    });
    const err = await rejectionOf(r.get());
    assert.ok(err instanceof RangeError);
    assert.deepEqual(errors, [err]);
    assert.deepEqual(values, []);
    assert.equal(r.successful(), false);
  });

  Deno.test(`Pool.map() calls onProgress with (done, total) up to (n, n) ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const calls: [number, number | undefined][] = [];
    const got = await within(
      pool.map(uneven, range(20), 1, {
        onProgress: (done, total) => calls.push([done, total]),
      }),
    );
    assert.deepEqual(got, range(20).map((x) => 2 * x));
    assert.ok(calls.length >= 2, `only ${calls.length} progress calls`);
    assert.deepEqual(calls.at(-1), [20, 20]);
    for (let i = 0; i < calls.length; i++) {
      const [done, total] = calls[i]!;
      assert.equal(total, 20);
      assert.ok(done >= 1 && done <= 20, `done ${done}`);
      if (i > 0) assert.ok(done > calls[i - 1]![0], `not increasing: ${calls}`);
    }
  });

  Deno.test(`Pool.map() calls onProgress without a total for an input of unknown length ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const calls: [number, number | undefined][] = [];
    function* numbers() {
      for (let i = 0; i < 5; i++) yield i;
    }
    await within(
      pool.map(cube, numbers(), 1, {
        onProgress: (done, total) => calls.push([done, total]),
      }),
    );
    assert.equal(calls.at(-1)?.[0], 5);
    assert.ok(calls.every(([, total]) => total === undefined), `${calls}`);
  });
}

Deno.test("progressBar() returns an onProgress that prints nothing when stderr is not a terminal", async () => {
  // In this process stderr may be a terminal; in the subprocess it is a pipe.
  const bar = progressBar("label");
  assert.equal(typeof bar, "function");
  const r = await runDeno(["run", "-R", "tests/fixtures/pool_progress.ts"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "50 0 117649\n");
  assert.equal(r.stderr, "");
});

for (const isolation of ISOLATIONS) {
  const tag = `(isolation "${isolation}")`;

  Deno.test(`Pool.stats() counts the work and times it ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const before = pool.stats();
    assert.equal(before.processes, 2);
    assert.equal(before.completed, 0);
    assert.equal(before.failed, 0);
    await within(pool.map(cube, range(100)));
    const s = pool.stats();
    assert.equal(s.processes, 2);
    assert.equal(s.completed, 100);
    assert.equal(s.failed, 0);
    assert.equal(s.busy, 0);
    assert.equal(s.queued, 0);
    assert.ok(s.utilization >= 0 && s.utilization <= 1, `${s.utilization}`);
    for (const t of [s.runTime, s.waitTime]) {
      for (const v of [t.mean, t.p50, t.p99, t.max]) {
        assert.equal(typeof v, "number");
        assert.ok(Number.isFinite(v) && v >= 0, `timing ${Deno.inspect(t)}`);
      }
      assert.ok(t.p50 <= t.p99 && t.p99 <= t.max, `timing ${Deno.inspect(t)}`);
      assert.ok(t.mean <= t.max, `timing ${Deno.inspect(t)}`);
    }
    // A task that runs 100 ms shows in the run time and the utilization.
    await within(pool.apply(sleepy, [100]));
    const t = pool.stats();
    assert.equal(t.completed, 101);
    assert.ok(t.runTime.max >= 90, `runTime ${Deno.inspect(t.runTime)}`);
    assert.ok(t.utilization > 0, `utilization ${t.utilization}`);
  });

  Deno.test(`Pool.stats() counts failed items ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    await rejectionOf(pool.map(throwAt3, range(6), 1));
    assert.equal(pool.stats().failed, 1);
  });

  Deno.test(`Pool.stats() counts busy workers and queued items ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    await within(pool.apply(cube, [2])); // the worker is started
    const idle = pool.stats();
    assert.equal(idle.busy, 0);
    assert.equal(idle.queued, 0);
    const work = pool.starmap(sleepy, range(200).map(() => [2] as [number]), 1);
    const running = pool.stats();
    assert.equal(running.busy, 1);
    assert.ok(
      running.queued > 0 && running.queued < 200,
      `queued ${running.queued}`,
    );
    await within(work);
    const after = pool.stats();
    assert.equal(after.busy, 0);
    assert.equal(after.queued, 0);
    assert.equal(after.completed, 201);
  });

  Deno.test(`transfer() moves an argument's buffer to the worker ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const u8 = new Uint8Array(1000).fill(3);
    assert.equal(await within(pool.apply(sumBytes, [transfer(u8)])), 3000);
    assert.equal(u8.byteLength, 0, "the sender's buffer is not detached");
    // Without transfer() the buffer is copied and stays usable.
    const kept = new Uint8Array(10).fill(1);
    assert.equal(await within(pool.apply(sumBytes, [kept])), 10);
    assert.equal(kept.byteLength, 10);
  });

  Deno.test(`transfer() moves map items to the workers ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const a = new Uint8Array(100).fill(1);
    const b = new Uint8Array(200).fill(2);
    assert.deepEqual(
      await within(pool.map(sumBytes, [transfer(a), transfer(b)])),
      [100, 400],
    );
    assert.equal(a.byteLength, 0);
    assert.equal(b.byteLength, 0);
  });

  Deno.test(`transfer() of a target's result gives the caller the value ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    // (Typed unknown: see the type test below.)
    const got: unknown = await within(pool.apply(makeBytes, [4096]));
    assert.ok(got instanceof Uint8Array, `got ${Deno.inspect(got)}`);
    assert.equal(got.length, 4096);
    assert.ok(got.every((b) => b === 7));
    const many: unknown[] = await within(pool.map(makeBytes, [1, 2, 3]));
    assert.deepEqual(many.map((u) => (u as Uint8Array).length), [1, 2, 3]);
    // In a big chunk too.
    const big: unknown[] = await within(
      pool.map(makeBytes, range(100).map((i) => i % 7), 100),
    );
    assert.deepEqual(
      big.map((u) => (u as Uint8Array).length),
      range(100).map((i) => i % 7),
    );
    assert.ok(big.every((u) => u instanceof Uint8Array));
  });
}

Deno.test("transfer() type-checks where the value goes, and a target returning transfer(x) gives x's type", async () => {
  // The documented use: `pool.apply(sum, [transfer(data)])` with
  // `sum(data: Float64Array)`, and `return transfer(result)` in a target.
  const r = await typeCheck(`
import { Pool, transfer } from "@parallel/multiprocessing";
export function sum(data: Float64Array): number {
  return data.reduce((a, b) => a + b, 0);
}
export function make(n: number) {
  return transfer(new Uint8Array(n));
}
export async function use(pool: Pool): Promise<void> {
  const data = new Float64Array(8).fill(1);
  const total: number = await pool.apply(sum, [transfer(data)]);
  const totals: number[] = await pool.map(sum, [transfer(data)]);
  const bytes: Uint8Array = await pool.apply(make, [4]);
  const many: Uint8Array[] = await pool.map(make, [1, 2]);
  console.log(total, totals, bytes.length, many.length);
}
`);
  assert.equal(r.code, 0, r.stderr);
});

Deno.test("Pool() type-checks an initializer with typed parameters", async () => {
  // As in Python: Pool(initializer=set_up, initargs=("hello",)).
  const r = await typeCheck(`
import { Pool } from "@parallel/multiprocessing";
export function setUp(greeting: string, times: number): void {
  console.log(greeting.repeat(times));
}
export async function slowSetUp(greeting: string): Promise<void> {
  await Promise.resolve(greeting);
}
export const a = new Pool({ initializer: setUp, initargs: ["hi", 2] });
export const b = new Pool({ processes: 2, initializer: slowSetUp, initargs: ["hi"] });
`);
  assert.equal(r.code, 0, r.stderr);
});

Deno.test("Pool() with no processes uses cpuCount() workers", async () => {
  const pool = new Pool({ module: TARGETS });
  try {
    assert.equal(pool.stats().processes, cpuCount());
  } finally {
    pool.close();
    await within(pool.join());
  }
});
