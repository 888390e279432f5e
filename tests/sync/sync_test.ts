// Behaviour of Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition
// and Barrier: in the main program, across processes, and when a process
// ends while holding a lock.
import assert from "node:assert/strict";
import {
  AbandonedLockError,
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  Condition,
  Event,
  JoinableQueue,
  Lock,
  Pipe,
  Pool,
  Process,
  ProcessError,
  Queue,
  RLock,
  Semaphore,
  SharedArray,
  SimpleQueue,
  TimeoutError,
  Value,
} from "@parallel/multiprocessing";
import {
  criticalSections,
  holdForever,
  holdThenExit,
  meet,
  poolHoldThenExit,
  reenter,
  takeUnits,
  tryAcquire,
  useAll,
  useSync,
  waitCondition,
  waitEvent,
} from "../fixtures/shared_targets.ts";
import { delay, finish, fixture, until, within } from "../fixtures/harness.ts";

const module = fixture("shared_targets.ts");

/** Where a Lock's or RLock's shared words count the acquire() calls that
 * wait for it (the layout is in lib/_shared/wait.ts). */
const LOCK_WAITERS = 1;

/** How many acquire() calls, in any process, wait for `lock` now. */
function waitersOf(lock: Lock | RLock): number {
  return Atomics.load(lock.$state, LOCK_WAITERS);
}

/** Starts the processes, runs `body`, and ends whatever still runs. */
async function running(
  ps: Process[],
  body: () => Promise<void>,
): Promise<void> {
  try {
    for (const p of ps) p.start();
    await body();
  } finally {
    for (const p of ps) if (p.isAlive()) p.terminate();
  }
}

// ---- Lock ---------------------------------------------------------------------

Deno.test("Lock.acquire() resolves true, or false after its timeout while held", async () => {
  const lock = new Lock();
  assert.equal(lock.locked(), false);
  assert.equal(await lock.acquire(), true);
  assert.equal(lock.locked(), true);
  const t0 = performance.now();
  assert.equal(await within(lock.acquire(50), 5_000), false);
  assert.ok(performance.now() - t0 >= 45);
  assert.equal(await lock.acquire(0), false);
  lock.release();
  assert.throws(() => lock.release(), /not acquired/);
  await assert.rejects(lock.acquire(-1), RangeError);
});

Deno.test("Lock.acquire() waits for release() and wakes then", async () => {
  const lock = new Lock();
  await lock.acquire();
  const waiting = lock.acquire(5_000);
  await until(() => waitersOf(lock) === 1, {
    what: "the second acquire() to wait",
  });
  lock.release();
  assert.equal(await within(waiting, 5_000), true);
  lock.release();
});

Deno.test("Lock.hold() releases at the end of a using scope; rejects with TimeoutError", async () => {
  const lock = new Lock();
  {
    using _held = await lock.hold();
    assert.equal(lock.locked(), true);
    await assert.rejects(lock.hold(20), TimeoutError);
  }
  assert.equal(lock.locked(), false);
});

Deno.test("Lock excludes 2 processes from a critical section", async () => {
  const lock = new Lock();
  const arr = new SharedArray("d", 1);
  const ps = [1, 2].map(() =>
    new Process({ target: criticalSections, args: [lock, arr, 500], module })
  );
  await running(ps, async () => {
    for (const p of ps) {
      await finish(p);
      assert.equal(p.exitCode, 0, String(p.error));
    }
    assert.equal(arr.get(0), 1000);
  });
});

for (const code of [1, 0]) {
  Deno.test(`Lock.acquire() rejects with AbandonedLockError when the holder ended with exit(${code}), then the lock is free`, async () => {
    const lock = new Lock();
    const held = new Event();
    const p = new Process({
      target: holdThenExit,
      args: [lock, held, code],
      module,
    });
    await running([p], async () => {
      assert.equal(await held.wait(10_000), true);
      // The holder exits ~50 ms later, while this acquire waits.
      const err = await within(lock.acquire(10_000), 10_000).catch((e) => e);
      assert.ok(err instanceof AbandonedLockError, String(err));
      assert.equal(err.pid, p.pid);
      assert.match(err.message, new RegExp(`Process ${p.pid} ended`));
      assert.equal(lock.locked(), false);
      assert.equal(await lock.acquire(0), true);
      lock.release();
      await finish(p);
      assert.equal(p.exitCode, code);
    });
  });
}

Deno.test("Lock.acquire() in another process gets AbandonedLockError when the holder is terminated", async () => {
  const lock = new Lock();
  const held = new Event();
  const out = new Queue<string>();
  const holder = new Process({
    target: holdForever,
    args: [lock, held],
    module,
  });
  const waiter = new Process({
    target: tryAcquire,
    args: [lock, 10_000, out],
    module,
  });
  await running([holder], async () => {
    assert.equal(await held.wait(10_000), true);
    await running([waiter], async () => {
      // Once the waiter waits on the lock, end the holder.
      await until(() => waitersOf(lock) === 1, {
        what: "the waiter process to wait on the lock",
      });
      holder.terminate();
      assert.equal(await out.get(10_000), `AbandonedLockError:${holder.pid}`);
      await finish(waiter);
    });
  });
  assert.equal(await lock.acquire(0), true);
});

Deno.test("Lock.acquire() after a pool worker died holding the lock rejects with AbandonedLockError", async () => {
  const lock = new Lock();
  {
    await using pool = new Pool({ processes: 1, module });
    await assert.rejects(pool.apply(poolHoldThenExit, [lock]), ProcessError);
  }
  const err = await within(lock.acquire(5_000), 5_000).catch((e) => e);
  assert.ok(err instanceof AbandonedLockError, String(err));
  assert.equal(await lock.acquire(0), true);
});

Deno.test("Lock.acquire() in a process times out while the main program holds the lock", async () => {
  const lock = new Lock();
  const out = new Queue<string>();
  await lock.acquire();
  const p = new Process({ target: tryAcquire, args: [lock, 100, out], module });
  await running([p], async () => {
    assert.equal(await out.get(10_000), "timeout");
    lock.release();
    await finish(p);
  });
});

// ---- RLock --------------------------------------------------------------------

Deno.test("RLock.acquire() re-enters in the owning process; release() counts down", async () => {
  const lock = new RLock();
  assert.equal(await lock.acquire(), true);
  assert.equal(await lock.acquire(0), true);
  lock.release();
  lock.release();
  assert.throws(() => lock.release(), /not acquired/);
  {
    using _held = await lock.hold();
  }
  assert.equal(await lock.acquire(0), true);
  lock.release();
});

Deno.test("RLock excludes other processes and re-enters in each", async () => {
  const lock = new RLock();
  const arr = new SharedArray("i", 1);
  const ps = [1, 2].map(() =>
    new Process({ target: reenter, args: [lock, arr, 300], module })
  );
  await running(ps, async () => {
    for (const p of ps) await finish(p);
    assert.equal(arr.get(0), 600);
  });
});

Deno.test("RLock.acquire() rejects with AbandonedLockError when its owner exited holding it", async () => {
  const lock = new RLock();
  const held = new Event();
  const p = new Process({
    target: holdThenExit,
    args: [lock, held, 1],
    module,
  });
  await running([p], async () => {
    assert.equal(await held.wait(10_000), true);
    await assert.rejects(
      within(lock.acquire(10_000), 10_000),
      AbandonedLockError,
    );
    assert.equal(await lock.acquire(0), true);
    lock.release();
  });
});

// ---- Semaphore ----------------------------------------------------------------

Deno.test("Semaphore.acquire() takes units and waits for release()", async () => {
  const sem = new Semaphore(2);
  assert.equal(await sem.acquire(), true);
  assert.equal(await sem.acquire(), true);
  assert.equal(sem.getValue(), 0);
  assert.equal(await sem.acquire(20), false);
  // Deliberate: the release must come while acquire() waits.
  const releasing = delay(10).then(() => sem.release());
  assert.equal(await within(sem.acquire(5_000), 5_000), true);
  await releasing;
  assert.throws(() => new Semaphore(-1), RangeError);
});

Deno.test("Semaphore releases in the main program wake a process's acquires", async () => {
  const sem = new Semaphore(0);
  const done = new Event();
  const p = new Process({ target: takeUnits, args: [sem, 50, done], module });
  await running([p], async () => {
    for (let i = 0; i < 50; i++) sem.release();
    assert.equal(await done.wait(10_000), true);
    assert.equal(sem.getValue(), 0);
    await finish(p);
  });
});

Deno.test("Semaphore(1) excludes 2 processes from a critical section", async () => {
  const sem = new Semaphore(1);
  const arr = new SharedArray("d", 1);
  const ps = [1, 2].map(() =>
    new Process({ target: criticalSections, args: [sem, arr, 500], module })
  );
  await running(ps, async () => {
    for (const p of ps) await finish(p);
    assert.equal(arr.get(0), 1000);
  });
});

Deno.test("BoundedSemaphore.release() throws above its initial value", async () => {
  const sem = new BoundedSemaphore(2);
  assert.throws(() => sem.release(), /released more times than acquired/);
  await sem.acquire();
  sem.release();
  assert.equal(sem.getValue(), 2);
});

// ---- Event --------------------------------------------------------------------

Deno.test("Event.wait() resolves false after its timeout, true once set()", async () => {
  const ev = new Event();
  assert.equal(ev.isSet(), false);
  assert.equal(await within(ev.wait(30), 5_000), false);
  // Deliberate: the set() must come while wait() waits.
  const setting = delay(10).then(() => ev.set());
  assert.equal(await within(ev.wait(5_000), 5_000), true);
  await setting;
  assert.equal(await ev.wait(0), true);
  ev.clear();
  assert.equal(ev.isSet(), false);
});

Deno.test("Event.set() in the main program wakes 2 waiting processes", async () => {
  const start = new Event();
  const out = new Queue<string>();
  const ready = new Semaphore(0);
  const ps = ["a", "b"].map((name) =>
    new Process({ target: waitEvent, args: [start, out, ready], module, name })
  );
  await running(ps, async () => {
    await until(() => ready.getValue() === 2, {
      what: "both processes to reach Event.wait()",
    });
    // Deliberate: a while later, neither has got past the unset event.
    await delay(100);
    assert.equal(out.empty(), true);
    start.set();
    const got = [await out.get(10_000), await out.get(10_000)];
    assert.deepEqual(got.sort(), ["a started", "b started"]);
    for (const p of ps) await finish(p);
  });
});

// ---- Condition ----------------------------------------------------------------

Deno.test("Condition.wait() and notify() need the lock; wait() times out", async () => {
  const cond = new Condition(new Lock());
  await assert.rejects(cond.wait(10), /does not hold its lock/);
  assert.throws(() => cond.notify(), /does not hold its lock/);
  await cond.acquire();
  assert.equal(await within(cond.wait(30), 5_000), false);
  assert.equal((cond.$lock as Lock).locked(), true, "wait() takes it back");
  cond.release();
  assert.throws(() => new Condition({} as Lock), TypeError);
});

Deno.test("Condition.notify(1) wakes one waiter; notifyAll() the rest", async () => {
  const cond = new Condition(new Lock());
  let waiting = 0;
  let woken = 0;
  const waiter = async () => {
    await cond.acquire();
    try {
      // wait() queues up before its first await: counted here, it waits.
      waiting++;
      if (await cond.wait(5_000)) woken++;
    } finally {
      cond.release();
    }
  };
  const waiters = [waiter(), waiter(), waiter()];
  await until(() => waiting === 3, { what: "3 waiters in Condition.wait()" });
  await cond.acquire();
  cond.notify();
  cond.release();
  await until(() => woken >= 1, { what: "notify() to wake a waiter" });
  // Deliberate: a while later, still only one woke.
  await delay(50);
  assert.equal(woken, 1);
  await cond.acquire();
  cond.notifyAll();
  cond.release();
  await within(Promise.all(waiters), 5_000);
  assert.equal(woken, 3);
});

Deno.test("Condition.notifyAll() in the main program wakes 2 processes waiting for a value", async () => {
  const cond = new Condition();
  const arr = new SharedArray("i", 1);
  const out = new Queue<number>();
  const ready = new Semaphore(0);
  const ps = [1, 2].map(() =>
    new Process({
      target: waitCondition,
      args: [cond, arr, 3, out, ready],
      module,
    })
  );
  await running(ps, async () => {
    // Each releases `ready` holding the lock, before its wait(): once this
    // holds the lock after both did, both wait.
    await until(() => ready.getValue() === 2, {
      what: "both processes to take the lock",
    });
    for (let i = 1; i <= 3; i++) {
      // Deliberate: space the rounds, so that the woken processes find the
      // value short and wait again.
      if (i > 1) await delay(30);
      using _held = await cond.hold(5_000);
      arr.set(0, i);
      cond.notifyAll();
    }
    assert.deepEqual([await out.get(10_000), await out.get(10_000)], [3, 3]);
    for (const p of ps) await finish(p);
  });
});

// ---- Barrier ------------------------------------------------------------------

Deno.test("Barrier.wait() releases the parties with distinct indices and runs the action", async () => {
  let actions = 0;
  const barrier = new Barrier(3, () => actions++);
  assert.equal(barrier.parties, 3);
  for (let round = 0; round < 3; round++) {
    const first = barrier.wait(5_000);
    await until(() => barrier.nWaiting === 1, {
      what: "the first party to arrive",
    });
    assert.equal(barrier.nWaiting, 1);
    const indices = await within(
      Promise.all([first, barrier.wait(5_000), barrier.wait(5_000)]),
      5_000,
    );
    assert.deepEqual(indices, [0, 1, 2]);
  }
  assert.equal(actions, 3);
  assert.equal(barrier.broken, false);
});

Deno.test("Barrier.wait() timing out breaks the barrier; reset() mends it", async () => {
  const barrier = new Barrier(2);
  await assert.rejects(within(barrier.wait(30), 5_000), BrokenBarrierError);
  assert.equal(barrier.broken, true);
  await assert.rejects(barrier.wait(1_000), BrokenBarrierError);
  barrier.reset();
  assert.equal(barrier.broken, false);
  const waiting = barrier.wait(5_000);
  await until(() => barrier.nWaiting === 1, { what: "the party to arrive" });
  barrier.reset();
  await assert.rejects(within(waiting, 5_000), BrokenBarrierError);
  assert.equal(barrier.broken, false);
  assert.deepEqual(
    await Promise.all([barrier.wait(5_000), barrier.wait(5_000)]),
    [0, 1],
  );
  const aborted = barrier.wait(5_000);
  barrier.abort();
  await assert.rejects(within(aborted, 5_000), BrokenBarrierError);
});

Deno.test("Barrier passes 20,000 rounds after a reset (its generation number wraps) without breaking", async () => {
  const barrier = new Barrier(2);
  const waiting = barrier.wait(5_000);
  barrier.reset();
  await assert.rejects(waiting, BrokenBarrierError);
  for (let round = 0; round < 20_000; round++) {
    await Promise.all([barrier.wait(5_000), barrier.wait(5_000)]);
  }
  assert.equal(barrier.broken, false);
});

Deno.test("Barrier.wait() rejects with the action's error; the others get BrokenBarrierError", async () => {
  const barrier = new Barrier(2, () => {
    throw new Error("action failed");
  });
  const first = barrier.wait(5_000);
  await assert.rejects(barrier.wait(5_000), /action failed/);
  await assert.rejects(first, BrokenBarrierError);
});

Deno.test("Barrier meets the main program and 2 processes for 3 rounds", async () => {
  const barrier = new Barrier(3);
  const out = new Queue<number>();
  const ps = [1, 2].map(() =>
    new Process({ target: meet, args: [barrier, 3, out], module })
  );
  await running(ps, async () => {
    const mine: number[] = [];
    for (let r = 0; r < 3; r++) mine.push(await barrier.wait(10_000));
    for (const p of ps) await finish(p);
    const theirs = [];
    while (!out.empty()) theirs.push(out.getNowait());
    assert.equal(theirs.length, 6);
    // Each round hands out 0, 1 and 2 once: in all, each three times.
    const all = [...mine, ...theirs].sort();
    assert.deepEqual(all, [0, 0, 0, 1, 1, 1, 2, 2, 2]);
  });
});

// ---- in a worker without permissions -------------------------------------------

Deno.test(`Queue, SimpleQueue, Pipe, Lock, Value and SharedArray work in a process with permissions "none"`, async () => {
  const queue = new Queue<string>();
  const simple = new SimpleQueue<string>();
  const [mine, theirs] = Pipe<string>();
  const lock = new Lock();
  const value = new Value("i", 0);
  const arr = new SharedArray("q", 2);
  const p = new Process({
    target: useAll,
    args: [queue, simple, theirs, lock, value, arr],
    module,
    permissions: "none",
    name: "scoped",
  });
  await running([p], async () => {
    await mine.send("ping");
    assert.equal(await within(mine.recv(), 10_000), "ping pong");
    assert.equal(await queue.get(10_000), "queue from scoped");
    assert.equal(await within(simple.get(), 10_000), "simple");
    await finish(p);
    assert.equal(p.exitCode, 0, String(p.error));
    assert.equal(value.value, 7);
    assert.equal(arr.get(1), 2n ** 40n);
    assert.equal(lock.locked(), false);
  });
});

Deno.test(`RLock, Semaphore, Event, Condition, Barrier and JoinableQueue work in a process with permissions "none"`, async () => {
  const rlock = new RLock();
  const sem = new Semaphore(0);
  const go = new Event();
  const cond = new Condition();
  const barrier = new Barrier(2);
  const jq = new JoinableQueue<string>();
  const p = new Process({
    target: useSync,
    args: [rlock, sem, go, cond, barrier, jq],
    module,
    permissions: "none",
  });
  await running([p], async () => {
    await jq.put("job");
    sem.release();
    go.set();
    const index = await within(barrier.wait(10_000), 10_000);
    assert.ok(index === 0 || index === 1);
    assert.equal(await jq.join(10_000), true);
    await finish(p);
    assert.equal(p.exitCode, 0, String(p.error));
    assert.equal(sem.getValue(), 0);
    assert.equal(await rlock.acquire(0), true);
    rlock.release();
  });
});
