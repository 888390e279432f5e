// Behaviour of Value and SharedArray: typecodes, locks, across processes and
// in pool tasks.
import assert from "node:assert/strict";
import {
  Lock,
  Pool,
  Process,
  RLock,
  SharedArray,
  type Typecode,
  Value,
} from "@parallel/multiprocessing";
import { incrementLocked, sumArray } from "../fixtures/shared_targets.ts";
import { finish, fixture } from "../fixtures/harness.ts";

const module = fixture("shared_targets.ts");

Deno.test("Value holds each typecode's numbers, wrapping integers as C does", () => {
  const cases: [Typecode, number, number][] = [
    ["b", 130, -126],
    ["B", 257, 1],
    ["h", 40_000, -25_536],
    ["H", -1, 65_535],
    ["i", 2 ** 31, -(2 ** 31)],
    ["I", -1, 2 ** 32 - 1],
    ["l", 2 ** 31 + 1, -(2 ** 31) + 1],
    ["L", 2 ** 32 + 5, 5],
    ["f", 0.1, Math.fround(0.1)],
    ["d", 0.1, 0.1],
  ];
  for (const [t, put, got] of cases) {
    const v = new Value(t, put);
    assert.equal(v.value, got, `typecode ${t}`);
    assert.equal(v.typecode, t);
  }
  const q = new Value("q", -(2n ** 63n));
  assert.equal(q.value, -(2n ** 63n));
  const Q = new Value("Q", 2n ** 64n - 1n);
  assert.equal(Q.value, 2n ** 64n - 1n);
  assert.equal(new Value("i").value, 0);
  assert.equal(new Value("q").value, 0n);
});

Deno.test("Value rejects a bad typecode with a TypeError listing the valid ones, and values that do not fit", () => {
  assert.throws(
    () => new Value("x" as Typecode, 0),
    (e: Error) =>
      e instanceof TypeError &&
      e.message.includes('"x"') &&
      e.message.includes(
        '"b", "B", "h", "H", "i", "I", "l", "L", "q", "Q", "f", "d"',
      ),
  );
  assert.throws(() => new Value("i", 1.5), /integer/);
  assert.throws(() => new Value("q", 1 as unknown as bigint), /bigint/);
  const v = new Value("d", 0);
  assert.throws(() => {
    v.value = "1" as unknown as number;
  }, TypeError);
});

Deno.test("Value.getLock() gives an RLock by default, the lock given, or throws for lock: false", () => {
  assert.ok(new Value("i", 0).getLock() instanceof RLock);
  const lock = new Lock();
  assert.equal(new Value("i", 0, { lock }).getLock(), lock);
  assert.throws(
    () => new Value("i", 0, { lock: false }).getLock(),
    /lock: false/,
  );
  assert.throws(
    () => new Value("i", 0, { lock: 1 as unknown as boolean }),
    TypeError,
  );
});

Deno.test("Value with its lock counts 2 processes × 100,000 increments exactly", async () => {
  const counter = new Value("i", 0);
  const ps = [1, 2].map(() =>
    new Process({ target: incrementLocked, args: [counter, 100_000], module })
  );
  try {
    for (const p of ps) p.start();
    for (const p of ps) {
      await finish(p, 30_000);
      assert.equal(p.exitCode, 0, String(p.error));
    }
    assert.equal(counter.value, 200_000);
  } finally {
    for (const p of ps) if (p.isAlive()) p.terminate();
  }
});

Deno.test("SharedArray reads, writes, iterates and copies its elements", () => {
  const arr = new SharedArray("h", [1, -2, 3]);
  assert.equal(arr.length, 3);
  arr.set(1, 70_000);
  assert.equal(arr.get(1), 70_000 - 65_536);
  assert.deepEqual([...arr], [1, 4464, 3]);
  assert.deepEqual(arr.toArray(), [1, 4464, 3]);
  assert.ok(arr.asTypedArray() instanceof Int16Array);
  assert.ok(arr.asTypedArray().buffer instanceof SharedArrayBuffer);
  assert.throws(() => arr.get(3), RangeError);
  assert.throws(() => arr.get(-1), RangeError);
  assert.throws(() => arr.set(0, 0.5), TypeError);
  const big = new SharedArray("Q", [1n, 2n]);
  assert.deepEqual(big.toArray(), [1n, 2n]);
  assert.deepEqual(new SharedArray("d", 2).toArray(), [0, 0]);
  assert.throws(() => new SharedArray("d", -1), RangeError);
  assert.throws(() => new SharedArray("z" as Typecode, 1), TypeError);
  assert.ok(new SharedArray("i", 1).getLock() instanceof RLock);
  assert.throws(() => new SharedArray("i", 1, { lock: false }).getLock());
});

Deno.test("SharedArray passes to a pool task without copying: the task sums it", async () => {
  const n = 100_000;
  const arr = new SharedArray("d", n);
  const a = arr.asTypedArray();
  for (let i = 0; i < n; i++) a[i] = i;
  await using pool = new Pool({ processes: 2, module });
  assert.equal(await pool.apply(sumArray, [arr]), (n * (n - 1)) / 2);
  a[0] = 1e9; // the worker reads the same memory
  assert.equal(await pool.apply(sumArray, [arr]), (n * (n - 1)) / 2 + 1e9);
});

Deno.test(`SharedArray passes to a pool task in a pool with permissions "none"`, async () => {
  const arr = new SharedArray("d", [1.5, 2.5, 3]);
  await using pool = new Pool({ processes: 1, module, permissions: "none" });
  assert.equal(await pool.apply(sumArray, [arr]), 7);
});
