// Start methods: "forkserver" (the default) keeps warm standby workers
// (threads, and OS processes with read and env access) that the next
// Process or pool worker takes; "spawn" starts each on demand. A standby
// worker never keeps the program alive, and is only ever taken for exactly
// what it was started with (its heap limit, permissions), with the
// environment and working folder as they are when it is taken.
import assert from "node:assert/strict";
import {
  getAllStartMethods,
  getStartMethod,
  type Isolation,
  ProcessError,
  setStartMethod,
  type StartMethod,
} from "@parallel/multiprocessing";
import { standbyCount } from "../../lib/_engine/standby.ts";
import {
  allocate,
  noop,
  readCwd,
  readEnv,
} from "../fixtures/standby_targets.ts";
import {
  fixture,
  ISOLATIONS,
  openPool,
  rejectionOf,
  runDeno,
  until,
} from "../fixtures/harness.ts";

const module = fixture("standby_targets.ts").href;

/** Runs one task on a new pool of one worker with `limits`, then closes
 * it: its worker ends, and its kind is refilled. */
async function once<T>(
  isolation: Isolation,
  fn: (...a: never[]) => T,
  args: unknown[],
  limits?: { maxOldGenerationSizeMb: number },
): Promise<Awaited<T>> {
  await using pool = openPool({
    processes: 1,
    module,
    isolation,
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

for (const isolation of ISOLATIONS) {
  const tag = `(isolation "${isolation}")`;

  Deno.test(`a program with a standby worker waiting exits at once ${tag}`, async () => {
    const r = await runDeno(
      ["run", "-A", fixture("standby_main.ts").href, isolation],
      // A standby ends by itself only after STANDBY_IDLE_MS (10 s).
      { timeout: 8_000 },
    );
    assert.equal(r.signal, null, `still running after ${r.ms} ms`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^exit 0, waiting [1-9]/);
  });

  Deno.test(`with "spawn", no worker waits, and setting it ends those waiting ${tag}`, async () => {
    const r = await runDeno(
      ["run", "-A", fixture("standby_main.ts").href, isolation, "spawn"],
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "exit 0, waiting 0");

    await once(isolation, noop, []);
    await standbyWaits();
    setStartMethod("spawn");
    try {
      assert.equal(standbyCount(), 0);
      await once(isolation, noop, []);
      assert.equal(standbyCount(), 0);
    } finally {
      setStartMethod("forkserver");
    }
  });

  Deno.test(`a standby worker sees the environment and folder as they are when it is taken ${tag}`, async () => {
    Deno.env.set("MP_STANDBY_GONE", "here");
    Deno.env.delete("MP_STANDBY_LATE");
    const cwd = Deno.cwd();
    const elsewhere = await Deno.makeTempDir();
    try {
      assert.deepEqual(await once(isolation, readEnv, ["MP_STANDBY_GONE"]), [
        "here",
        "here",
      ]);
      await standbyWaits();
      // Changed after the standby worker started, before it is taken.
      Deno.env.set("MP_STANDBY_LATE", "late");
      Deno.env.delete("MP_STANDBY_GONE");
      assert.deepEqual(await once(isolation, readEnv, ["MP_STANDBY_LATE"]), [
        "late",
        "late",
      ]);
      await standbyWaits();
      assert.deepEqual(
        await once(isolation, readEnv, ["MP_STANDBY_GONE"]),
        [null, null],
      );
      await standbyWaits();
      Deno.chdir(elsewhere);
      assert.equal(
        await once(isolation, readCwd, []),
        Deno.realPathSync(elsewhere),
      );
    } finally {
      Deno.chdir(cwd);
      await Deno.remove(elsewhere);
      Deno.env.delete("MP_STANDBY_GONE");
      Deno.env.delete("MP_STANDBY_LATE");
    }
  });

  Deno.test(`a standby worker is only taken for the heap limit it started with ${tag}`, async () => {
    const small = { maxOldGenerationSizeMb: 48 };
    // A worker of the default limit waits: one asking for 48 MB must not
    // get it.
    assert.equal(await once(isolation, noop, []), undefined);
    await standbyWaits();
    const err = await rejectionOf(once(isolation, allocate, [400], small));
    assert.ok(err instanceof ProcessError, String(err));
    assert.equal(err.code, "ERR_WORKER_OUT_OF_MEMORY");
    // Now a worker of the 48 MB limit waits: one with the default limit
    // must not get it.
    await standbyWaits();
    assert.equal(await once(isolation, allocate, [400]), 400);
  });
}

Deno.test("a standby OS process is only taken for the permissions it started with", async () => {
  // A child with every permission waits...
  assert.equal(await once("process", noop, []), undefined);
  await standbyWaits();
  // ...and one that may not read env must not be it (nor wait warm: it
  // could not take the environment).
  await using pool = openPool({
    processes: 1,
    module,
    isolation: "process",
    permissions: { read: true },
  });
  const err = await rejectionOf(pool.apply(readEnv, ["HOME"]));
  assert.ok(err instanceof Error, String(err));
  assert.match(String(err), /env/i);
});
