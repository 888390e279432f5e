// A target module that imports the library for types only (TypeScript
// erases the import) still gets working shareables: the worker loads the
// classes of those it is given, and only those, before the target runs.
import assert from "node:assert/strict";
import {
  Lock,
  Process,
  Queue,
  setStartMethod,
  SharedArray,
  Value,
} from "@parallel/multiprocessing";
import { SHAREABLE_MODULES } from "../../lib/_shared/shareable.ts";
import { bump, nextValue } from "../fixtures/types_only_targets.ts";
import { finish, fixture, openPool, within } from "../fixtures/harness.ts";

const module = fixture("types_only_targets.ts");

/** Runs `fn` with every worker started on demand: a warm standby thread
 * has loaded the whole library while it waited. */
async function cold(fn: () => Promise<void>): Promise<void> {
  setStartMethod("spawn");
  try {
    await fn();
  } finally {
    setStartMethod("forkserver");
  }
}

Deno.test("every shareable class names the module that defines it", async () => {
  const registry =
    (globalThis as unknown as Record<symbol, Map<string, object>>)[
      Symbol.for("@parallel/multiprocessing/shareables")
    ]!;
  // This program imported the whole library: every class registered.
  assert.deepEqual(
    [...registry.keys()].sort(),
    Object.keys(SHAREABLE_MODULES).sort(),
  );
  const shared = new URL("../../lib/_shared/", import.meta.url);
  for (const [brand, path] of Object.entries(SHAREABLE_MODULES)) {
    const source = await Deno.readTextFile(new URL(path, shared));
    assert.match(source, new RegExp(`registerShareable\\("${brand}"`), path);
  }
});

Deno.test("a Process whose module imports the library for types only gets working shareables", () =>
  cold(async () => {
    const v = new Value("i", 1);
    const arr = new SharedArray("i", [10, 20]);
    const lock = new Lock();
    const q = new Queue<string[]>();
    const p = new Process({ target: bump, args: [v, arr, lock, q], module });
    p.start();
    const names = await within(q.get(), 15_000, "the worker's report");
    await finish(p);
    assert.equal(p.exitCode, 0);
    assert.equal(v.value, 2);
    assert.equal(arr[0], 11);
    assert.deepEqual(names, ["Value", "SharedArray", "Lock", "Queue"]);
    q.close();
  }));

Deno.test("a pool task whose module imports the library for types only gets working shareables", () =>
  cold(async () => {
    await using pool = openPool({ processes: 1, module });
    const v = new Value("i", 41);
    assert.deepEqual(await pool.map(nextValue, [v, v]), [42, 42]);
    assert.equal(await pool.apply(nextValue, [v]), 42);
  }));
