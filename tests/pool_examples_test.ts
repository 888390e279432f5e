// The Pool examples run as programs, print what their comments promise, and
// end by themselves.
import assert from "node:assert/strict";
import { runDeno } from "./fixtures/pool_harness.ts";

Deno.test("Pool example pool_map.ts prints the cubes and exits by itself though the pool is never closed", async () => {
  const r = await runDeno(["run", "-R", "examples/pool_map.ts"], 10_000);
  assert.equal(r.signal, null, `killed after ${r.ms} ms: it did not exit`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "[ 0, 1, 8, 27 ]\n");
  assert.equal(r.stderr, "");
  assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
});

Deno.test("Pool example pool_async.ts prints the map_async, apply and apply_async results", async () => {
  const r = await runDeno(["run", "-R", "examples/pool_async.ts"], 15_000);
  assert.equal(r.signal, null, `killed after ${r.ms} ms: it did not exit`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.equal(
    r.stdout,
    [
      "map_async callback: [ 0, 1, 8, 27 ]",
      "map_async: [ 0, 1, 8, 27 ]",
      "apply: 1024",
      "apply_async: [ 1, 4, 9 ]",
      "",
    ].join("\n"),
  );
});

Deno.test("Pool() with scoped permissions, never closed, lets its program exit once idle", async () => {
  // Scoped workers cannot be unreferenced: they end after the default
  // idleTimeout (1 s).
  const r = await runDeno(
    ["run", "-R", "tests/fixtures/pool_scoped_main.ts"],
    10_000,
  );
  assert.equal(r.signal, null, `killed after ${r.ms} ms: it did not exit`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "[ 1, 8, 27 ]\n");
  assert.equal(r.stderr, "");
});
