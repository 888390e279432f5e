// Through the Redis backend, a task's error comes back to the coordinator as
// its own class when the target's module exports it: the worker machine
// (whose copy of the module has a URL of its own) passes on the export's
// name, and the coordinator revives it from its own module. REDIS_URL's
// server when set, else a private one.
import assert from "node:assert/strict";
import { Pool } from "@parallel/multiprocessing";
import {
  redisBackend,
  type RedisWorker,
  serve,
} from "@parallel/multiprocessing/redis";
import {
  InsufficientFunds,
  LedgerError,
  ran,
  throwHidden,
  transfer,
  withdraw,
} from "../fixtures/error_classes.ts";
import { fixture, rejectionOf, ROOT_DIR, within } from "../fixtures/harness.ts";
import { redisUrl, spawnWorkerCommand } from "./_server.ts";

const MODULE = fixture("error_classes.ts");
/** How long a worker may take to end. */
const END_MS = 15_000;

function queue(): string {
  return `error-class-${crypto.randomUUID().slice(0, 8)}`;
}

/** Checks the errors of the fixture's targets through `pool`. */
async function assertRevived(pool: Pool): Promise<void> {
  const err = await rejectionOf(pool.starmap(withdraw, [[9, 1], [9, 10]]));
  assert.ok(err instanceof InsufficientFunds, `got ${Deno.inspect(err)}`);
  assert.equal(err.message, "balance 9 is short of 10");
  assert.equal(err.balance, 9);
  assert.equal(err.shortBy(10), 1);
  assert.ok(err.cause instanceof RangeError);
  assert.match(err.stack ?? "", /error_classes\.ts/);

  const ledger = await rejectionOf(pool.apply(transfer));
  assert.ok(ledger instanceof LedgerError, `got ${Deno.inspect(ledger)}`);
  assert.ok(ledger.cause instanceof InsufficientFunds, "cause revived");

  const hidden = await rejectionOf(pool.apply(throwHidden));
  assert.ok(hidden instanceof Error);
  assert.equal(Object.getPrototypeOf(hidden), Error.prototype);
  assert.equal(hidden.name, "Hidden");
  assert.deepEqual(ran, { constructed: 0, called: 0, trapped: 0, set: 0 });
}

Deno.test("redis: a task's error comes back as the class its module exports, from a worker command", async () => {
  const server = await redisUrl();
  const q = queue();
  const worker = spawnWorkerCommand(server.url, q, ["--processes", "1"]);
  try {
    await using pool = new Pool({
      backend: redisBackend({ url: server.url, queue: q }),
      module: MODULE,
    });
    await assertRevived(pool);
  } finally {
    worker.child.kill("SIGTERM");
    await within(worker.child.status, END_MS);
    await worker.stderr;
    await server.stop();
  }
});

Deno.test("redis: a task's error comes back as its class from serve() in this process", async () => {
  const server = await redisUrl();
  const q = queue();
  let worker: RedisWorker | undefined;
  try {
    worker = await serve({
      url: server.url,
      queue: q,
      processes: 1,
      root: ROOT_DIR,
      onWarning: () => {},
    });
    await using pool = new Pool({
      backend: redisBackend({ url: server.url, queue: q }),
      module: MODULE,
    });
    await assertRevived(pool);
  } finally {
    if (worker !== undefined) await within(worker.close(), END_MS);
    await server.stop();
  }
});
