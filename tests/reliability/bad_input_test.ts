// Bad input: every public entry point called with wrong types and
// out-of-range numbers throws (or rejects with) a TypeError or RangeError
// whose message says what to do. None hangs or crashes the program.
import assert from "node:assert/strict";
import {
  AsyncResult,
  Manager,
  Pipe,
  Pool,
  Process,
  Semaphore,
  SharedArray,
  Value,
} from "@parallel/multiprocessing";
import { echo, noop, tryExit } from "./fixtures/targets.ts";
import { endPool, failureOf, runDeno, within } from "../fixtures/harness.ts";

const module = new URL("./fixtures/targets.ts", import.meta.url);

type Class = typeof TypeError | typeof RangeError;

interface Case {
  what: string;
  call: () => unknown;
  /** The class (or classes) allowed. */
  cls: Class | Class[];
  /** What the message must say. */
  says: RegExp;
}

// Messages say "must be ..." (the expected type or range) or name the fix.
const MUST = /must be/;

/** A case: `call` must throw (or reject with) `cls`, saying `says`. */
function c(
  what: string,
  call: () => unknown,
  cls: Class | Class[],
  says: RegExp = MUST,
): Case {
  return { what, call, cls, says };
}

function poolCases(
  pool: Pool,
  r: AsyncResult<unknown>,
  pending: AsyncResult<unknown>,
): Case[] {
  // deno-lint-ignore no-explicit-any
  const p = pool as any;
  return [
    // new Pool
    c("new Pool(0)", () => new Pool(0), RangeError),
    c("new Pool(1.5)", () => new Pool(1.5), RangeError),
    c("new Pool(-1)", () => new Pool(-1), RangeError),
    c("new Pool(NaN)", () => new Pool(NaN), RangeError),
    c("new Pool(Infinity)", () => new Pool(Infinity), RangeError),
    // deno-lint-ignore no-explicit-any
    c('new Pool("2")', () => new Pool("2" as any), TypeError),
    // deno-lint-ignore no-explicit-any
    c("new Pool(null)", () => new Pool(null as any), TypeError),
    // deno-lint-ignore no-explicit-any
    c("new Pool(true)", () => new Pool(true as any), TypeError),
    c(
      'new Pool({ processes: "2" })',
      // deno-lint-ignore no-explicit-any
      () => new Pool({ processes: "2" as any, module }),
      TypeError,
    ),
    c(
      "new Pool({ processes: 0 })",
      () => new Pool({ processes: 0, module }),
      RangeError,
    ),
    c(
      "maxTasksPerChild: 0",
      () => new Pool({ maxTasksPerChild: 0, module }),
      RangeError,
    ),
    c(
      "maxTasksPerChild: 2.5",
      () => new Pool({ maxTasksPerChild: 2.5, module }),
      RangeError,
    ),
    c(
      'maxTasksPerChild: "1"',
      // deno-lint-ignore no-explicit-any
      () => new Pool({ maxTasksPerChild: "1" as any, module }),
      TypeError,
    ),
    c(
      "idleTimeout: -1",
      () => new Pool({ idleTimeout: -1, module }),
      RangeError,
    ),
    c(
      "idleTimeout: NaN",
      () => new Pool({ idleTimeout: NaN, module }),
      [TypeError, RangeError],
    ),
    c(
      'idleTimeout: "1"',
      // deno-lint-ignore no-explicit-any
      () => new Pool({ idleTimeout: "1" as any, module }),
      TypeError,
    ),
    c(
      'permissions: "all"',
      // deno-lint-ignore no-explicit-any
      () => new Pool({ permissions: "all" as any, module }),
      TypeError,
    ),
    c(
      "permissions: 42",
      // deno-lint-ignore no-explicit-any
      () => new Pool({ permissions: 42 as any, module }),
      TypeError,
    ),
    c(
      'permissions: ["read"]',
      // deno-lint-ignore no-explicit-any
      () => new Pool({ permissions: ["read"] as any, module }),
      TypeError,
    ),
    c(
      "resourceLimits: 64",
      // deno-lint-ignore no-explicit-any
      () => new Pool({ resourceLimits: 64 as any, module }),
      TypeError,
    ),
    c(
      "resourceLimits.maxOldGenerationSizeMb: -1",
      () =>
        new Pool({ resourceLimits: { maxOldGenerationSizeMb: -1 }, module }),
      RangeError,
    ),
    c(
      "resourceLimits.maxOldGenerationSizeMb: 0",
      () => new Pool({ resourceLimits: { maxOldGenerationSizeMb: 0 }, module }),
      RangeError,
    ),
    c(
      "resourceLimits.stackSizeMb: NaN",
      () => new Pool({ resourceLimits: { stackSizeMb: NaN }, module }),
      RangeError,
    ),
    c(
      'resourceLimits.maxOldGenerationSizeMb: "64"',
      () =>
        new Pool({
          // deno-lint-ignore no-explicit-any
          resourceLimits: { maxOldGenerationSizeMb: "64" as any },
          module,
        }),
      [TypeError, RangeError],
    ),
    c(
      "resourceLimits.heapMb (unknown key)",
      // deno-lint-ignore no-explicit-any
      () => new Pool({ resourceLimits: { heapMb: 64 } as any, module }),
      TypeError,
      /known limits are/,
    ),
    c(
      'resourceLimits with permissions "none"',
      () =>
        new Pool({
          resourceLimits: { maxOldGenerationSizeMb: 64 },
          permissions: "none",
          module,
        }),
      TypeError,
      /drop one of the two/,
    ),
    c(
      "initializer: 42",
      // deno-lint-ignore no-explicit-any
      () => new Pool({ initializer: 42 as any, module }),
      TypeError,
    ),
    c(
      "initargs: 5",
      // deno-lint-ignore no-explicit-any
      () => new Pool({ initializer: noop, initargs: 5 as any, module }),
      TypeError,
    ),
    // deno-lint-ignore no-explicit-any
    c("module: 42", () => new Pool({ module: 42 as any }), TypeError),
    c(
      'module: "not a url"',
      () => new Pool({ module: "not a url" }),
      TypeError,
    ),
    // map / starmap / apply
    c("map chunksize 0", () => pool.map(echo, [1], 0), RangeError),
    c("map chunksize -1", () => pool.map(echo, [1], -1), RangeError),
    c("map chunksize 1.5", () => pool.map(echo, [1], 1.5), RangeError),
    c("map chunksize NaN", () => pool.map(echo, [1], NaN), RangeError),
    c('map chunksize "3"', () => p.map(echo, [1], "3"), TypeError),
    c("map over 42", () => p.map(echo, 42), TypeError),
    c("map over null", () => p.map(echo, null), TypeError),
    c("map over {}", () => p.map(echo, {}), TypeError),
    c("map over undefined", () => p.map(echo), TypeError),
    c("map with fn 42", () => p.map(42, [1]), TypeError),
    c('map with fn "echo"', () => p.map("echo", [1]), TypeError),
    c(
      "map with an anonymous arrow",
      () => pool.map((x: number) => x, [1]),
      TypeError,
      /export a named function/,
    ),
    c(
      "map with a function not exported",
      () =>
        pool.map(function local(x: number) {
          return x;
        }, [1]),
      TypeError,
      /export it from that module/,
    ),
    c(
      'map with signal "x"',
      () => p.map(echo, [1], 1, { signal: "x" }),
      TypeError,
    ),
    c(
      "map with onProgress 5",
      () => p.map(echo, [1], 1, { onProgress: 5 }),
      TypeError,
    ),
    c("map with options 5", () => p.map(echo, [1], 1, 5), TypeError),
    c("starmap chunksize 0", () => pool.starmap(echo, [[1]], 0), RangeError),
    c("starmap over 42", () => p.starmap(echo, 42), TypeError),
    c("apply args 5", () => p.apply(echo, 5), TypeError),
    c('apply args "ab"', () => p.apply(echo, "ab"), TypeError),
    c("apply fn null", () => p.apply(null, [1]), TypeError),
    c(
      "apply with options 5",
      () => p.apply(echo, [1], 5),
      TypeError,
    ),
    // imap / imapUnordered
    c("imap chunksize 0", () => pool.imap(echo, [1], 0), RangeError),
    c("imap chunksize -1", () => pool.imap(echo, [1], -1), RangeError),
    c('imap chunksize "3"', () => p.imap(echo, [1], "3"), TypeError),
    c("imap over 42", () => p.imap(echo, 42).next(), TypeError),
    c(
      "imapUnordered chunksize 1.5",
      () => pool.imapUnordered(echo, [1], 1.5),
      RangeError,
    ),
    c("imapUnordered fn 42", () => p.imapUnordered(42, [1]).next(), TypeError),
    // *Async and AsyncResult
    c(
      "mapAsync chunksize 0",
      () => pool.mapAsync(echo, [1], { chunksize: 0 }).get(5_000),
      RangeError,
    ),
    c(
      "starmapAsync over 42",
      () => p.starmapAsync(echo, 42).get(5_000),
      TypeError,
    ),
    c(
      "applyAsync args 5",
      () => p.applyAsync(echo, 5).get(5_000),
      TypeError,
    ),
    c(
      "applyAsync callback 5",
      () => p.applyAsync(echo, [1], { callback: 5 }),
      TypeError,
    ),
    c(
      'mapAsync errorCallback "x"',
      () => p.mapAsync(echo, [1], { errorCallback: "x" }),
      TypeError,
    ),
    c("AsyncResult.get(-1)", () => r.get(-1), RangeError),
    c("AsyncResult.get(NaN)", () => r.get(NaN), [TypeError, RangeError]),
    // deno-lint-ignore no-explicit-any
    c('AsyncResult.get("5")', () => r.get("5" as any), TypeError),
    c("AsyncResult.wait(-1)", () => r.wait(-1), RangeError),
    c("AsyncResult.wait(NaN)", () => r.wait(NaN), [TypeError, RangeError]),
    c("pending AsyncResult.get(-1)", () => pending.get(-1), RangeError),
    c("pending AsyncResult.wait(-1)", () => pending.wait(-1), RangeError),
    c(
      "pending AsyncResult.wait(NaN)",
      () => pending.wait(NaN),
      [TypeError, RangeError],
    ),
  ];
}

function processCases(started: Process): Case[] {
  // deno-lint-ignore no-explicit-any
  const P = Process as any;
  return [
    c("new Process(null)", () => new P(null), TypeError),
    c("new Process(42)", () => new P(42), TypeError),
    c("new Process()", () => new P(), TypeError),
    c("new Process({})", () => new P({ module }), TypeError),
    c("new Process({ target: 42 })", () => new P({ target: 42 }), TypeError),
    c(
      'new Process({ target: "noop" })',
      () => new P({ target: "noop", module }),
      TypeError,
    ),
    c("args: 5", () => new P({ target: noop, args: 5, module }), TypeError),
    c("name: 5", () => new P({ target: noop, name: 5, module }), TypeError),
    c(
      'daemon: "yes"',
      () => new P({ target: noop, daemon: "yes", module }),
      TypeError,
    ),
    c(
      'permissions: "all"',
      () => new P({ target: noop, permissions: "all", module }),
      TypeError,
    ),
    c(
      "permissions: null",
      () => new P({ target: noop, permissions: null, module }),
      TypeError,
    ),
    c(
      "resourceLimits.stackSizeMb: 0",
      () => new P({ target: noop, resourceLimits: { stackSizeMb: 0 }, module }),
      RangeError,
    ),
    c(
      "resourceLimits.maxYoungGenerationSizeMb: Infinity",
      () =>
        new P({
          target: noop,
          resourceLimits: { maxYoungGenerationSizeMb: Infinity },
          module,
        }),
      RangeError,
    ),
    c(
      "resourceLimits: []",
      () => new P({ target: noop, resourceLimits: [], module }),
      TypeError,
    ),
    c(
      "resourceLimits with permissions { read: true }",
      () =>
        new P({
          target: noop,
          resourceLimits: { maxOldGenerationSizeMb: 64 },
          permissions: { read: true },
          module,
        }),
      TypeError,
      /drop one of the two/,
    ),
    c("module: 42", () => new P({ target: noop, module: 42 }), TypeError),
    c(
      "start() of a function not exported",
      () => new Process({ target: function local() {}, module }).start(),
      TypeError,
      /export it from that module/,
    ),
    c("join(-1)", () => started.join(-1), RangeError),
    c("join(NaN)", () => started.join(NaN), [TypeError, RangeError]),
    // deno-lint-ignore no-explicit-any
    c('join("5")', () => started.join("5" as any), TypeError),
    c("name = 5", () => {
      // deno-lint-ignore no-explicit-any
      started.name = 5 as any;
    }, TypeError),
    c("daemon = 1 before start", () => {
      const p = new Process({ target: noop, module });
      // deno-lint-ignore no-explicit-any
      p.daemon = 1 as any;
    }, TypeError),
  ];
}

function semaphoreCases(): Case[] {
  return [
    c("new Semaphore(-1)", () => new Semaphore(-1), RangeError),
    c("new Semaphore(1.5)", () => new Semaphore(1.5), RangeError),
    c("new Semaphore(2 ** 31)", () => new Semaphore(2 ** 31), RangeError),
    c(
      "Semaphore.release() past 2 ** 31 - 1",
      () => new Semaphore(2 ** 31 - 1).release(),
      RangeError,
      /the most it can hold; release only units that were acquired/,
    ),
  ];
}

function sharedMemoryCases(): Case[] {
  // deno-lint-ignore no-explicit-any
  const arr = new SharedArray("i", [1, 2, 3]) as any;
  // deno-lint-ignore no-explicit-any
  const chars = new SharedArray("c", 1) as any;
  // deno-lint-ignore no-explicit-any
  const v = new Value("i", 0) as any;
  const takes = /it takes/;
  const noNew = /takes no new properties/;
  return [
    c('new Value("c", "ab")', () => new Value("c", "ab"), TypeError, takes),
    c('new Value("u", "😀")', () => new Value("u", "😀"), TypeError, takes),
    // deno-lint-ignore no-explicit-any
    c('new Value("c", 97)', () => new Value("c", 97 as any), TypeError, takes),
    c(
      'new SharedArray("c", "ā")',
      () => new SharedArray("c", "ā"),
      TypeError,
      takes,
    ),
    c("v.valu = 3", () => v.valu = 3, TypeError, noNew),
    c(
      'new SharedArray("d", 2 ** 40)',
      () => new SharedArray("d", 2 ** 40),
      RangeError,
      /8796093022208 bytes of shared memory.*ask for fewer elements/,
    ),
    c("arr[3]", () => arr[3], RangeError),
    c("arr[-1]", () => arr[-1], RangeError),
    c("arr[3] = 0", () => arr[3] = 0, RangeError),
    c("arr[-1] = 0", () => arr[-1] = 0, RangeError),
    c("arr[2 ** 32] = 0", () => arr[2 ** 32] = 0, RangeError),
    c("arr[0] = 1.5", () => arr[0] = 1.5, TypeError, takes),
    c('arr[0] = "1"', () => arr[0] = "1", TypeError, takes),
    c('chars[0] = "ab"', () => chars[0] = "ab", TypeError, takes),
    c("chars[0] = 97", () => chars[0] = 97, TypeError, takes),
    c("arr[1.5] = 0", () => arr[1.5] = 0, TypeError, noNew),
    c("arr.foo = 1", () => arr.foo = 1, TypeError, noNew),
    c('arr.get("1")', () => arr.get("1"), TypeError),
    c("arr.get(1.5)", () => arr.get(1.5), RangeError),
    c("arr.set(3, 0)", () => arr.set(3, 0), RangeError),
    c('arr.slice("1")', () => arr.slice("1"), TypeError),
    c("arr.slice(0, 1.5)", () => arr.slice(0, 1.5), RangeError),
    c("arr.slice(NaN)", () => arr.slice(NaN), RangeError),
  ];
}

function connectionCases(): Case[] {
  // deno-lint-ignore no-explicit-any
  const [left, right] = Pipe() as any[];
  const data = new Uint8Array(4);
  return [
    c('sendBytes("abc")', () => left.sendBytes("abc"), TypeError),
    c("sendBytes([1, 2])", () => left.sendBytes([1, 2]), TypeError),
    c("sendBytes(null)", () => left.sendBytes(null), TypeError),
    c("sendBytes(data, -1)", () => left.sendBytes(data, -1), RangeError),
    c("sendBytes(data, 5)", () => left.sendBytes(data, 5), RangeError),
    c("sendBytes(data, 1.5)", () => left.sendBytes(data, 1.5), RangeError),
    c('sendBytes(data, "1")', () => left.sendBytes(data, "1"), TypeError),
    c("sendBytes(data, 0, -1)", () => left.sendBytes(data, 0, -1), RangeError),
    c("sendBytes(data, 1, 4)", () => left.sendBytes(data, 1, 4), RangeError),
    c(
      "sendBytes(data, 0, NaN)",
      () => left.sendBytes(data, 0, NaN),
      RangeError,
    ),
    c("sendBytes(data, 0, 1n)", () => left.sendBytes(data, 0, 1n), TypeError),
    c("recvBytes(-1)", () => right.recvBytes(-1), RangeError),
    c("recvBytes(1.5)", () => right.recvBytes(1.5), RangeError),
    c("recvBytes(NaN)", () => right.recvBytes(NaN), RangeError),
    c('recvBytes("5")', () => right.recvBytes("5"), TypeError),
    c("recvBytes(null)", () => right.recvBytes(null), TypeError),
  ];
}

function managerCases(manager: Manager): Case[] {
  // deno-lint-ignore no-explicit-any
  const m = manager as any;
  // deno-lint-ignore no-explicit-any
  const d = manager.dict() as any;
  // deno-lint-ignore no-explicit-any
  const l = manager.list([1, 2, 3]) as any;
  // deno-lint-ignore no-explicit-any
  const ns = manager.namespace() as any;
  // deno-lint-ignore no-explicit-any
  const lock = manager.lock() as any;
  // deno-lint-ignore no-explicit-any
  const q = manager.queue() as any;
  const range = /list has 3 items, so an index must be from -3 to 2/;
  return [
    c('manager.queue("2")', () => m.queue("2"), TypeError),
    c("manager.queue(0)", () => m.queue(0), RangeError),
    c("manager.queue(1.5)", () => m.queue(1.5), RangeError),
    c("manager.queue(-1)", () => m.queue(-1), RangeError),
    c("manager.dict(42)", () => m.dict(42), TypeError),
    c("manager.dict([[1]])", () => m.dict([[1]]), TypeError),
    c("manager.list(42)", () => m.list(42), TypeError),
    c("manager.namespace(5)", () => m.namespace(5), TypeError),
    c("manager.namespace(null)", () => m.namespace(null), TypeError),
    c("dict.update(42)", () => d.update(42), TypeError),
    c("dict.update([1])", () => d.update([1]), TypeError),
    c('list.get("1")', () => l.get("1"), TypeError),
    c("list.get(1.5)", () => l.get(1.5), RangeError),
    c("list.get(NaN)", () => l.get(NaN), RangeError),
    c("list.get(3)", () => l.get(3), RangeError, range),
    c("list.get(-4)", () => l.get(-4), RangeError, range),
    c("list.set(3, 0)", () => l.set(3, 0), RangeError, range),
    c('list.insert("0", 1)', () => l.insert("0", 1), TypeError),
    c("list.pop(1.5)", () => l.pop(1.5), RangeError),
    c("list.pop(7)", () => l.pop(7), RangeError, range),
    c('list.slice("1")', () => l.slice("1"), TypeError),
    c("list.index(1, 1.5)", () => l.index(1, 1.5), RangeError),
    c("list.extend(42)", () => l.extend(42), TypeError),
    c("namespace.get(5)", () => ns.get(5), TypeError),
    c("namespace.set(5, 1)", () => ns.set(5, 1), TypeError),
    c("lock.acquire(-1)", () => lock.acquire(-1), RangeError),
    c('lock.acquire("1")', () => lock.acquire("1"), TypeError),
    c("lock.acquire(NaN)", () => lock.acquire(NaN), TypeError),
    c("lock.hold(-1)", () => lock.hold(-1), RangeError),
    c("queue.get(-1)", () => q.get(-1), RangeError),
    c('queue.get("1")', () => q.get("1"), TypeError),
    c("queue.put(1, -1)", () => q.put(1, -1), RangeError),
  ];
}

async function check(cases: Case[]): Promise<string[]> {
  const wrong: string[] = [];
  for (const { what, call, cls, says } of cases) {
    let err: unknown;
    try {
      err = await failureOf(call, 5_000);
    } catch (e) {
      wrong.push(`${what}: no error (${(e as Error).message})`);
      continue;
    }
    const classes = Array.isArray(cls) ? cls : [cls];
    if (!classes.some((k) => err instanceof k && err.constructor === k)) {
      wrong.push(
        `${what}: expected ${classes.map((k) => k.name).join(" or ")}, got ${
          err instanceof Error ? `${err.name}: ${err.message}` : String(err)
        }`,
      );
      continue;
    }
    const message = (err as Error).message;
    if (!says.test(message)) {
      wrong.push(`${what}: message does not match ${says}: ${message}`);
    }
  }
  return wrong;
}

Deno.test("every public entry point rejects bad input with a TypeError or RangeError saying what to do", async () => {
  const pool = new Pool({ processes: 1, module });
  const started = new Process({ target: noop, module });
  const manager = new Manager();
  started.start();
  try {
    // A finished result, and one that never settles.
    const r = pool.applyAsync(echo, [1]);
    await within(r.wait(), 10_000);
    const pending = new AsyncResult(new Promise<never>(() => {}));
    const cases = [
      ...poolCases(pool, r, pending),
      ...processCases(started),
      ...semaphoreCases(),
      ...sharedMemoryCases(),
      ...connectionCases(),
      ...managerCases(manager),
    ];
    const wrong = await check(cases);
    // exit() with a bad code, inside a worker (it must throw, not exit).
    const exits: Array<[unknown, Class]> = [
      [1.5, TypeError],
      ["1", TypeError],
      [NaN, TypeError],
      [null, TypeError],
    ];
    for (const [code] of exits) {
      const got = await within(
        pool.apply(tryExit, [code]).then((v) => v, (e) => ({
          name: `rejected: ${e?.name}`,
          message: String(e?.message),
        })),
        10_000,
        `exit(${String(code)})`,
      );
      if (got.name !== "TypeError" || !MUST.test(got.message)) {
        wrong.push(
          `exit(${
            Deno.inspect(code)
          }): expected a TypeError, got ${got.name}: ${got.message}`,
        );
      }
    }
    const total = cases.length + exits.length;
    console.log(`bad inputs tried: ${total}`);
    // The pool and process are unharmed.
    assert.equal(await within(pool.apply(echo, [5]), 10_000), 5);
    await within(started.join(10_000), 11_000);
    assert.equal(started.exitCode, 0);
    assert.deepEqual(wrong, [], `${wrong.length} of ${total} bad inputs`);
  } finally {
    if (started.isAlive()) started.kill();
    await endPool(pool);
    await manager.shutdown();
  }
});

Deno.test("transfer() misuse gives a TypeError saying what to do, and does not end the program", async () => {
  // In a subprocess: a crash there fails this test instead of the runner.
  const ran = await runDeno(
    ["run", "-A", "tests/reliability/fixtures/transfer_misuse.ts"],
    { timeout: 30_000 },
  );
  const line = ran.stdout.trim().split("\n").at(-1) ?? "";
  assert.equal(
    ran.code,
    0,
    `the program ended with code ${ran.code}: ${ran.stderr.slice(-1500)}`,
  );
  const out = JSON.parse(line) as Record<string, string>;
  console.log(`bad inputs tried: ${Object.keys(out).length} (transfer)`);
  for (const [what, got] of Object.entries(out)) {
    assert.match(got, /^TypeError: .*must be/, `${what}: ${got}`);
  }
});
