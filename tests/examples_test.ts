// The example programs run as programs, print what their comments promise,
// and end by themselves: Process, Pool, and the shared-state examples. (The
// Redis example is in redis/examples_test.ts.)
import assert from "node:assert/strict";
import { runDeno } from "./fixtures/harness.ts";

// ---- Process -------------------------------------------------------------------

Deno.test("Process.start() runs examples/updown.ts: two processes count up and down", async () => {
  // Random 1-3 s sleeps: about 4-12 s.
  const r = await runDeno(["run", "-R", "examples/updown.ts"], {
    timeout: 30_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  const lines = r.stdout.split("\n");
  assert.equal(lines.pop(), "", "output does not end with a newline");
  assert.equal(lines.length, 8, r.stdout);
  assert.deepEqual(
    lines.filter((l) => l.startsWith("Up:")),
    ["Up:\t0", "Up:\t1", "Up:\t2", "Up:\t3"],
  );
  assert.deepEqual(
    lines.filter((l) => l.startsWith("Down:")),
    ["Down:\t3", "Down:\t2", "Down:\t1", "Down:\t0"],
  );
  // Each process sleeps at least 1 s before each of its 4 lines.
  assert.ok(r.ms >= 4_000, `took ${r.ms} ms`);
});

// ---- Pool ----------------------------------------------------------------------

Deno.test("Pool example pool_map.ts prints the cubes and exits by itself though the pool is never closed", async () => {
  const r = await runDeno(["run", "-R", "examples/pool_map.ts"], {
    timeout: 10_000,
  });
  assert.equal(r.signal, null, `killed after ${r.ms} ms: it did not exit`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "[ 0, 1, 8, 27 ]\n");
  assert.equal(r.stderr, "");
  assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
});

Deno.test("Pool example pool_async.ts prints the map_async, apply and apply_async results", async () => {
  const r = await runDeno(["run", "-R", "examples/pool_async.ts"], {
    timeout: 15_000,
  });
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
    { timeout: 10_000 },
  );
  assert.equal(r.signal, null, `killed after ${r.ms} ms: it did not exit`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "[ 1, 8, 27 ]\n");
  assert.equal(r.stderr, "");
});

// ---- shared state --------------------------------------------------------------

Deno.test("Queue example producer_consumer.ts: two producer processes feed a consumer process", async () => {
  const r = await runDeno(["run", "-R", "examples/producer_consumer.ts"], {
    timeout: 30_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.equal(
    r.stdout,
    [
      "alpha: sum of squares 333833500",
      "beta: sum of squares 333833500",
      "all done",
      "",
    ].join("\n"),
  );
});

Deno.test("Pipe example pipe_ping_pong.ts: the main program and a process play ping-pong", async () => {
  const r = await runDeno(["run", "-R", "examples/pipe_ping_pong.ts"], {
    timeout: 30_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "pong 1\npong 2\npong 3\n");
  assert.match(r.stderr, /^10000 round trips, [\d.]+ µs each\n$/);
});

Deno.test("Value example shared_counter.ts: 2 processes × 100,000 locked increments print 200000", async () => {
  const r = await runDeno(["run", "-R", "examples/shared_counter.ts"], {
    timeout: 30_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.equal(r.stdout, "200000\n");
});
