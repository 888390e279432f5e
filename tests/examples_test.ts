// The examples run as programs and print what their comments promise.
import assert from "node:assert/strict";
import { runDeno } from "./fixtures/harness.ts";

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
