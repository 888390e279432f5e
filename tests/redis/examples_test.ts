// The distributed example prints what the tutorial's Pool example prints,
// with the tasks run through a real Redis.

import assert from "node:assert/strict";
import { runDeno } from "../fixtures/harness.ts";
import { redisUrl } from "./_server.ts";

Deno.test("examples/distributed.ts: the tutorial's pool through Redis", async () => {
  const redis = await redisUrl();
  try {
    const ran = await runDeno(
      [
        "run",
        "-A",
        "examples/distributed.ts",
        "--with-worker",
        "--redis",
        redis.url,
      ],
      { timeout: 60_000 },
    );
    assert.equal(ran.code, 0, ran.stderr);
    assert.deepEqual(ran.stdout.trimEnd().split("\n"), [
      "[ 0, 1, 8, 27 ]",
      "map_async: 100000 cubes, the last 999970000299999",
      "apply: 1024",
      "apply_async: [ 1, 4, 9 ]",
      "100008 tasks on 2 worker processes",
    ]);
  } finally {
    await redis.stop();
  }
});
