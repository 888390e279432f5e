// Arguments that cannot be read (a revoked Proxy, a throwing getter) or
// written (a frozen array): each rejects its own call, never leaves it
// pending, and the pool stays joinable (close() then join(), and
// `await using`, end). The library never writes into the caller's objects.
import assert from "node:assert/strict";
import { Pool, transfer } from "@parallel/multiprocessing";
import { add, echo, sumBytes } from "../fixtures/pool_targets.ts";
import { openPool, rejectionOf, TARGETS, within } from "../fixtures/harness.ts";

/** How long a pool may take to end after its calls settled (ms). */
const JOIN_MS = 10_000;

/** A Proxy whose every read throws once revoked. */
function revoked(target: object): object {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
}

/** An object with a getter that throws. */
function throwingGetter(): object {
  return {
    get x(): number {
      throw new Error("getter threw");
    },
  };
}

/** An array whose element reads throw (a Proxy over an array). */
function throwingArray(): unknown[] {
  return new Proxy([1, 2, 3], {
    get(target, key, receiver) {
      if (key === "length") return 3;
      if (typeof key === "string" && /^\d+$/.test(key)) {
        throw new Error("element read threw");
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

async function assertJoinable(pool: Pool): Promise<void> {
  pool.close();
  await within(pool.join(), JOIN_MS, "join after a bad argument");
}

Deno.test("apply() with a frozen argument array runs, and the pool stays joinable", async () => {
  const pool = openPool({ processes: 1 });
  try {
    assert.equal(
      await within(pool.apply(add, Object.freeze([1, 2]) as [number, number])),
      3,
    );
    assert.deepEqual(
      await within(
        pool.starmap(
          add,
          Object.freeze([Object.freeze([1, 2]), [3, 4]]) as [
            number,
            number,
          ][],
        ),
      ),
      [3, 7],
    );
  } finally {
    await assertJoinable(pool);
  }
});

Deno.test("apply() with a frozen array holding a transfer() mark moves the buffer without writing into the array", async () => {
  const pool = openPool({ processes: 1 });
  try {
    const bytes = new Uint8Array([1, 2, 3]);
    const args = Object.freeze([transfer(bytes)]);
    assert.equal(await within(pool.apply(sumBytes, args as never)), 6);
    // The caller's array still holds the mark, not the unwrapped value.
    assert.equal((args[0] as { $transfer?: boolean }).$transfer, true);
    const open = [transfer(new Uint8Array([4, 5]))];
    const before = open[0];
    assert.equal(await within(pool.apply(sumBytes, open as never)), 9);
    assert.equal(open[0], before, "apply() wrote into the caller's array");
  } finally {
    await assertJoinable(pool);
  }
});

Deno.test("an argument that cannot be read rejects its call, and close() then join() end the pool", async () => {
  const cases: [string, () => Promise<unknown>][] = [];
  const pool = openPool({ processes: 1 });
  try {
    cases.push(
      ["a revoked Proxy", () => pool.apply(echo, [revoked({})])],
      [
        "a revoked Proxy as the args",
        () => pool.apply(echo, revoked([]) as [unknown]),
      ],
      ["a throwing getter", () => pool.apply(echo, [throwingGetter()])],
      [
        "a throwing getter in map",
        () => pool.map(echo, [1, throwingGetter(), 3], 1),
      ],
      [
        "a nested revoked Proxy",
        () => pool.map(echo, [{ deep: [revoked({})] }]),
      ],
      ["an array whose reads throw", () => pool.map(echo, throwingArray())],
      [
        "starmap over a revoked Proxy",
        () => pool.starmap(echo, [revoked([]) as [unknown]]),
      ],
    );
    for (const [what, call] of cases) {
      const err = await rejectionOf(call(), JOIN_MS);
      assert.ok(err instanceof Error, `${what}: ${Deno.inspect(err)}`);
    }
    // The pool still works.
    assert.equal(await within(pool.apply(add, [2, 3])), 5);
  } finally {
    await assertJoinable(pool);
  }
  console.log(`unreadable arguments rejected: ${cases.length}`);
});

Deno.test("`await using` ends a pool whose call had an unreadable argument", async () => {
  {
    await using pool = new Pool({ processes: 1, module: TARGETS });
    await rejectionOf(pool.apply(echo, [revoked({})]));
    await rejectionOf(
      pool.apply(add, Object.freeze([revoked({}), 1]) as never),
    );
  }
  // Reaching here within the test's time means the disposal ended.
});
