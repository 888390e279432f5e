// The tutorial's Pool, on many machines: the same calls, one more option.
//
// 1. Start Redis somewhere the machines can reach (no persistence needed):
//      redis-server --port 6379 --bind 0.0.0.0 --protected-mode no --save '' --appendonly no
// 2. On each worker machine, in a copy of this project:
//      deno run -A worker.ts --redis redis://HOST:6379 --queue jobs
// 3. Run the coordinator (--queue defaults to "jobs"; it must match step 2):
//      deno run -A examples/distributed.ts --redis redis://HOST:6379
//
// To try it on one machine, add --with-worker: the example then serves the
// queue itself as well (the same code a worker machine runs).

import { Pool } from "@parallel/multiprocessing";
import { redisBackend, serve } from "@parallel/multiprocessing/redis";
import { parseArgs } from "node:util";

/** x cubed. */
export function cube(x: number): number {
  return x * x * x;
}

/** x to the power n. */
export function power(x: number, n: number): number {
  return x ** n;
}

if (import.meta.main) {
  const args = parseArgs({
    args: Deno.args,
    options: {
      redis: { type: "string" },
      queue: { type: "string", default: "jobs" },
      "with-worker": { type: "boolean" },
    },
  }).values;
  const url = args.redis ?? Deno.env.get("REDIS_URL") ??
    "redis://127.0.0.1:6379";
  const queue = args.queue;
  const worker = args["with-worker"]
    ? await serve({ url, queue, processes: 2 })
    : undefined;

  // The only change from a local pool: where the tasks go.
  const pool = new Pool({ backend: redisBackend({ url, queue }) });

  // map: as in the tutorial.
  console.log(await pool.map(cube, [0, 1, 2, 3]));

  // map_async over many items: a chunk of 1000 items is one Redis message.
  const many = pool.mapAsync(
    cube,
    Array.from({ length: 100_000 }, (_, i) => i),
    {
      chunksize: 1000,
    },
  );
  const cubes = await many.get(60_000);
  console.log("map_async:", cubes.length, "cubes, the last", cubes.at(-1));

  // apply and apply_async.
  console.log("apply:", await pool.apply(power, [2, 10]));
  const results = [1, 2, 3].map((x) => pool.applyAsync(power, [x, 2]));
  const squares = [];
  for (const r of results) squares.push(await r.get(60_000));
  console.log("apply_async:", squares);

  const { processes, completed } = pool.stats();
  console.log(`${completed} tasks on ${processes} worker processes`);
  pool.close();
  await pool.join();
  await worker?.close();
}
