// The check every message to or from an OS-process worker passes first
// (lib/_shared/ipc.ts). Deno 2.9 ends the whole program when its IPC
// channel is handed a value it cannot serialize, and copies some values
// (a MessagePort, a Blob) as empty objects: so the check must refuse
// exactly those, with the error postMessage would give, and let plain data
// through.
import assert from "node:assert/strict";
import { Pool, Queue } from "@parallel/multiprocessing";
import { checkIpc } from "../../lib/_shared/ipc.ts";
import { square } from "../fixtures/isolation_targets.ts";
import { fixture, rejectionOf, within } from "../fixtures/harness.ts";

/** The error checkIpc throws for `value` (undefined when it passes). */
function refusal(value: unknown, shared = false): Error | undefined {
  try {
    checkIpc(value, "args", shared);
    return undefined;
  } catch (err) {
    return err as Error;
  }
}

Deno.test("checkIpc() lets plain data through", () => {
  const err = new RangeError("x", { cause: new TypeError("inner") });
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  class Point {
    x = 1;
    y = 2;
  }
  for (
    const value of [
      undefined,
      null,
      1,
      -0,
      NaN,
      1n,
      "s",
      true,
      [1, , 3],
      { a: [1, { b: new Map([[1, new Set([2])]]) }] },
      new Date(0),
      /a/g,
      err,
      new Uint8Array(4),
      new ArrayBuffer(8),
      new DataView(new ArrayBuffer(2)),
      Object.create(null),
      new Number(1),
      cyclic,
      new Point(),
    ]
  ) {
    assert.equal(refusal(value), undefined, Deno.inspect(value));
  }
});

Deno.test("checkIpc() refuses, as a DataCloneError naming where, what the channel would lose or choke on", () => {
  const { port1, port2 } = new MessageChannel();
  const detached = new ArrayBuffer(8);
  detached.transfer();
  const extra = Object.assign([1, 2], { handler() {} });
  let deep: unknown = 0;
  for (let i = 0; i < 2_000; i++) deep = [deep];
  try {
    const cases: [unknown, RegExp][] = [
      [[1, () => {}], /args\[1\]/],
      [{ s: Symbol("s") }, /args\.s/],
      [{ p: port1 }, /MessagePort/],
      [{ b: new Blob(["x"]) }, /Blob/],
      [{ w: new WeakMap() }, /WeakMap/],
      [{ p: Promise.resolve() }, /Promise/],
      [{ x: new Proxy({}, {}) }, /Proxy/],
      [{ d: detached }, /detached/],
      [extra, /args\.handler/],
      [deep, /nested more than/],
      [{ sab: new SharedArrayBuffer(8) }, /shared memory|SharedArrayBuffer/],
      [{ e: new Error("x", { cause: () => {} }) }, /args\.e\.cause/],
    ];
    for (const [value, where] of cases) {
      const err = refusal(value);
      assert.ok(
        err instanceof DOMException,
        `${Deno.inspect(value, { depth: 1 })}: ${err}`,
      );
      assert.equal(err.name, "DataCloneError");
      assert.match(err.message, where);
    }
  } finally {
    port1.close();
    port2.close();
  }
});

Deno.test("checkIpc() refuses a shared object with a TypeError on the main side, a DataCloneError in a child", () => {
  const queue = new Queue<number>();
  const main = refusal({ q: queue }, true);
  assert.ok(main instanceof TypeError, String(main));
  assert.match(main.message, /args\.q/);
  assert.match(main.message, /Queue/);
  const child = refusal({ q: queue }, false);
  assert.ok(child instanceof DOMException, String(child));
  assert.equal(child.name, "DataCloneError");
});

Deno.test('Pool({ isolation: "process" }) refuses a Blob or a MessagePort argument with a DataCloneError, and goes on', async () => {
  await using pool = new Pool({
    processes: 1,
    module: fixture("isolation_targets.ts"),
    isolation: "process",
  });
  const { port1, port2 } = new MessageChannel();
  try {
    for (const value of [new Blob(["x"]), port1]) {
      const err = await rejectionOf(
        pool.apply(square as (x: unknown) => number, [value]),
      );
      assert.equal((err as Error).name, "DataCloneError", String(err));
    }
  } finally {
    port1.close();
    port2.close();
  }
  assert.equal(await within(pool.apply(square, [5])), 25);
});
