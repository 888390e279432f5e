// isolation: "thread" and resourceLimits: a thread that reaches its heap
// limit while it allocates synchronously is never ended by Deno 2.9 (it
// stops, answers nothing, and no exit comes), so the library's watchdog
// (lib/_engine/thread_watchdog.ts) finds it and ends it: the task fails with
// the out-of-memory ProcessError, the pool replaces the worker, nothing hangs.
// A thread that merely waits (awaiting, or blocked in Atomics.wait) is not
// taken for stuck.
import assert from "node:assert/strict";
import { Pool, Process, ProcessError } from "@parallel/multiprocessing";
import {
  allocateSync,
  blockFor,
  pids,
  sleep,
  square,
} from "../fixtures/isolation_targets.ts";
import { finish, fixture, rejectionOf, within } from "../fixtures/harness.ts";

const module = fixture("isolation_targets.ts");
/** How often the synchronous allocation runs in a row. */
const RUNS = 20;
/** The bound on one stuck thread's end: the watchdog decides within ~2 s
 * (STALL_MS + PING_MS and a tick); a busy machine is slower. */
const STUCK_MS = 20_000;

Deno.test(`Pool({ resourceLimits }) ends a thread stuck at its heap limit after synchronous allocation, ${RUNS} times in a row (cost: ~2 s each)`, async () => {
  await using pool = new Pool({
    processes: 1,
    module,
    resourceLimits: { maxOldGenerationSizeMb: 64 },
  });
  const seen = new Set<number>();
  for (let i = 0; i < RUNS; i++) {
    const err = await rejectionOf(pool.apply(allocateSync), STUCK_MS);
    assert.ok(err instanceof ProcessError, `run ${i}: ${err}`);
    assert.equal(err.code, "ERR_WORKER_OUT_OF_MEMORY", `run ${i}`);
    assert.equal(err.exitCode, 1, `run ${i}`);
    assert.match(err.message, /maxOldGenerationSizeMb \(64 MB\)/);
    seen.add((await within(pool.apply(pids))).current);
  }
  // Each run had a new worker, and the pool still works.
  assert.equal(seen.size, RUNS);
  assert.deepEqual(await within(pool.map(square, [1, 2, 3])), [1, 4, 9]);
});

Deno.test("Process({ resourceLimits }) stuck at its heap limit after synchronous allocation ends with exit code 1 and the out-of-memory ProcessError", async () => {
  const p = new Process({
    target: allocateSync,
    module,
    resourceLimits: { maxOldGenerationSizeMb: 64 },
  });
  p.start();
  await finish(p, STUCK_MS);
  assert.equal(p.exitCode, 1);
  const err = p.error as ProcessError;
  assert.ok(err instanceof ProcessError, String(err));
  assert.equal(err.code, "ERR_WORKER_OUT_OF_MEMORY");
});

Deno.test("Pool() does not take a thread that waits for its task for stuck: awaiting, or blocked in Atomics.wait", async () => {
  await using pool = new Pool({ processes: 2, module });
  // Both stand still (no CPU time) for longer than the watchdog's ping
  // delay; the awaiting one answers its ping, the blocked one is not in
  // epoll_wait.
  const [slept, blocked] = await within(
    Promise.all([pool.apply(sleep, [3_000]), pool.apply(blockFor, [3_000])]),
  );
  assert.equal(slept, undefined);
  assert.equal(blocked, 3_000);
});
