// A worker with scoped permissions gets neither the program's liveness
// table nor its pid counter (a shared buffer cannot be made read-only): it
// cannot make the main side take a lock that is still held, nor make later
// processes repeat the ids of live ones. The main side still learns of its
// end, so a lock it abandons is reported as abandoned.
import assert from "node:assert/strict";
import {
  AbandonedLockError,
  Event,
  Lock,
  Process,
} from "@parallel/multiprocessing";
import { forgeEnded, holdUntil, ownPid } from "./fixtures/liveness_targets.ts";
import { finish, openPool, rejectionOf, within } from "../fixtures/harness.ts";

const module = new URL("./fixtures/liveness_targets.ts", import.meta.url);
/** How long the main side's acquire() waits for the held lock (ms). */
const ACQUIRE_MS = 500;

Deno.test('a "none" worker cannot make the main side\'s acquire() take a lock that is still held', async () => {
  const lock = new Lock();
  const ready = new Event();
  const done = new Event();
  const holder = new Process({
    target: holdUntil,
    args: [lock, ready, done],
    module,
  });
  holder.start();
  try {
    assert.ok(await ready.wait(15_000), "the holder took the lock");
    const pool = openPool({ processes: 1, module, permissions: "none" });
    let forgery;
    try {
      forgery = await within(pool.apply(forgeEnded, [holder.pid!]));
      // Its own pid comes from a block reserved for it.
      const pid = await within(pool.apply(ownPid, []));
      assert.ok(pid > 0);
    } finally {
      pool.close();
      await within(pool.join());
    }
    // The lock is still held: acquire() times out, it does not take it.
    const got = await within(
      lock.acquire(ACQUIRE_MS).then((ok) => ({ ok }), (error) => ({ error })),
    );
    assert.deepEqual(got, { ok: false });
    // It had a table of its own, not the program's 65,537 words.
    assert.notEqual(forgery.tableWords, 65_537, Deno.inspect(forgery));
    // Processes started now still get new ids.
    const later = new Process({ target: ownPid, module });
    later.start();
    await finish(later);
    assert.ok(
      later.pid! > holder.pid!,
      `pid ${later.pid} after ${holder.pid}: the counter was reset`,
    );
  } finally {
    done.set();
    await finish(holder);
  }
  // The holder released it: free now.
  assert.equal(await lock.acquire(ACQUIRE_MS), true);
  lock.release();
});

/** Holds `lock` and never releases it: the worker is ended while holding. */
Deno.test("a scoped worker that ends while holding a lock is still reported as abandoned on the main side", async () => {
  const lock = new Lock();
  const ready = new Event();
  const done = new Event();
  const holder = new Process({
    target: holdUntil,
    args: [lock, ready, done],
    module,
    permissions: "none",
  });
  holder.start();
  try {
    assert.ok(await ready.wait(15_000), "the scoped holder took the lock");
    holder.kill();
    const err = await rejectionOf(lock.acquire(5_000));
    assert.ok(err instanceof AbandonedLockError, Deno.inspect(err));
  } finally {
    done.set();
    if (holder.isAlive()) holder.kill();
  }
  assert.equal(await lock.acquire(ACQUIRE_MS), true);
  lock.release();
});
