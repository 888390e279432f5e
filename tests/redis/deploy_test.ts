// A worker on "another machine": its project copy sits at another absolute
// path, and tasks still find their module by the path relative to the root.

import assert from "node:assert/strict";
import { Pool } from "@parallel/multiprocessing";
import {
  ModuleMismatchError,
  redisBackend,
  serve,
} from "@parallel/multiprocessing/redis";
import { delay, ROOT_DIR, within } from "../fixtures/harness.ts";
import { cube, whereAmI } from "./fixtures/tasks.ts";
import { redisUrl } from "./_server.ts";

const TASKS = "tests/redis/fixtures/tasks.ts";

/** A copy of the project at another absolute path, as on another machine:
 * the tasks module and a deno.json. The caller removes it. */
async function projectCopy(): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/tests/redis/fixtures`, { recursive: true });
  await Deno.copyFile(`${ROOT_DIR}/${TASKS}`, `${dir}/${TASKS}`);
  await Deno.writeTextFile(`${dir}/deno.json`, "{}\n");
  return dir;
}

/** A fresh queue name. */
function queueName(): string {
  return `deploy-${crypto.randomUUID().slice(0, 8)}`;
}

Deno.test("redis: a worker runs its own copy of the project, found by relative path", async () => {
  const redis = await redisUrl();
  const copy = await projectCopy();
  const queue = queueName();
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
  const root = await projectCopy();
  const queue = queueName();
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
    // Deliberate: past the worker's 1 s cache of the module check.
    await delay(1100);
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
