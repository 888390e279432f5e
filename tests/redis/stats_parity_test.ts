// Pool.stats() counts a failed call alike whatever engine runs it: the local
// one, or worker machines through Redis. `failed` is the items that gave no
// result (the failing item and the rest of its chunk), `completed` the items
// of the chunks that finished. Runs on REDIS_URL's server when set (as
// .ci/run sets it), else on a private one.

import assert from "node:assert/strict";
import { type Pool, ProcessError } from "../../mod.ts";
import { redisBackend, serve } from "../../redis.ts";
import {
  openPool,
  range,
  rejectionOf,
  ROOT_DIR,
  within,
} from "../fixtures/harness.ts";
import { exits, failOn13 } from "./fixtures/tasks.ts";
import { redisUrl } from "./_server.ts";

const MODULE = new URL("./fixtures/tasks.ts", import.meta.url);

interface Case {
  readonly what: string;
  readonly fn: typeof failOn13 | typeof exits;
  readonly input: number[];
  readonly chunksize: number;
  /** The class of the call's error. */
  readonly error: string;
  readonly completed: number;
  readonly failed: number;
}

// The failing chunk is the last, so that no chunk is still running when
// the call rejects: the counts do not depend on timing.
const CASES: readonly Case[] = [
  {
    what: "a task fails in the middle of its chunk",
    fn: failOn13,
    input: range(16),
    chunksize: 4,
    error: "BadInput",
    completed: 12,
    failed: 3,
  },
  {
    what: "a task fails at the end of its chunk",
    fn: failOn13,
    input: range(14),
    chunksize: 7,
    error: "BadInput",
    completed: 7,
    failed: 1,
  },
  {
    what: "a task fails at the start of the only chunk",
    fn: failOn13,
    input: [13, 1, 2],
    chunksize: 3,
    error: "BadInput",
    completed: 0,
    failed: 3,
  },
  {
    what: "a task ends its worker",
    fn: exits,
    input: [1, 2],
    chunksize: 2,
    error: ProcessError.name,
    completed: 0,
    failed: 2,
  },
];

/** Runs `c` on `pool`, then closes it and gives its counts. */
async function counts(
  pool: Pool,
  c: Case,
): Promise<{ completed: number; failed: number }> {
  try {
    const err = await rejectionOf(
      pool.map(c.fn as (x: number) => unknown, c.input, c.chunksize),
      20_000,
    );
    assert.equal((err as Error).name, c.error, `${c.what}: ${err}`);
  } finally {
    pool.close();
    await within(pool.join(), 10_000, "the pool's end");
  }
  const { completed, failed } = pool.stats();
  return { completed, failed };
}

Deno.test("Pool.stats() counts a failed map alike on the local and the Redis engine", async () => {
  const redis = await redisUrl();
  const queue = `parity-${crypto.randomUUID().slice(0, 8)}`;
  const worker = await serve({
    url: redis.url,
    queue,
    processes: 1,
    root: ROOT_DIR,
    onWarning: () => {},
  });
  try {
    for (const c of CASES) {
      const local = await counts(
        openPool({ processes: 1, module: MODULE }),
        c,
      );
      const remote = await counts(
        openPool({
          backend: redisBackend({ url: redis.url, queue }),
          module: MODULE,
        }),
        c,
      );
      assert.deepEqual(
        local,
        { completed: c.completed, failed: c.failed },
        `${c.what}: the local engine`,
      );
      assert.deepEqual(remote, local, `${c.what}: the Redis engine`);
    }
  } finally {
    await within(worker.close(), 10_000, "the worker's end");
    await redis.stop();
  }
});
