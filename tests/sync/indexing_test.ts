// Indexing a SharedArray as Python's Array (arr[i], arr[i] = v, +=, length,
// iteration, slice), for every typecode, with the conversions its typed
// array makes; errors for indices out of range and for new properties on a
// SharedArray or a Value; the c and u typecodes; and the same on the copies
// that a process and a pool task get.
import assert from "node:assert/strict";
import {
  Barrier,
  Process,
  SharedArray,
  type Typecode,
  Value,
} from "@parallel/multiprocessing";
import {
  incrementIndexed,
  indexInWorker,
  type IndexReport,
  writeChars,
} from "../fixtures/parity_targets.ts";
import { finish, fixture, openPool, within } from "../fixtures/harness.ts";

const module = fixture("parity_targets.ts");

/** Any element, for tables over every typecode. */
type Element = number | bigint | string;

/** A SharedArray of any typecode, indexed without its element type. */
type Loose = SharedArray & { [index: number]: Element };

/** [typecode, value written, value read back]: the numeric ones are
 * checked again against what a typed array of that class stores. */
const CONVERSIONS: [Typecode, Element, Element][] = [
  ["b", 200, -56],
  ["b", -129, 127],
  ["B", 256, 0],
  ["B", -1, 255],
  ["h", 40_000, -25_536],
  ["H", -1, 65_535],
  ["H", 65_536 + 7, 7],
  ["i", 2 ** 31, -(2 ** 31)],
  ["I", -1, 2 ** 32 - 1],
  ["l", 2 ** 31 + 1, -(2 ** 31) + 1],
  ["L", 2 ** 32 + 5, 5],
  ["q", 2n ** 63n, -(2n ** 63n)],
  ["q", -1n, -1n],
  ["Q", -1n, 2n ** 64n - 1n],
  ["Q", 2n ** 64n + 3n, 3n],
  ["f", 0.1, Math.fround(0.1)],
  ["f", 1e40, Infinity],
  ["f", -0.5, -0.5],
  ["d", 0.1, 0.1],
  ["d", -Infinity, -Infinity],
  ["d", NaN, NaN],
  ["c", "a", "a"],
  ["c", "\xff", "\xff"],
  ["c", "\0", "\0"],
  ["u", "é", "é"],
  ["u", "\u{ffff}", "\u{ffff}"],
  ["u", "\ud83d", "\ud83d"], // half a surrogate pair is one code unit
];

/** Values each typecode refuses with a TypeError. */
const REFUSED: Record<Typecode, unknown[]> = {
  b: [1.5, "1", 1n, null, undefined],
  B: [NaN, Infinity, "a"],
  h: [0.5, true],
  H: [{}],
  i: [1.5, "1", 1n],
  I: [-0.1],
  l: [[]],
  L: [0.25, "0"],
  q: [1, "1", 1.5],
  Q: [0],
  f: ["1", 1n],
  d: [null, 1n],
  c: ["ab", "", "ā", 97, "😀"],
  u: ["ab", "", "😀", 97, 1n],
};

const TYPECODES = Object.keys(REFUSED) as Typecode[];

Deno.test("SharedArray indexing writes and reads back every typecode, converting as its typed array does", () => {
  for (const [t, put, got] of CONVERSIONS) {
    const arr = new SharedArray(t, 3) as Loose;
    arr[1] = put;
    const what = `typecode ${t}, ${String(put)}`;
    assert.deepEqual(arr[1], got, what);
    assert.deepEqual(arr.get(1), got, what);
    assert.deepEqual(arr[0], arr.get(0), what);
    assert.deepEqual(arr[2], arr.get(2), what);
    // What the typed array behind it stores for the same value.
    if (typeof put !== "string") {
      const raw = new (arr.asTypedArray().constructor as new (
        n: number,
      ) => { [i: number]: Element })(1);
      raw[0] = put;
      assert.deepEqual(arr.asTypedArray()[1], raw[0], what);
    }
    // And the same through set().
    arr.set(2, put);
    assert.deepEqual(arr[2], got, what);
  }
});

Deno.test("SharedArray indexing refuses a value that does not fit the typecode, with set()'s TypeError", () => {
  for (const t of TYPECODES) {
    const arr = new SharedArray(t, 1) as Loose;
    const before = arr[0];
    for (const bad of REFUSED[t]) {
      const what = `typecode ${t}, ${Deno.inspect(bad)}`;
      assert.throws(
        () => {
          arr[0] = bad as Element;
        },
        (e: Error) =>
          e instanceof TypeError && e.message.includes(`typecode "${t}"`),
        what,
      );
      assert.throws(() => arr.set(0, bad as Element), TypeError, what);
    }
    assert.deepEqual(arr[0], before, `typecode ${t}: nothing was written`);
  }
});

Deno.test("SharedArray indexing outside 0 … length - 1 throws a RangeError naming the index and the range", () => {
  const arr = new SharedArray("i", [1, 2, 3]) as Loose;
  for (const i of [3, 4, -1, -3, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
    const says = (e: Error) =>
      e instanceof RangeError && e.message.includes(`index ${i}:`) &&
      e.message.includes("from 0 to 2");
    assert.throws(() => arr[i], says, `read ${i}`);
    assert.throws(
      () => {
        arr[i] = 0;
      },
      says,
      `write ${i}`,
    );
  }
  // A string key written as an integer is that index.
  assert.equal((arr as unknown as Record<string, number>)["2"], 3);
  assert.throws(
    () => (arr as unknown as Record<string, number>)["5"],
    RangeError,
  );
  const empty = new SharedArray("d", 0) as Loose;
  assert.throws(() => empty[0], /the array is empty/);
  assert.deepEqual(arr.toArray(), [1, 2, 3], "nothing was written");
});

Deno.test("SharedArray takes no new properties: a mistaken write throws a TypeError instead of staying local", () => {
  const arr = new SharedArray("i", [1, 2]);
  const loose = arr as unknown as Record<PropertyKey, unknown>;
  assert.equal(Object.isExtensible(arr), false);
  const writes: [string, () => void][] = [
    ["arr.foo = 1", () => {
      loose.foo = 1;
    }],
    ["arr[1.5] = 2", () => {
      loose[1.5] = 2;
    }],
    ['arr["01"] = 2', () => {
      loose["01"] = 2;
    }],
    ["arr[NaN] = 2", () => {
      loose[NaN] = 2;
    }],
    ["arr[symbol] = 2", () => {
      loose[Symbol("s")] = 2;
    }],
    ["arr.length = 5", () => {
      loose.length = 5;
    }],
    ['arr.typecode = "d"', () => {
      loose.typecode = "d";
    }],
    ['defineProperty(arr, "x")', () => {
      Object.defineProperty(arr, "x", { value: 1 });
    }],
    // Reflect.set is what a non-strict script's assignment does.
    ['Reflect.set(arr, "foo")', () => {
      Reflect.set(arr, "foo", 1);
    }],
  ];
  for (const [what, write] of writes) assert.throws(write, TypeError, what);
  assert.throws(() => {
    loose.foo = 1;
  }, /Cannot set "foo" on a SharedArray: it takes no new properties/);
  assert.equal(loose.foo, undefined);
  assert.equal(loose[1.5], undefined);
  assert.equal(Object.hasOwn(arr, "foo"), false);
  assert.deepEqual(arr.toArray(), [1, 2]);
  assert.equal(arr.length, 2);
  assert.equal(arr.typecode, "i");
  // Object methods still answer.
  assert.equal(arr.valueOf(), arr);
  assert.ok(arr instanceof Object && arr instanceof SharedArray);
  assert.equal(arr.toString(), "[object Object]");
  assert.equal("typecode" in arr, true);
});

Deno.test("Value takes no property but value: v.valu = 3 throws a TypeError", () => {
  const v = new Value("i", 1);
  const loose = v as unknown as Record<string, unknown>;
  assert.equal(Object.isExtensible(v), false);
  assert.throws(
    () => {
      loose.valu = 3;
    },
    /Cannot set "valu" on a Value: it takes no new properties; read and write "value"/,
  );
  assert.throws(() => {
    loose.typecode = "d";
  }, TypeError);
  assert.throws(() => Reflect.set(v, "valu", 3), TypeError);
  v.value = 5;
  v.value += 1;
  assert.equal(v.value, 6);
  assert.equal(loose.valu, undefined);
  assert.ok(v instanceof Object && v instanceof Value);
  assert.deepEqual(Object.keys(v).sort(), [
    "$data",
    "$lock",
    "$mp",
    "typecode",
  ]);
});

Deno.test("SharedArray indexing: += and ++, length, iteration, slice() with Python's bounds", () => {
  const arr = new SharedArray("i", [10, 20, 30, 40, 50]);
  arr[0]! += 5;
  arr[1]!++;
  arr[2]! *= 2;
  arr[3]! -= 41;
  assert.deepEqual([...arr], [15, 21, 60, -1, 50]);
  assert.equal(arr.length, 5);
  const seen: number[] = [];
  for (const x of arr) seen.push(x);
  assert.deepEqual(seen, [15, 21, 60, -1, 50]);
  const slices: [number | undefined, number | undefined, number[]][] = [
    [undefined, undefined, [15, 21, 60, -1, 50]],
    [1, 3, [21, 60]],
    [-2, undefined, [-1, 50]],
    [1, -1, [21, 60, -1]],
    [-100, 2, [15, 21]],
    [3, 100, [-1, 50]],
    [4, 2, []],
    [5, undefined, []],
    [-Infinity, Infinity, [15, 21, 60, -1, 50]],
  ];
  for (const [a, b, want] of slices) {
    const got = arr.slice(a, b);
    assert.deepEqual(got, want, `slice(${a}, ${b})`);
    assert.ok(Array.isArray(got), "a plain array");
    // Python's arr[a:b] and Array.prototype.slice agree here.
    assert.deepEqual(got, [...arr].slice(a, b));
  }
  const copy = arr.slice();
  copy[0] = 0;
  assert.equal(arr[0], 15, "a slice is a copy");
  assert.throws(() => arr.slice(1.5), RangeError);
  assert.throws(() => arr.slice(NaN), RangeError);
  assert.throws(() => arr.slice("1" as unknown as number), TypeError);
  const big = new SharedArray("q", [1n, 2n, 3n]);
  big[0]! += 10n;
  assert.deepEqual(big.slice(0, 2), [11n, 2n]);
});

Deno.test("Value and SharedArray hold characters: c one byte, u one UTF-16 unit, read as one-character strings", () => {
  const c = new Value("c", "a");
  assert.equal(c.value, "a");
  c.value = "\xe9";
  assert.equal(c.value, "é");
  assert.throws(() => {
    c.value = "ā"; // code 257
  }, /typecode "c": it takes a one-character string with a code from 0 to 255/);
  assert.equal(new Value("c").value, "\0");
  const u = new Value("u", "ā");
  assert.equal(u.value, "ā");
  assert.throws(() => {
    u.value = "😀"; // two UTF-16 units
  }, /typecode "u": it takes a one-character string of one UTF-16 code unit/);
  const text = new SharedArray("u", "héllo");
  assert.equal(text.length, 5);
  assert.ok(text.asTypedArray() instanceof Uint16Array);
  text[0] = "H";
  assert.deepEqual(text.slice(0, 2), ["H", "é"]);
  assert.equal([...text].join(""), "Héllo");
  assert.equal(text.toArray().join(""), "Héllo");
  const bytes = new SharedArray("c", ["x", "y"]);
  assert.ok(bytes.asTypedArray() instanceof Uint8Array);
  assert.deepEqual([...bytes.asTypedArray()], [120, 121]);
  assert.equal(bytes.get(1), "y");
  assert.equal(new SharedArray("c", 2)[1], "\0");
  assert.throws(() => new SharedArray("c", "ab€"), TypeError);
});

Deno.test("SharedArray indexing works on the copy a process gets: its writes are seen here", async () => {
  const arr = new SharedArray("i", [1, 2, 3, 4]);
  const value = new Value("i", 0);
  const chars = new SharedArray("u", 5);
  const p = new Process({
    target: indexInWorker,
    args: [arr, value, 1, 42],
    module,
  });
  const q = new Process({ target: writeChars, args: [chars, "hé😀"], module });
  try {
    p.start();
    q.start();
    // The first import type-checks the module: seconds on a busy machine.
    await finish(p, 30_000);
    await finish(q, 30_000);
    assert.equal(p.exitCode, 0, String(p.error));
    assert.equal(q.exitCode, 0, String(q.error));
    assert.deepEqual([...arr], [1, 42, 4, 4]);
    assert.equal(chars.toArray().join(""), "hé😀\0");
  } finally {
    if (p.isAlive()) p.terminate();
    if (q.isAlive()) q.terminate();
  }
});

Deno.test("SharedArray indexing works in a pool task: the errors there are the same, its writes are seen here", async () => {
  const arr = new SharedArray("i", [5, 6, 7]);
  const value = new Value("i", 0);
  await using pool = openPool({ processes: 1, module });
  const report = await within(
    pool.apply(indexInWorker, [arr, value, 0, 9]),
    30_000,
    "the first task",
  );
  const want: IndexReport = {
    first: 9,
    length: 3,
    all: [9, 7, 7],
    tail: [7, 7],
    readPast: "RangeError",
    writeNegative: "RangeError",
    addProperty: "TypeError",
    valueTypo: "TypeError",
  };
  assert.deepEqual(report, want);
  assert.deepEqual([...arr], [9, 7, 7]);
  // The same worker again: a second copy of the array, the same memory.
  arr[2] = 100;
  const again = await pool.apply(indexInWorker, [arr, value, 2, -1]);
  assert.deepEqual(again.all, [9, 7, -1]);
  const chars = new SharedArray("c", 3);
  assert.equal(await pool.apply(writeChars, [chars, "abc"]), "abc");
  assert.equal(chars[2], "c");
});

for (const locked of [true, false]) {
  Deno.test(
    `SharedArray arr[0] += 1 from 3 processes ${
      locked
        ? "under getLock() loses no update"
        : "without the lock races (the test can see a lost update)"
    }`,
    async () => {
      const n = 2_000;
      const arr = new SharedArray("i", 2);
      const start = new Barrier(3);
      const ps = [1, 2, 3].map(() =>
        new Process({
          target: incrementIndexed,
          args: [arr, n, start, locked],
          module,
        })
      );
      try {
        for (const p of ps) p.start();
        for (const p of ps) {
          await finish(p, 30_000);
          assert.equal(p.exitCode, 0, String(p.error));
        }
        if (locked) assert.deepEqual([...arr], [3 * n, 3 * n]);
        // Without the lock the three read-pause-write loops overlap.
        else {assert.ok(
            arr[0]! < 3 * n,
            `${arr[0]} of ${3 * n}: no update lost`,
          );}
      } finally {
        for (const p of ps) if (p.isAlive()) p.terminate();
      }
    },
  );
}
