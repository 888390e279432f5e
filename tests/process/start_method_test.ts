// Start methods: "forkserver" (the default) keeps warm standby threads that
// the next Process or pool worker takes; "spawn" starts each on demand. A
// standby thread never keeps the program alive, and is only ever taken for
// exactly what it was started with (its heap limit, the environment as it
// is when taken).
import assert from "node:assert/strict";
import {
  getAllStartMethods,
  getStartMethod,
  ProcessError,
  setStartMethod,
  type StartMethod,
} from "@parallel/multiprocessing";
import { standbyCount } from "../../lib/_engine/standby.ts";
import { allocate, noop, readEnv } from "../fixtures/standby_targets.ts";
import {
  fixture,
  openPool,
  rejectionOf,
  runDeno,
  until,
} from "../fixtures/harness.ts";

const module = fixture("standby_targets.ts").href;

/** Runs one task on a new pool of one worker with `limits`, then closes
 * it: its worker ends, and its kind is refilled. */
async function once<T>(
  fn: (...a: never[]) => T,
  args: unknown[],
  limits?: { maxOldGenerationSizeMb: number },
): Promise<Awaited<T>> {
  await using pool = openPool({
    processes: 1,
    module,
    ...(limits === undefined ? {} : { resourceLimits: limits }),
  });
  return await pool.apply(
    fn as (...a: unknown[]) => T,
    args,
  ) as Awaited<T>;
}

/** Waits until some standby thread waits. */
async function standbyWaits(): Promise<void> {
  await until(() => standbyCount() > 0, { what: "a standby thread" });
}

Deno.test("the start methods are forkserver (the default) and spawn", () => {
  assert.equal(getStartMethod(), "forkserver");
  assert.deepEqual(getAllStartMethods(), ["forkserver", "spawn"]);
  assert.throws(
    () => setStartMethod("fork" as StartMethod),
    (err: unknown) =>
      err instanceof TypeError && /Deno cannot fork/.test(err.message) &&
      /"forkserver"/.test(err.message),
  );
  assert.throws(
    () => setStartMethod("threads" as StartMethod),
    (err: unknown) =>
      err instanceof TypeError && /Unknown start method "threads"/.test(
        err.message,
      ),
  );
  assert.equal(getStartMethod(), "forkserver");
});

Deno.test("a program with a standby thread waiting exits at once", async () => {
  const r = await runDeno(["run", "-A", fixture("standby_main.ts").href], {
    // The standby ends by itself only after STANDBY_IDLE_MS (10 s).
    timeout: 8_000,
  });
  assert.equal(r.signal, null, `still running after ${r.ms} ms`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^exit 0, waiting [1-9]/);
});

Deno.test('with "spawn", no thread waits, and setting it ends those waiting', async () => {
  const r = await runDeno(
    ["run", "-A", fixture("standby_main.ts").href, "spawn"],
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "exit 0, waiting 0");

  await once(noop, []);
  await standbyWaits();
  setStartMethod("spawn");
  try {
    assert.equal(standbyCount(), 0);
    await once(noop, []);
    assert.equal(standbyCount(), 0);
  } finally {
    setStartMethod("forkserver");
  }
});

Deno.test("a standby thread sees the environment as it is when taken", async () => {
  Deno.env.set("MP_STANDBY_GONE", "here");
  Deno.env.delete("MP_STANDBY_LATE");
  try {
    assert.deepEqual(await once(readEnv, ["MP_STANDBY_GONE"]), [
      "here",
      "here",
    ]);
    await standbyWaits();
    // Changed after the standby thread started, before it is taken.
    Deno.env.set("MP_STANDBY_LATE", "late");
    Deno.env.delete("MP_STANDBY_GONE");
    const late = await once(readEnv, ["MP_STANDBY_LATE"]);
    assert.deepEqual(late, ["late", "late"]);
    assert.deepEqual(await once(readEnv, ["MP_STANDBY_GONE"]), [null, null]);
  } finally {
    Deno.env.delete("MP_STANDBY_GONE");
    Deno.env.delete("MP_STANDBY_LATE");
  }
});

Deno.test("a standby thread is only taken for the heap limit it started with", async () => {
  const small = { maxOldGenerationSizeMb: 48 };
  // A thread of the default limit waits: a worker asking for 48 MB must not
  // get it.
  assert.equal(await once(noop, []), undefined);
  await standbyWaits();
  const err = await rejectionOf(once(allocate, [400], small));
  assert.ok(err instanceof ProcessError, String(err));
  assert.equal(err.code, "ERR_WORKER_OUT_OF_MEMORY");
  // Now a thread of the 48 MB limit waits: a worker with the default limit
  // must not get it.
  await standbyWaits();
  assert.equal(await once(allocate, [400]), 400);
});
