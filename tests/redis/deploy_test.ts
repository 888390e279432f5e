// A worker on "another machine": its project copy sits at another absolute
// path, and tasks still find their module by the path relative to the root.

import assert from "node:assert/strict";
import { Pool } from "../../mod.ts";
import { redisBackend, serve } from "../../redis.ts";
import { within } from "../fixtures/harness.ts";
import { whereAmI } from "./fixtures/tasks.ts";
import { redisUrl } from "./_server.ts";

const TASKS = "tests/redis/fixtures/tasks.ts";
const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("redis: a worker runs its own copy of the project, found by relative path", async () => {
  const redis = await redisUrl();
  const copy = await Deno.makeTempDir();
  await Deno.mkdir(`${copy}/tests/redis/fixtures`, { recursive: true });
  await Deno.copyFile(`${ROOT}/${TASKS}`, `${copy}/${TASKS}`);
  await Deno.writeTextFile(`${copy}/deno.json`, "{}\n");
  const queue = `deploy-${crypto.randomUUID().slice(0, 8)}`;
  // The worker's root is found from its working directory, as on a machine
  // where the worker command is started in the project's folder.
  const cwd = Deno.cwd();
  Deno.chdir(`${copy}/tests`);
  let worker;
  try {
    worker = await serve({
      url: redis.url,
      queue,
      processes: 1,
      onWarning: () => {},
    });
  } finally {
    Deno.chdir(cwd);
  }
  const pool = new Pool({
    backend: redisBackend({ url: redis.url, queue }),
    module: new URL("./fixtures/tasks.ts", import.meta.url),
  });
  try {
    const where = await within(pool.apply(whereAmI), 20_000);
    assert.equal(where, `file://${copy}/${TASKS}`);
    assert.notEqual(
      where,
      new URL("./fixtures/tasks.ts", import.meta.url).href,
    );
  } finally {
    pool.close();
    await within(pool.join(), 10_000);
    await within(worker.close(), 10_000);
    await Deno.remove(copy, { recursive: true });
    await redis.stop();
  }
});
