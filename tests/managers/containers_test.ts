// The manager's containers in one process: CPython's _TestContainers
// (test_list, test_dict, test_namespace from Lib/test/_test_multiprocessing.py)
// ported onto copied values (no nested proxies, no del, no hidden names, no
// in-place operators), then each method's Python meaning and errors.
import assert from "node:assert/strict";
import {
  AbandonedLockError,
  Empty,
  Full,
  KeyError,
  Manager,
  TimeoutError,
  ValueError,
} from "@parallel/multiprocessing";
import { failureOf, rejectionOf, within } from "../fixtures/harness.ts";

const range = (a: number, b?: number) =>
  b === undefined
    ? Array.from({ length: a }, (_, i) => i)
    : Array.from({ length: b - a }, (_, i) => a + i);

// ---- CPython _TestContainers ----------------------------------------------------

Deno.test("test_list: a managed list, as CPython tests it", async () => {
  await using manager = new Manager();
  const a = manager.list(range(10));
  assert.deepEqual(await a.toArray(), range(10));

  const b = manager.list<number>();
  assert.deepEqual(await b.toArray(), []);

  await b.extend(range(5));
  assert.deepEqual(await b.toArray(), range(5));

  assert.equal(await b.get(2), 2);
  assert.deepEqual(await b.slice(2, 10), [2, 3, 4]);

  // b *= 2: no in-place operators; the same with extend().
  await b.extend(await b.toArray());
  assert.deepEqual(await b.toArray(), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);

  // b + [5, 6] is a plain list.
  assert.deepEqual([...await b.toArray(), 5, 6], [
    0,
    1,
    2,
    3,
    4,
    0,
    1,
    2,
    3,
    4,
    5,
    6,
  ]);

  assert.deepEqual(await a.toArray(), range(10));

  // d = [a, b]; e = manager.list(d): values are copies (no nested proxies).
  const e = manager.list([await a.toArray(), await b.toArray()]);
  assert.deepEqual(await e.toArray(), [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [0, 1, 2, 3, 4, 0, 1, 2, 3, 4],
  ]);

  // f = manager.list([a]); a.append('hello'): f holds a copy of a's items.
  const f = manager.list<unknown>([await a.toArray()]);
  await a.append("hello" as unknown as number);
  assert.deepEqual(await a.toArray(), [...range(10), "hello"]);
  assert.deepEqual(await f.get(0), range(10));
});

Deno.test("test_list_proxy_in_list: copies of lists in a list, changed by set()", async () => {
  await using manager = new Manager();
  const a = manager.list([range(3), range(3), range(3)]);
  assert.deepEqual(await a.toArray(), [range(3), range(3), range(3)]);
  // a[0][-1] = 55: read the item, change the copy, write it back.
  const first = await a.get(0);
  first[first.length - 1] = 55;
  await a.set(0, first);
  assert.deepEqual(await a.get(0), [0, 1, 55]);
  for (const i of [1, 2]) assert.deepEqual(await a.get(i), [0, 1, 2]);
  const second = await a.get(1);
  assert.equal(second.pop(), 2);
  await a.set(1, second);
  assert.equal((await a.get(1)).length, 2);
  for (const i of [0, 2]) assert.equal((await a.get(i)).length, 3);
});

Deno.test("test_dict: a managed dict, as CPython tests it", async () => {
  await using manager = new Manager();
  const d = manager.dict<number, string>();
  const indices = range(65, 70);
  for (const i of indices) await d.set(i, String.fromCharCode(i));
  assert.deepEqual(
    await d.toMap(),
    new Map(indices.map((i) => [i, String.fromCharCode(i)])),
  );
  assert.deepEqual((await d.keys()).sort(), indices);
  assert.deepEqual(
    (await d.values()).sort(),
    indices.map((i) => String.fromCharCode(i)),
  );
  assert.deepEqual(
    (await d.entries()).sort(),
    indices.map((i) => [i, String.fromCharCode(i)]),
  );
});

Deno.test("test_dict_iter: the keys, in insertion order", async () => {
  await using manager = new Manager();
  const d = manager.dict<number, string>();
  const indices = range(65, 70);
  for (const i of indices) await d.set(i, String.fromCharCode(i));
  assert.deepEqual(await d.keys(), indices);
  await d.clear();
  assert.deepEqual(await d.keys(), []);
});

Deno.test("test_dict_proxy_nested: dicts of copies, written back with set()", async () => {
  await using manager = new Manager();
  const pets = manager.dict({ ferrets: 2, hamsters: 4 });
  const supplies = manager.dict({ water: 10, feed: 3 });
  const d = manager.dict({
    pets: await pets.toMap(),
    supplies: await supplies.toMap(),
  });
  assert.equal(await supplies.get("water"), 10);
  assert.equal((await d.get("supplies"))?.get("water"), 10);

  // d['supplies']['blankets'] = 5, on the copy.
  const s = (await d.get("supplies"))!;
  s.set("blankets", 5);
  await d.set("supplies", s);
  assert.equal((await d.get("supplies"))?.get("blankets"), 5);
  // The original dict is another object: unchanged.
  assert.equal(await supplies.get("blankets" as "water"), undefined);

  await d.clear();
  assert.equal(await d.size(), 0);
  assert.equal(await supplies.get("water"), 10);
  assert.equal(await pets.get("hamsters"), 4);

  const l = manager.list([await pets.toMap(), await supplies.toMap()]);
  const p = (await l.get(0)) as Map<string, number>;
  p.set("marmots", 1);
  await l.set(0, p);
  assert.equal(((await l.get(0)) as Map<string, number>).get("marmots"), 1);
  assert.equal(await pets.get("marmots" as "ferrets"), undefined);

  const outer = manager.list<unknown>([[88, 99], await l.toArray()]);
  assert.ok(Array.isArray(await outer.get(0)));
  const last = (await outer.get(-1)) as Map<string, number>[];
  assert.equal(last.at(-1)?.get("feed"), 3);
});

Deno.test("test_namespace: names and values", async () => {
  await using manager = new Manager();
  const n = manager.namespace<Record<string, string>>();
  await n.set("name", "Bob");
  await n.set("job", "Builder");
  assert.deepEqual([await n.get("name"), await n.get("job")], [
    "Bob",
    "Builder",
  ]);
  assert.deepEqual(await n.toObject(), { name: "Bob", job: "Builder" });
  assert.equal(await n.get("missing"), undefined);
});

// ---- dict -------------------------------------------------------------------------

Deno.test("DictProxy: get, set, has, delete, pop, setDefault, update, size, clear", async () => {
  await using manager = new Manager();
  const d = manager.dict<string, number>([["a", 1]]);
  assert.equal(await d.get("a"), 1);
  assert.equal(await d.get("zz"), undefined);
  assert.equal(await d.get("zz", 0), 0);
  assert.equal(await d.get("a", 0), 1);
  assert.equal(await d.has("a"), true);
  assert.equal(await d.has("zz"), false);
  assert.equal(await d.setDefault("a", 5), 1);
  assert.equal(await d.setDefault("b", 2), 2);
  assert.equal(await d.get("b"), 2);
  await d.update({ c: 3 });
  await d.update([["d", 4]]);
  await d.update(new Map([["e", 5], ["a", 10]]));
  // An update keeps the key's place, as Python's dict does.
  assert.deepEqual(await d.keys(), ["a", "b", "c", "d", "e"]);
  assert.equal(await d.get("a"), 10);
  assert.equal(await d.size(), 5);
  assert.equal(await d.delete("a"), true);
  assert.equal(await d.delete("a"), false);
  assert.equal(await d.pop("b"), 2);
  assert.equal(await d.pop("b", -1), -1);
  await d.clear();
  assert.equal(await d.size(), 0);
  assert.deepEqual(await d.toMap(), new Map());
});

Deno.test("DictProxy.pop() of a missing key rejects with a KeyError naming it", async () => {
  await using manager = new Manager();
  const d = manager.dict<unknown, number>();
  const err = await rejectionOf(d.pop("spam"));
  assert.ok(err instanceof KeyError);
  assert.ok(err instanceof Error);
  assert.equal(err.name, "KeyError");
  assert.equal(err.key, "spam");
  assert.match(err.message, /Key "spam" is not in the dict/);
  const objKey = await rejectionOf(d.pop(["a", 1]));
  assert.ok(objKey instanceof KeyError);
  assert.deepEqual(objKey.key, ["a", 1]);
});

Deno.test("DictProxy keys: equal primitives and equal contents are one key", async () => {
  await using manager = new Manager();
  const d = manager.dict<unknown, string>();
  await d.set(["a", 1], "tuple");
  assert.equal(await d.get(["a", 1]), "tuple"); // Python's tuple keys
  assert.equal(await d.get(["a", 2]), undefined);
  await d.set(1, "number");
  await d.set("1", "string");
  await d.set(1n, "bigint");
  assert.equal(await d.get(1), "number");
  assert.equal(await d.get("1"), "string");
  assert.equal(await d.get(1n), "bigint");
  await d.set(-0, "zero");
  assert.equal(await d.get(0), "zero"); // as a Map: -0 and 0 are one key
  await d.set(NaN, "nan");
  assert.equal(await d.get(NaN), "nan");
  await d.set(undefined, "undefined");
  await d.set(null, "null");
  assert.equal(await d.get(undefined), "undefined");
  assert.equal(await d.get(null), "null");
  await d.set(new Date(0), "date");
  assert.equal(await d.get(new Date(0)), "date");
  assert.equal(await d.size(), 9);
});

Deno.test("DictProxy values: structured-clone values come back as they went", async () => {
  await using manager = new Manager();
  const d = manager.dict<string, unknown>();
  const values: [string, unknown][] = [
    ["undefined", undefined],
    ["null", null],
    ["negative zero", -0],
    ["infinity", Infinity],
    ["bigint", 2n ** 70n],
    ["date", new Date(1234)],
    ["map", new Map([[1, { a: [1, 2] }]])],
    ["set", new Set(["x"])],
    ["bytes", new Uint8Array([1, 2, 3])],
    ["regexp", /a+/g],
    ["error", new RangeError("boom")],
    ["nested", { a: [{ b: "c" }], d: null }],
    ["sparse", [1, , 3]],
  ];
  for (const [k, v] of values) await d.set(k, v);
  for (const [k, v] of values) {
    const got = await d.get(k);
    if (v instanceof Error) {
      assert.ok(got instanceof RangeError);
      assert.equal((got as Error).message, "boom");
    } else {
      assert.deepEqual(got, v, k);
    }
  }
  assert.ok(Object.is(await d.get("negative zero"), -0));
  // Stored undefined is a value, not a missing key.
  assert.equal(await d.has("undefined"), true);
  assert.equal(await d.get("undefined", "fallback"), undefined);
});

Deno.test("DictProxy: values larger than a slot go in frames, both ways", async () => {
  await using manager = new Manager();
  const d = manager.dict<string, unknown>();
  const text = "x".repeat(1_000_000) + "end";
  const bytes = new Uint8Array(300_000).map((_, i) => i & 0xff);
  await d.set("text", text);
  await d.set("bytes", bytes);
  assert.equal(await d.get("text"), text);
  assert.deepEqual(await d.get("bytes"), bytes);
  const keys = range(5000).map((i) => `key-${i}`);
  await d.update(keys.map((k, i) => [k, i] as [string, number]));
  assert.equal(await d.size(), 5002);
  assert.equal((await d.entries()).length, 5002);
});

// ---- list ---------------------------------------------------------------------------

Deno.test("ListProxy: Python's indices, insert, pop, remove, index, slice", async () => {
  await using manager = new Manager();
  const l = manager.list(["a", "b", "c"]);
  assert.equal(await l.get(0), "a");
  assert.equal(await l.get(-1), "c");
  assert.equal(await l.get(-3), "a");
  await l.set(-1, "C");
  assert.deepEqual(await l.toArray(), ["a", "b", "C"]);
  await l.insert(0, "start");
  await l.insert(100, "end"); // past the end: appends, as in Python
  await l.insert(-100, "first"); // before the start: prepends
  await l.insert(-1, "before end");
  assert.deepEqual(await l.toArray(), [
    "first",
    "start",
    "a",
    "b",
    "C",
    "before end",
    "end",
  ]);
  assert.equal(await l.pop(), "end");
  assert.equal(await l.pop(0), "first");
  assert.equal(await l.pop(-2), "C");
  assert.deepEqual(await l.toArray(), ["start", "a", "b", "before end"]);
  await l.remove("a");
  assert.equal(await l.index("b"), 1);
  await l.extend(["b", "x"]);
  assert.equal(await l.index("b", 2), 3);
  assert.equal(await l.index("b", -3), 3);
  await assert.rejects(l.index("b", 0, 1), ValueError);
  assert.deepEqual(await l.slice(1), ["b", "before end", "b", "x"]);
  assert.deepEqual(await l.slice(-2), ["b", "x"]);
  assert.deepEqual(await l.slice(1, -1), ["b", "before end", "b"]);
  assert.deepEqual(await l.slice(3, 1), []);
  assert.deepEqual(await l.slice(-100, 100), await l.toArray());
  assert.equal(await l.length(), 5);
});

Deno.test("ListProxy: remove() and index() compare items by content", async () => {
  await using manager = new Manager();
  const l = manager.list<unknown>([{ a: 1 }, [1, 2], new Date(5), 1n]);
  assert.equal(await l.index([1, 2]), 1);
  assert.equal(await l.index(new Date(5)), 2);
  assert.equal(await l.index(1n), 3);
  await l.remove({ a: 1 });
  assert.deepEqual(await l.toArray(), [[1, 2], new Date(5), 1n]);
});

Deno.test("ListProxy errors: RangeError out of range, ValueError for a missing value", async () => {
  await using manager = new Manager();
  const l = manager.list([1, 2, 3]);
  for (
    const call of [
      () => l.get(3),
      () => l.get(-4),
      () => l.set(3, 0),
      () => l.pop(5),
    ]
  ) {
    const err = await rejectionOf(call());
    assert.ok(err instanceof RangeError, String(err));
    assert.match(
      err.message,
      /the list has 3 items, so an index must be from -3 to 2/,
    );
  }
  const empty = manager.list<number>();
  const popped = await rejectionOf(empty.pop());
  assert.ok(popped instanceof RangeError);
  assert.equal(popped.message, "Cannot pop from an empty list");
  assert.match(
    ((await rejectionOf(empty.get(0))) as Error).message,
    /the list is empty/,
  );
  for (const call of [() => l.remove(9), () => l.index(9)]) {
    const err = await rejectionOf(call());
    assert.ok(err instanceof ValueError);
    assert.equal(err.name, "ValueError");
    assert.match(err.message, /9: no item of the list equals it/);
  }
  assert.deepEqual(await l.toArray(), [1, 2, 3]);
});

// ---- lock and queue -------------------------------------------------------------

Deno.test("LockProxy: acquire, timeouts, release, hold", async () => {
  await using manager = new Manager();
  const lock = manager.lock();
  assert.equal(await lock.acquire(), true);
  assert.equal(await lock.acquire(0), false);
  const t0 = performance.now();
  assert.equal(await lock.acquire(50), false);
  assert.ok(performance.now() - t0 >= 45, "acquire(50) waited ~50 ms");
  // A waiter gets the lock when it is released, first come first served.
  const order: number[] = [];
  const waiters = [1, 2, 3].map((n) =>
    lock.acquire().then(async (ok) => {
      order.push(n);
      assert.equal(ok, true);
      await lock.release();
    })
  );
  await lock.release();
  await within(Promise.all(waiters), 5_000, "the waiters");
  assert.deepEqual(order, [1, 2, 3]);
  const err = await rejectionOf(lock.release());
  assert.ok(err instanceof Error);
  assert.match(err.message, /not acquired/);
  {
    await using _held = await lock.hold();
    assert.equal(await lock.acquire(0), false);
  }
  assert.equal(await lock.acquire(0), true);
  const timedOut = await rejectionOf(lock.hold(20));
  assert.ok(timedOut instanceof TimeoutError);
  await lock.release();
});

Deno.test("QueueProxy: FIFO, waits, Empty and Full", async () => {
  await using manager = new Manager();
  const q = manager.queue<number>();
  for (const i of range(5)) await q.put(i);
  assert.equal(await q.qsize(), 5);
  for (const i of range(5)) assert.equal(await q.get(), i);
  const empty = await rejectionOf(q.get(0));
  assert.ok(empty instanceof Empty);
  const t0 = performance.now();
  assert.ok((await rejectionOf(q.get(50))) instanceof Empty);
  assert.ok(performance.now() - t0 >= 45);
  // A waiting get() takes the next put().
  const got = q.get();
  await q.put(42);
  assert.equal(await within(got, 5_000), 42);

  const bounded = manager.queue<string>(1);
  await bounded.put("a");
  assert.ok((await rejectionOf(bounded.put("b", 0))) instanceof Full);
  assert.ok((await rejectionOf(bounded.put("b", 30))) instanceof Full);
  const waiting = bounded.put("b");
  assert.equal(await bounded.get(), "a");
  await within(waiting, 5_000, "the waiting put");
  assert.equal(await bounded.get(), "b");
});

// ---- order, errors, shutdown --------------------------------------------------------

Deno.test("requests of one thread are served in the order they were made", async () => {
  await using manager = new Manager();
  const d = manager.dict<string, number>();
  const l = manager.list<number>();
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < 200; i++) {
    calls.push(d.set("k", i), l.append(i));
    // A long request (sent in frames) in the middle keeps its place too.
    if (i === 100) calls.push(l.append("y".repeat(100_000) as never));
  }
  await Promise.all(calls);
  assert.equal(await d.get("k"), 199);
  const items = await l.toArray();
  assert.equal(items.length, 201);
  assert.deepEqual(items.slice(0, 101), range(101));
  assert.deepEqual(items.slice(102), range(101, 200));
});

Deno.test("many requests wait at once without running out of slots", async () => {
  await using manager = new Manager();
  const lock = manager.lock();
  const ns = manager.namespace({ count: 0 });
  await Promise.all(
    range(100).map(async () => {
      await using _held = await lock.hold();
      await ns.set("count", (await ns.get("count")) + 1);
    }),
  );
  assert.equal(await ns.get("count"), 100);
});

Deno.test("a value structured clone cannot carry rejects with a DataCloneError naming it", async () => {
  await using manager = new Manager();
  const d = manager.dict<unknown, unknown>();
  const l = manager.list<unknown>();
  class Point {
    constructor(readonly x: number) {}
    norm(): number {
      return Math.abs(this.x);
    }
  }
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    [
      "a function value",
      () => d.set("k", () => 1),
      /the value of dict\.set\(\)/,
    ],
    ["a function key", () => d.set(() => 1, 1), /the key of dict\.set\(\)/],
    ["a symbol key", () => d.get(Symbol("s")), /the key of dict\.get\(\)/],
    [
      "a nested function",
      () => l.append({ ok: 1, bad: [() => 2] }),
      /the value of list\.append\(\)\.bad\[0\]/,
    ],
    ["a class instance", () => l.append(new Point(1)), /class Point/],
    ["a proxy", () => d.set("k", l), /ListProxy.*no nested proxies/],
    ["a WeakMap", () => d.set("k", new WeakMap()), /WeakMap/],
    [
      "an update entry",
      () => d.update([["ok", 1], ["bad", () => 0]]),
      /the value of dict\.update\(\) entry 1/,
    ],
    [
      "an extend item",
      () => l.extend([1, Symbol("s")]),
      /list\.extend\(\) item 1/,
    ],
  ];
  for (const [what, call, says] of cases) {
    const err = await rejectionOf(call());
    assert.ok(err instanceof DOMException, `${what}: ${err}`);
    assert.equal(err.name, "DataCloneError", what);
    assert.match(err.message, /Cannot send .* to the manager/, what);
    assert.match(err.message, says, what);
  }
  // A factory's initial values fail at once.
  const init = await failureOf(() => manager.list([1, () => 2]));
  assert.ok(init instanceof DOMException);
  assert.match(init.message, /list\(\) init item 1/);
  // Nothing half-done: the dict and list are as they were.
  assert.equal(await d.size(), 0);
  assert.equal(await l.length(), 0);
});

Deno.test("after shutdown() every proxy call rejects saying the manager was shut down", async () => {
  const manager = new Manager();
  const d = manager.dict<string, number>();
  const l = manager.list([1]);
  const ns = manager.namespace({ a: 1 });
  const lock = manager.lock();
  const q = manager.queue<number>();
  await d.set("a", 1);
  // Waiting calls end too (their rejections are taken at once).
  const waitingGet = q.get().then(() => "resolved", (e) => e);
  await lock.acquire();
  const waitingAcquire = lock.acquire().then(() => "resolved", (e) => e);
  await manager.shutdown();
  for (const waiting of [waitingGet, waitingAcquire]) {
    const err = await within(waiting, 5_000, "a waiting call");
    assert.ok(err instanceof Error, String(err));
    assert.match(err.message, /its manager was shut down/);
  }
  const calls: (() => Promise<unknown>)[] = [
    () => d.get("a"),
    () => d.set("a", 2),
    () => d.toMap(),
    () => l.get(0),
    () => l.append(2),
    () => ns.get("a"),
    () => lock.release(),
    () => q.put(1),
    () => q.qsize(),
  ];
  for (const call of calls) {
    const err = await rejectionOf(call(), 5_000);
    assert.ok(err instanceof Error);
    assert.match(err.message, /its manager was shut down/);
  }
  assert.throws(() => manager.dict(), /its manager was shut down/);
  await manager.shutdown(); // again: nothing
});

Deno.test("a lock whose holder ended is reported with AbandonedLockError", async () => {
  // The holder here is a pid the liveness table records as ended.
  const { markEnded } = await import("../../lib/_shared/liveness.ts");
  await using manager = new Manager();
  const lock = manager.lock();
  // Take it as another process would: a raw request with a fake pid.
  const P = await import("../../lib/managers/_protocol.ts");
  const { clientFor } = await import("../../lib/managers/_client.ts");
  const proxy = lock as unknown as {
    $manager: string;
    $table: SharedArrayBuffer;
    $id: number;
  };
  const client = clientFor(proxy.$manager, proxy.$table);
  const fakePid = 0x7ff00001;
  const request = new P.Writer().request(
    P.LOCK_ACQUIRE,
    proxy.$id,
    P.NONE,
    P.NONE,
    fakePid,
    0,
  ).view();
  const reply = P.readReply(await client.send(request, true, "the lock"));
  assert.equal(reply.num, 1);
  markEnded(fakePid);
  const err = await rejectionOf(lock.acquire());
  assert.ok(err instanceof AbandonedLockError, String(err));
  assert.equal(err.pid, fakePid);
  // Freed: the next acquire() takes it.
  assert.equal(await lock.acquire(0), true);
  await lock.release();
});

Deno.test("calls on a manager whose server thread died reject, saying so", async () => {
  const { markDown } = await import("../../lib/managers/_down.ts");
  const { DOWN_DIED } = await import("../../lib/managers/_table.ts");
  const manager = new Manager();
  try {
    const q = manager.queue<number>();
    const d = manager.dict<string, number>();
    await d.set("a", 1);
    const waiting = q.get().then(() => "resolved", (e: unknown) => e);
    // What the Manager does when its thread's "exit" event comes first.
    markDown((d as unknown as { $table: SharedArrayBuffer }).$table, DOWN_DIED);
    for (
      const err of [await within(waiting, 5_000), await rejectionOf(d.get("a"))]
    ) {
      assert.ok(err instanceof Error, String(err));
      assert.match(err.message, /server thread ended unexpectedly/);
    }
  } finally {
    await manager.shutdown();
  }
});
