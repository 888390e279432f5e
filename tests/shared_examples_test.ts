// The shared-state examples run as programs and print what their comments
// promise.
import assert from "node:assert/strict";
import { runDeno } from "./fixtures/harness.ts";

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
