// The worker command's --isolation process and --permissions: a worker
// machine runs tasks in child processes with less than its own -A.
import assert from "node:assert/strict";
import { Pool } from "@parallel/multiprocessing";
import { redisBackend, serve } from "@parallel/multiprocessing/redis";
import { main } from "@parallel/multiprocessing/worker";
import { rejectionOf, ROOT_DIR, within } from "../fixtures/harness.ts";
import { osPid, readText } from "./fixtures/scoped_tasks.ts";
import { redisUrl } from "./_server.ts";

/** A file outside the project root. */
const OUTSIDE = "/etc/hostname";

Deno.test('redis: serve({ isolation: "process", permissions: { read: [root] } }) runs tasks in scoped processes that cannot read outside the root', async () => {
  const redis = await redisUrl();
  const queue = `scoped-${crypto.randomUUID().slice(0, 8)}`;
  const worker = await serve({
    url: redis.url,
    queue,
    processes: 1,
    root: ROOT_DIR,
    isolation: "process",
    permissions: { read: [ROOT_DIR] },
    onWarning: () => {},
  });
  const pool = new Pool({
    backend: redisBackend({ url: redis.url, queue }),
    module: new URL("./fixtures/scoped_tasks.ts", import.meta.url),
  });
  try {
    // Inside its folder: read.
    const text = await within(
      pool.apply(readText, [`${ROOT_DIR}/deno.json`]),
      30_000,
    );
    assert.match(text, /@parallel\/multiprocessing/);
    // Outside: refused, in the task's own process.
    const err = await rejectionOf(pool.apply(readText, [OUTSIDE]), 30_000);
    assert.ok(err instanceof Error, String(err));
    assert.equal(err.name, "NotCapable", String(err));
    assert.ok(err.message.includes(OUTSIDE), err.message);
    const pid = await within(pool.apply(osPid), 30_000);
    assert.notEqual(pid, Deno.pid, "the task ran in the worker's own process");
  } finally {
    pool.close();
    await within(pool.join(), 10_000);
    await within(worker.close(), 10_000);
    await redis.stop();
  }
});

Deno.test("redis: the worker command refuses --permissions without --isolation process, and a malformed --permissions", async () => {
  for (
    const args of [
      ["--permissions", "read=/srv/app"],
      ["--isolation", "process", "--permissions", "disk=/srv"],
      ["--isolation", "processes"],
    ]
  ) {
    const code = await main([
      "--redis",
      "redis://127.0.0.1:1",
      "--queue",
      "jobs",
      ...args,
    ]);
    assert.equal(code, 2, args.join(" "));
  }
});
