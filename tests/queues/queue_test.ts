// Behaviour of Queue, JoinableQueue and SimpleQueue: in one process, between
// processes, in pool tasks; timeouts, closing, capacity.
import assert from "node:assert/strict";
import {
  Empty,
  EOFError,
  Full,
  JoinableQueue,
  Pool,
  Process,
  Queue,
  SimpleQueue,
} from "@parallel/multiprocessing";
import {
  consumeSum,
  drainJoinable,
  produce,
  putAndDouble,
} from "../fixtures/shared_targets.ts";
import { noop } from "../fixtures/targets.ts";
import { delay, finish, fixture, within } from "../fixtures/harness.ts";

const module = fixture("shared_targets.ts");

Deno.test("Queue.get() receives 2 producers × 10,000 items exactly once, in each producer's order", async () => {
  const queue = new Queue<[number, number]>();
  const producers = [1, 2].map((id) =>
    new Process({ target: produce, args: [queue, id, 10_000], module })
  );
  try {
    for (const p of producers) p.start();
    const next = new Map([[1, 0], [2, 0]]);
    for (let k = 0; k < 20_000; k++) {
      const [id, i] = await queue.get(10_000);
      assert.equal(i, next.get(id), `producer ${id}: item ${i} out of order`);
      next.set(id, i + 1);
    }
    assert.deepEqual([...next.values()], [10_000, 10_000]);
    assert.ok(queue.empty());
    for (const p of producers) {
      await finish(p);
      assert.equal(p.exitCode, 0);
    }
  } finally {
    for (const p of producers) if (p.isAlive()) p.terminate();
  }
});

Deno.test("Queue.get() in a process receives items put by the main program", async () => {
  const queue = new Queue<number>({ maxsize: 10 });
  const out = new Queue<number>();
  const p = new Process({
    target: consumeSum,
    args: [queue, 1000, out],
    module,
  });
  try {
    p.start();
    for (let i = 0; i < 1000; i++) await queue.put(i, 10_000);
    assert.equal(await out.get(10_000), (999 * 1000) / 2);
    await finish(p);
    assert.equal(p.exitCode, 0);
  } finally {
    if (p.isAlive()) p.terminate();
  }
});

Deno.test("Queue.get() rejects with Empty saying it timed out, within its timeout", async () => {
  const queue = new Queue<number>();
  const t0 = performance.now();
  const err = await within(queue.get(100), 5_000).catch((e) => e);
  const ms = performance.now() - t0;
  assert.ok(err instanceof Empty, String(err));
  assert.equal(err.name, "Empty");
  assert.match(err.message, /timed out after 100 ms/);
  assert.ok(ms >= 90 && ms < 2_000, `took ${ms} ms`);
});

Deno.test("Queue.getNowait() throws Empty and putNowait() throws Full", () => {
  const queue = new Queue<string>(1);
  assert.throws(() => queue.getNowait(), Empty);
  queue.putNowait("a");
  assert.ok(queue.full());
  assert.throws(() => queue.putNowait("b"), Full);
  assert.equal(queue.getNowait(), "a");
});

Deno.test("Queue.put() waits while maxsize items are on the queue, and rejects with Full after its timeout", async () => {
  const queue = new Queue<number>({ maxsize: 2 });
  await queue.put(1);
  await queue.put(2);
  const err = await within(queue.put(3, 50), 5_000).catch((e) => e);
  assert.ok(err instanceof Full, String(err));
  assert.match(err.message, /timed out after 50 ms/);
  let done = false;
  const waiting = queue.put(3, 5_000).then(() => done = true);
  // Deliberate: a while later, the put still waits for room.
  await delay(20);
  assert.equal(done, false);
  assert.equal(await queue.get(), 1);
  await within(waiting, 5_000);
  assert.deepEqual([queue.getNowait(), queue.getNowait()], [2, 3]);
});

Deno.test("Queue.put() waits for bytes when capacityBytes are used up", async () => {
  const queue = new Queue<string>({ capacityBytes: 64 });
  const item = "x".repeat(40);
  await queue.put(item);
  const err = await queue.put(item, 30).catch((e) => e);
  assert.ok(err instanceof Full);
  const waiting = queue.put(item, 5_000);
  assert.equal(await queue.get(), item);
  await within(waiting, 5_000);
  assert.equal(queue.qsize(), 1);
});

Deno.test("Queue.put() rejects an item larger than capacityBytes with a RangeError", async () => {
  const queue = new Queue<string>({ capacityBytes: 64 });
  await assert.rejects(
    queue.put("y".repeat(100)),
    (e: Error) =>
      e instanceof RangeError && /larger "capacityBytes"/.test(e.message),
  );
});

Deno.test("Queue keeps items whole across the end of its buffer", async () => {
  const queue = new Queue<string>({ capacityBytes: 256 });
  const sent: string[] = [];
  const producer = (async () => {
    for (let i = 0; i < 500; i++) {
      const s = `${i}:` + "z".repeat(i % 97);
      sent.push(s);
      await queue.put(s, 5_000);
    }
  })();
  const got: string[] = [];
  for (let i = 0; i < 500; i++) got.push(await queue.get(5_000));
  await producer;
  assert.deepEqual(got, sent);
});

Deno.test("Queue carries structured-clone values, and names what it cannot", async () => {
  const queue = new Queue<unknown>();
  const values = [
    0,
    -0,
    NaN,
    "héllo \ud800",
    null,
    undefined,
    true,
    10n ** 30n,
    { a: [1, { b: "c" }], d: null },
    [1, , 3],
    new Map([[1, new Set(["x"])]]),
    new Date(0),
    new Uint8Array([1, 2, 3]),
    new RangeError("bad", { cause: 1 }),
  ];
  for (const v of values) await queue.put(v);
  for (const v of values) assert.deepEqual(await queue.get(), v);
  const err = await queue.put({ f: () => 1 }).catch((e) => e);
  assert.equal(err.name, "DataCloneError");
  assert.match(err.message, /item\.f/);
});

Deno.test("Queue.close() refuses puts; get() returns what is left, then rejects with EOFError", async () => {
  const queue = new Queue<number>();
  await queue.put(1);
  queue.close();
  queue.close();
  await assert.rejects(queue.put(2), /queue: it is closed/);
  assert.throws(() => queue.putNowait(2), /it is closed/);
  assert.equal(await queue.get(), 1);
  await assert.rejects(queue.get(1_000), EOFError);
  assert.throws(() => queue.getNowait(), EOFError);
});

Deno.test("Queue.close() wakes a waiting get() with EOFError", async () => {
  const queue = new Queue<number>();
  const waiting = queue.get(5_000);
  // Deliberate: the close must come while get() waits.
  const closing = delay(20).then(() => queue.close());
  await assert.rejects(within(waiting, 5_000), /closed and empty/);
  await closing;
});

Deno.test("Queue is async iterable until closed and empty", async () => {
  const queue = new Queue<number>();
  for (let i = 0; i < 3; i++) await queue.put(i);
  queue.close();
  const got: number[] = [];
  for await (const x of queue) got.push(x);
  assert.deepEqual(got, [0, 1, 2]);
});

Deno.test("new Queue() rejects a bad maxsize or capacityBytes with a RangeError", () => {
  assert.throws(() => new Queue(-1), RangeError);
  assert.throws(() => new Queue({ maxsize: 1.5 }), RangeError);
  assert.throws(() => new Queue({ capacityBytes: 10 }), /capacityBytes/);
});

Deno.test("JoinableQueue.join() resolves once a process marked every item done", async () => {
  const queue = new JoinableQueue<number>();
  const p = new Process({
    target: drainJoinable,
    args: [queue],
    module,
    daemon: true,
  });
  try {
    for (let i = 0; i < 100; i++) await queue.put(i);
    assert.equal(await queue.join(0), false);
    p.start();
    assert.equal(await queue.join(10_000), true);
    assert.equal(queue.empty(), true);
  } finally {
    p.terminate();
  }
});

Deno.test("JoinableQueue.taskDone() throws when called more times than items were put", async () => {
  const queue = new JoinableQueue<number>();
  await queue.put(1);
  await queue.get();
  queue.taskDone();
  assert.throws(() => queue.taskDone(), /more times than items/);
  assert.equal(await queue.join(), true);
});

Deno.test("SimpleQueue.put() and get() pass items in order; close() ends it", async () => {
  const queue = new SimpleQueue<number[]>();
  assert.equal(queue.empty(), true);
  await queue.put([1]);
  await queue.put([2]);
  assert.equal(queue.empty(), false);
  assert.deepEqual(await queue.get(), [1]);
  assert.deepEqual(await queue.get(), [2]);
  queue.close();
  await assert.rejects(queue.put([3]), /closed/);
  await assert.rejects(queue.get(), EOFError);
});

Deno.test("Queue passes to pool tasks as an argument", async () => {
  await using pool = new Pool({ processes: 2, module });
  const queue = new Queue<number>();
  const doubled = await pool.starmap(putAndDouble, [[queue, 1], [queue, 2], [
    queue,
    3,
  ]]);
  assert.deepEqual(doubled, [2, 4, 6]);
  const got = [queue.getNowait(), queue.getNowait(), queue.getNowait()];
  assert.deepEqual(got.sort(), [1, 2, 3]);
});

Deno.test("Queue refuses every operation, without hanging, after a process ended in the middle of one", async () => {
  const queue = new Queue<number>();
  await queue.put(1);
  const p = new Process({ target: noop, module: fixture("targets.ts") });
  p.start();
  await finish(p);
  // As if p had been terminated while it held the queue's guard word.
  Atomics.store(queue.$ring.h, 0, p.pid!);
  await assert.rejects(
    within(queue.get(1_000), 5_000),
    new RegExp(`process ${p.pid} ended in the middle of a queue operation`),
  );
  assert.throws(() => queue.putNowait(2), /create a new queue/);
});
