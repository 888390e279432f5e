// Pool.imap() and imapUnordered(): lazy, bounded, ordered or as completed.
import assert from "node:assert/strict";
import {
  cube,
  sleepy,
  slowFirst,
  tagged,
  throwAt3,
  uneven,
} from "../fixtures/pool_targets.ts";
import {
  assertChunks,
  delay,
  failureOf,
  ISOLATIONS,
  openPool,
  range,
  until,
  within,
} from "../fixtures/harness.ts";

/** Collects an async iterable, bounded in time. */
function collect<T>(it: AsyncIterable<T>, ms = 15_000): Promise<T[]> {
  return within(Array.fromAsync(it), ms, "iteration");
}

/** An endless input that counts its pulls, and fails (rather than hang the
 * test) if pulled without bound. */
class Naturals {
  pulled = 0;
  closed = false;
  *[Symbol.iterator](): Generator<number> {
    try {
      for (let i = 0;; i++) {
        if (this.pulled >= 100_000) {
          throw new Error("pulled 100000 items of an endless input");
        }
        this.pulled++;
        yield i;
      }
    } finally {
      this.closed = true;
    }
  }
}

for (const isolation of ISOLATIONS) {
  const tag = `(isolation "${isolation}")`;

  Deno.test(`Pool.imap() yields results in input order when later items finish first ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    assert.deepEqual(
      await collect(pool.imap(uneven, range(30))),
      range(30).map((x) => 2 * x),
    );
  });

  Deno.test(`Pool.imap() is lazy: an endless input works, and stopping early ends the pull ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const input = new Naturals();
    const got: number[] = [];
    await within(
      (async () => {
        for await (const v of pool.imap(cube, input)) {
          got.push(v);
          if (got.length === 50) break;
        }
      })(),
    );
    assert.deepEqual(got, range(50).map(cube));
    assert.ok(input.pulled >= 50, `pulled ${input.pulled}`);
    assert.ok(input.pulled < 50 + 1000, `pulled ${input.pulled} items for 50`);
    // The pool pulls no more, and closes the input (as for-of does).
    const pulled = input.pulled;
    // Deliberate: a while later, still no more pulled.
    await delay(200);
    assert.equal(input.pulled, pulled);
    assert.equal(input.closed, true);
  });

  Deno.test(`Pool.imap() stops pulling while the consumer does not take results ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const input = new Naturals();
    const it = pool.imap(cube, input);
    try {
      assert.deepEqual(await within(it.next()), { value: 0, done: false });
      // Deliberate: let it pull as far ahead as it will, then check, a while
      // later, that it pulled no further.
      await delay(300);
      const pulled = input.pulled;
      assert.ok(pulled < 1000, `pulled ${pulled} items ahead of the consumer`);
      await delay(300);
      assert.equal(input.pulled, pulled, "still pulling with nobody consuming");
      // Taking results lets it pull again, in order.
      for (let i = 1; i <= pulled + 10; i++) {
        const r = await within(it.next());
        assert.deepEqual(r, { value: cube(i), done: false });
      }
      assert.ok(input.pulled > pulled);
    } finally {
      await within(it.return!());
    }
  });

  Deno.test(`Pool.imap() takes an endless async input ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    let pulled = 0;
    async function* naturals() {
      for (let i = 0; i < 100_000; i++) {
        pulled++;
        if (i % 10 === 0) await delay(0); // an input that really is async
        yield i;
      }
      throw new Error("pulled 100000 items of an endless input");
    }
    const got: number[] = [];
    await within(
      (async () => {
        for await (const v of pool.imap(cube, naturals())) {
          got.push(v);
          if (got.length === 20) break;
        }
      })(),
    );
    assert.deepEqual(got, range(20).map(cube));
    assert.ok(pulled < 20 + 1000, `pulled ${pulled} items for 20`);
  });

  Deno.test(`Pool.imap() return() while a next() is pending settles that next() ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    const it = pool.imap(sleepy, [500, 500]);
    const pending = it.next();
    await until(() => pool.stats().busy === 1, {
      what: "the first item to be running",
    });
    assert.deepEqual(await within(it.return!()), {
      value: undefined,
      done: true,
    });
    assert.deepEqual(await within(pending, 3_000, "the pending next()"), {
      value: undefined,
      done: true,
    });
    assert.deepEqual(await within(it.next()), {
      value: undefined,
      done: true,
    });
  });

  Deno.test(`Pool.imap() runs each chunk of its chunksize in one worker ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const got = await collect(pool.imap(tagged, range(12), 4));
    assert.deepEqual(got.map(([x]) => x), range(12));
    assertChunks(got.map(([, pid]) => pid), 4);
  });

  Deno.test(`Pool.imap() default chunksize is 1 ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const got = await collect(pool.imap(tagged, range(6)));
    assert.deepEqual(got.map(([x]) => x), range(6));
    assertChunks(got.map(([, pid]) => pid), 1);
  });

  Deno.test(`Pool.imap() of an empty input yields nothing ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    assert.deepEqual(await collect(pool.imap(cube, [])), []);
    assert.deepEqual(await collect(pool.imapUnordered(cube, [])), []);
  });

  Deno.test(`Pool.imap() yields the results before a failed item, then throws its error ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const got: number[] = [];
    const err = await failureOf(async () => {
      for await (const v of pool.imap(throwAt3, range(8))) got.push(v);
    });
    assert.ok(err instanceof RangeError, `got ${Deno.inspect(err)}`);
    assert.equal(err.message, "bad item 3");
    assert.deepEqual(got, [0, 1, 2]);
  });

  Deno.test(`Pool.imap() reports progress ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const calls: [number, number | undefined][] = [];
    const got = await collect(
      pool.imap(cube, range(10), 2, {
        onProgress: (done, total) => calls.push([done, total]),
      }),
    );
    assert.deepEqual(got, range(10).map(cube));
    assert.deepEqual(calls.at(-1), [10, 10]);
  });

  Deno.test(`Pool.imapUnordered() yields results as they complete: a slow first item does not hold back the others ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const got = await collect(pool.imapUnordered(slowFirst, range(10)));
    assert.notEqual(got[0], 0, `the slow item came first: ${got}`);
    assert.deepEqual([...got].sort((a, b) => a - b), range(10));
  });

  Deno.test(`Pool.imapUnordered() with a chunksize yields every result ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const got = await collect(pool.imapUnordered(uneven, range(23), 5));
    assert.deepEqual(
      got.sort((a, b) => a - b),
      range(23).map((x) => 2 * x),
    );
  });

  Deno.test(`Pool.imapUnordered() is lazy on an endless input ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 2 });
    const input = new Naturals();
    const got: number[] = [];
    await within(
      (async () => {
        for await (const v of pool.imapUnordered(cube, input)) {
          got.push(v);
          if (got.length === 30) break;
        }
      })(),
    );
    assert.equal(new Set(got).size, 30);
    assert.ok(input.pulled < 30 + 1000, `pulled ${input.pulled} items for 30`);
    assert.equal(input.closed, true);
  });

  Deno.test(`Pool.imap() with a bad chunksize or input throws ${tag}`, async () => {
    await using pool = openPool({ isolation, processes: 1 });
    for (const cs of [0, -1, 1.5]) {
      const err = await failureOf(() => pool.imap(cube, [1], cs).next());
      assert.ok(err instanceof RangeError, `chunksize ${cs}: ${err}`);
    }
    const err = await failureOf(() =>
      pool.imap(cube, 5 as unknown as number[]).next()
    );
    assert.ok(err instanceof TypeError, `${err}`);
  });
}
