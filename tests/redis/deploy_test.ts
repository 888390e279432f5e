// A worker on "another machine": its project copy sits at another absolute
// path, and tasks still find their module by the path relative to the root.

import assert from "node:assert/strict";
import { Pool } from "../../mod.ts";
import { ModuleMismatchError, redisBackend, serve } from "../../redis.ts";
import { within } from "../fixtures/harness.ts";
import { cube, whereAmI } from "./fixtures/tasks.ts";
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

Deno.test("redis: a worker refuses a module that changed since it imported it", async () => {
  const redis = await redisUrl();
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/tests/redis/fixtures`, { recursive: true });
  await Deno.copyFile(`${ROOT}/${TASKS}`, `${root}/${TASKS}`);
  await Deno.writeTextFile(`${root}/deno.json`, "{}\n");
  const queue = `deploy-${crypto.randomUUID().slice(0, 8)}`;
  const module = new URL(`file://${root}/${TASKS}`);
  const worker = await serve({
    url: redis.url,
    queue,
    processes: 1,
    root,
    onWarning: () => {},
  });
  const pools: Pool[] = [];
  const poolOf = () => {
    const pool = new Pool({
      backend: redisBackend({ url: redis.url, queue }),
      module,
    });
    pools.push(pool);
    return pool;
  };
  try {
    assert.equal(await within(poolOf().apply(cube, [2]), 20_000), 8);
    // A deploy changes the file under the running worker.
    await Deno.writeTextFile(
      `${root}/${TASKS}`,
      (await Deno.readTextFile(`${root}/${TASKS}`)) + "\n// v2\n",
    );
    await new Promise((r) => setTimeout(r, 1100)); // past the check's cache
    const err = await within(
      poolOf().apply(cube, [2]).then(() => null, (e) => e),
      20_000,
    );
    assert.ok(err instanceof ModuleMismatchError, String(err));
    assert.match(
      err.message,
      /the file changed since the worker imported it .* restart the worker to run the new code/,
    );
  } finally {
    for (const pool of pools) {
      pool.close();
      await within(pool.join(), 10_000);
    }
    await within(worker.close(), 10_000);
    await Deno.remove(root, { recursive: true });
    await redis.stop();
  }
});
