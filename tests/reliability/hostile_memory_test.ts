// Hostile shared memory: a scoped (permissions "none") Process writes garbage
// into the words of the queues, pipes and locks it was handed. The main
// program's calls on them still settle within their timeouts (or, without
// one, wait without blocking the main thread), report an impossible header or
// record length as a broken object, never allocate what a forged length
// asks, and never stop the main thread's timers.
//
// Each scenario runs as its own main program (fixtures/hostile_memory_main.ts)
// in a subprocess, so that a frozen main thread fails the test, killed after
// RUN_MS, instead of hanging the test runner.
import assert from "node:assert/strict";
import { runDeno } from "../fixtures/harness.ts";

const MAIN = "tests/reliability/fixtures/hostile_memory_main.ts";
/** How long a scenario may run before it is killed (a frozen main thread). */
const RUN_MS = 40_000;
/** The largest gap allowed between two ticks of the 50 ms timer. */
const MAX_GAP_MS = 1_000;
/** The most memory outside the JS heap a scenario may grow by (a forged
 * 2 GiB length must not be allocated). */
const MAX_GROWTH_MB = 64;

/** How a broken queue or pipe is reported. */
const BROKEN = /^Error: Cannot use the (queue|pipe): .*wrote garbage into it/;
/** How an item whose bytes do not decode is reported. */
const ITEM =
  /^Error: Cannot read an item of the queue: .*wrote garbage into it/;
const EMPTY = /^Empty: /;
const FULL = /^Full: /;
const FALSE = /^ok false$/;
const TRUE = /^ok true$/;
const RETURNED = /^ok undefined$/;
const PENDING = /^pending$/;
const BARRIER = /^BrokenBarrierError: /;

interface Report {
  scenario: string;
  maxGapMs: number;
  externalGrowthMb: number;
  calls: Array<{ what: string; ms: number; limit: number; outcome: string }>;
}

/** Runs `scenario` and checks every call against `expect` (by its label). */
async function check(
  scenario: string,
  expect: Record<string, RegExp>,
): Promise<void> {
  const ran = await runDeno(["run", "-A", MAIN, scenario], {
    timeout: RUN_MS,
  });
  assert.equal(
    ran.signal,
    null,
    `${scenario}: killed after ${RUN_MS} ms (a frozen main thread?): ${
      ran.stderr.slice(-1500)
    }`,
  );
  assert.equal(ran.code, 0, `${scenario}: ${ran.stderr.slice(-1500)}`);
  const report = JSON.parse(ran.stdout.trim().split("\n").at(-1)!) as Report;
  console.log(
    `${scenario}: ${report.calls.length} calls, largest timer gap ${
      report.maxGapMs.toFixed(0)
    } ms, memory +${report.externalGrowthMb.toFixed(1)} MB`,
  );
  const seen = new Set<string>();
  for (const { what, ms, limit, outcome } of report.calls) {
    const expected = expect[what];
    assert.ok(expected, `${scenario}: no expectation for "${what}"`);
    assert.match(outcome, expected, `${scenario}: ${what}: ${outcome}`);
    assert.ok(
      ms <= limit,
      `${scenario}: ${what} took ${ms.toFixed(0)} ms (limit ${limit})`,
    );
    seen.add(what);
  }
  assert.deepEqual([...seen].sort(), Object.keys(expect).sort());
  assert.ok(
    report.maxGapMs < MAX_GAP_MS,
    `${scenario}: the timer stopped for ${report.maxGapMs.toFixed(0)} ms`,
  );
  assert.ok(
    report.externalGrowthMb < MAX_GROWTH_MB,
    `${scenario}: memory grew by ${report.externalGrowthMb.toFixed(0)} MB`,
  );
}

Deno.test("Queue.get() with a guard held by a pid that never ends times out with Empty, and the timer keeps firing", async () => {
  await check("queue-guard", {
    "Queue.get(500)": EMPTY,
    "Queue.getNowait()": EMPTY,
    "Queue.putNowait()": FULL,
    "Queue.put(200)": FULL,
    "Queue.close()": RETURNED,
  });
});

Deno.test("Queue.get() of a record whose length is 2 GiB rejects as broken without allocating it", async () => {
  await check("queue-length", {
    "Queue.get(500)": BROKEN,
    "Queue.getNowait()": BROKEN,
    "Queue.putNowait()": BROKEN,
  });
});

Deno.test("Queue reports a header out of range as broken, an item that does not decode as garbage, and ignores a capacity or maxsize word that lies", async () => {
  await check("queue-header", {
    "head beyond the buffer: get(500)": BROKEN,
    "head not on a word: get(500)": BROKEN,
    "used negative: get(500)": BROKEN,
    "tail negative: putNowait()": BROKEN,
    "count negative: getNowait()": BROKEN,
    "capacity word lies: put(big, 500)": /^RangeError: .*"capacityBytes"/,
    "capacity word lies: get(500)": /^ok "x"$/,
    "maxsize negative: putNowait()": RETURNED,
    "bad JSON: get(500)": ITEM,
    "bad V8 bytes: get(500)": ITEM,
  });
});

Deno.test("JoinableQueue.get() and join() stay bounded by their timeouts on trashed words", async () => {
  await check("joinable", {
    "guard held: JoinableQueue.get(500)": EMPTY,
    "length 2 GiB: JoinableQueue.get(500)": BROKEN,
    "unfinished 2 ** 31 - 1: JoinableQueue.join(300)": FALSE,
  });
});

Deno.test("SimpleQueue.get() waits without blocking the main thread on a held guard, and rejects a 2 GiB length as broken", async () => {
  await check("simple", {
    "guard held: SimpleQueue.get()": PENDING,
    "length 2 GiB: SimpleQueue.get()": BROKEN,
  });
});

Deno.test("Connection.poll() and recv() stay bounded on a trashed ring, and the timer keeps firing", async () => {
  await check("pipe", {
    "guard held: Connection.poll(500)": FALSE,
    "guard held: Connection.recv()": PENDING,
    "length 2 GiB: Connection.recv()": BROKEN,
  });
});

Deno.test("Lock, RLock, Semaphore, Condition, Event and Barrier waits stay bounded on trashed words", async () => {
  await check("sync", {
    "owner never ends: Lock.acquire(500)": FALSE,
    "owner never ends: RLock.acquire(300)": FALSE,
    "value -7: Semaphore.acquire(300)": FALSE,
    "value 2 ** 31 - 1: Semaphore.release()":
      /^RangeError: Cannot release the Semaphore: .*2147483647/,
    "lock held: Condition.acquire(300)": FALSE,
    "sequence trashed: Condition.wait(300)": FALSE,
    "flag 2: Event.wait(1000)": TRUE,
    "flag -1: Event.wait(1000)": TRUE,
    "parties 0: Barrier.wait(300)": BARRIER,
    "count full: Barrier.wait(300)": BARRIER,
  });
});
