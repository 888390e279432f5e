// What the Redis stream trusts, tested against a real redis-server: anyone
// who can write to Redis can write any entry. A forged or malformed reply
// entry is dropped with a warning and counted, never a crash, and never
// takes the place of a chunk's real result; a malformed task entry is
// dropped, counted in RedisWorker.stats().malformed, acknowledged and
// deleted; a task whose module fails to load fails only the tasks that name
// that module.

import assert from "node:assert/strict";
import { Pool } from "@parallel/multiprocessing";
import {
  redisBackend,
  type RedisWorker,
  serve,
} from "@parallel/multiprocessing/redis";
import { createHash } from "node:crypto";
import { serialize } from "node:v8";
import { Redis } from "ioredis";
import { ROOT_DIR, until, within } from "../fixtures/harness.ts";
import { cube, sleepyCube } from "./fixtures/tasks.ts";
import { redisUrl } from "./_server.ts";

const MODULE = new URL("./fixtures/tasks.ts", import.meta.url);
/** Bound on each wait here (ms). */
const WAIT_MS = 15_000;

function queue(): string {
  return `hostile-${crypto.randomUUID().slice(0, 8)}`;
}

/** A server, a client, an in-process worker and its warnings; ended in
 * order by `end()`. */
async function setUp(
  q: string,
  root = ROOT_DIR,
): Promise<{
  url: string;
  client: Redis;
  worker: RedisWorker;
  warnings: string[];
  end(): Promise<void>;
}> {
  const server = await redisUrl();
  const client = new Redis(server.url, { lazyConnect: true });
  await client.connect();
  const warnings: string[] = [];
  const worker = await serve({
    url: server.url,
    queue: q,
    processes: 1,
    root,
    onWarning: (m) => warnings.push(m),
  });
  return {
    url: server.url,
    client,
    worker,
    warnings,
    async end() {
      await within(worker.close(), WAIT_MS, "worker close");
      client.disconnect();
      await server.stop();
    },
  };
}

Deno.test("redis: forged reply entries are dropped with a warning; the coordinator completes every call", async () => {
  const q = queue();
  const s = await setUp(q);
  const warnings: string[] = [];
  const pool = new Pool({
    backend: redisBackend({
      url: s.url,
      queue: q,
      onWarning: (m) => warnings.push(m),
    }),
    module: MODULE,
  });
  try {
    // Warm up: the reply stream exists once a call has run.
    assert.deepEqual(await within(pool.map(cube, [1, 2])), [1, 8]);
    const [reply] = await s.client.keys(`mp:{${q}}:reply:*`);
    assert.ok(reply, "the coordinator's reply stream");
    const n = 40;
    const running = pool.map(
      sleepyCube,
      Array.from({ length: n }, (_, i) => i),
      1,
    );
    // Every chunk id in flight, from the task stream.
    const ids = new Set<number>();
    await until(async () => {
      for (
        const [, fields] of await s.client.xrange(`mp:{${q}}:tasks`, "-", "+")
      ) {
        const at = fields.indexOf("i");
        for (const id of fields[at + 1]!.split(",")) ids.add(Number(id));
      }
      return ids.size > 0;
    }, { what: "chunks in flight", timeout: WAIT_MS });
    const forged: Buffer[] = [
      serialize([null]),
      serialize(5),
      serialize([{ i: {}, t: 1 }]),
      serialize([{ i: 1, e: 7, t: 0, w: "x", p: 1 }]),
      serialize([{ i: 1, v: [], t: 0, w: "x", p: 1e9 }]),
      Buffer.from("not v8 at all"),
    ];
    // A record of the right shape for a chunk in flight, but the wrong
    // number of values: it must not complete (or corrupt) the chunk.
    for (const id of ids) {
      forged.push(serialize([{ i: id, v: [-1, -2, -3], t: 0, w: "x", p: 1 }]));
    }
    for (const d of forged) await s.client.xadd(reply, "*", "d", d);
    const results = await within(running, WAIT_MS * 2, "the call");
    assert.deepEqual(results, Array.from({ length: n }, (_, i) => i ** 3));
    // The pool still works (and reads the stream again, if it had stopped).
    assert.deepEqual(await within(pool.map(cube, [3])), [27]);
    await until(() => warnings.length > 0, {
      what: "a warning",
      timeout: WAIT_MS,
    });
    assert.match(warnings[0]!, /dropped \d+ malformed results? from mp:/);
  } finally {
    pool.close();
    await within(pool.join(), WAIT_MS, "pool join");
    await s.end();
  }
});

/** The fields of a task entry, for XADD, with `over` replacing some. */
function taskFields(
  q: string,
  over: Record<string, string | Buffer> = {},
): (string | Buffer)[] {
  const path = decodeURIComponent(MODULE.pathname);
  const hash = createHash("sha256").update(Deno.readFileSync(path)).digest(
    "hex",
  );
  const fields: Record<string, string | Buffer> = {
    r: `mp:{${q}}:reply:intruder`,
    i: "1",
    n: "1",
    m: "tests/redis/fixtures/tasks.ts",
    h: hash,
    f: "cube",
    x: cube.toString(),
    s: "0",
    a: serialize([2]),
    ...over,
  };
  const out: (string | Buffer)[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v !== "") out.push(k, v);
  }
  return out;
}

Deno.test("redis: malformed task entries are dropped, counted in stats(), acknowledged and deleted", async () => {
  const q = queue();
  const s = await setUp(q);
  try {
    const tasks = `mp:{${q}}:tasks`;
    const reply = `mp:{${q}}:reply:intruder`;
    await s.client.xadd(reply, "*", "hello", "1");
    const bad: Record<string, string | Buffer>[] = [
      { f: "" }, // a field missing
      { i: "1,2", n: "1" }, // ids and counts disagree
      { i: "-1" }, // not a chunk id
      { n: "0" }, // an empty chunk
      { n: "99999999999999999999" }, // not a safe count
      { n: "1000000" }, // more items than bytes
      { r: `mp:{other}:reply:x` }, // another queue's reply stream
      { r: "some-key" }, // not a reply stream at all
      { h: "nothex" }, // not a sha256
      { s: "2" }, // not a spread flag
    ];
    for (const over of bad) {
      await s.client.xadd(tasks, "*", ...taskFields(q, over));
    }
    // Items that are not as many values as the counts say: refused, and its
    // coordinator told why.
    await s.client.xadd(tasks, "*", ...taskFields(q, { a: serialize([1, 2]) }));
    await s.client.xadd(tasks, "*", ...taskFields(q, { a: serialize(7) }));
    // One good entry, answered.
    await s.client.xadd(tasks, "*", ...taskFields(q));
    const expected = bad.length + 2;
    await until(() => s.worker.stats().malformed === expected, {
      what: `${expected} malformed entries counted`,
      timeout: WAIT_MS,
    });
    await until(async () => await s.client.xlen(tasks) === 0, {
      what: "every entry deleted",
      timeout: WAIT_MS,
    });
    const pending = await s.client.xpending(tasks, "workers") as [number];
    assert.equal(pending[0], 0, "entries left pending");
    assert.equal(
      s.worker.stats().chunks,
      3,
      "the good entry and the two refused with a reply",
    );
    assert.ok(
      s.warnings.some((w) => /dropped task entry/.test(w)),
      s.warnings.join("\n"),
    );
  } finally {
    await s.end();
  }
});

Deno.test("redis: a task whose module fails to load fails only the tasks naming that module", async () => {
  const q = queue();
  const root = await Deno.makeTempDir({ prefix: "redis_hostile_" });
  await Deno.writeTextFile(`${root}/deno.json`, "{}\n");
  await Deno.writeTextFile(
    `${root}/broken.ts`,
    `// Needs a variable this machine does not have.\n` +
      `if (Deno.env.get("NO_SUCH_VARIABLE_HERE") === undefined) {\n` +
      `  throw new Error("NO_SUCH_VARIABLE_HERE is not set");\n}\n` +
      `export function run(x: number): number { return x; }\n`,
  );
  await Deno.writeTextFile(
    `${root}/good.ts`,
    `export function run(x: number): number { return x * 2; }\n`,
  );
  const s = await setUp(q, root);
  const pools: Pool[] = [];
  const poolOf = (name: string) => {
    const pool = new Pool({
      backend: redisBackend({ url: s.url, queue: q, root }),
      module: new URL(`file://${root}/${name}`),
    });
    pools.push(pool);
    return pool;
  };
  // A function named as the modules' export.
  function run(x: number): number {
    return x;
  }
  try {
    const broken = poolOf("broken.ts");
    const err = await within(
      broken.map(run, [1, 2]).then(() => null, (e) => e),
      WAIT_MS,
    );
    assert.ok(err instanceof Error, Deno.inspect(err));
    assert.match(err.message, /NO_SUCH_VARIABLE_HERE is not set/);
    // The worker goes on for every other module, before and after.
    const good = poolOf("good.ts");
    assert.deepEqual(await within(good.map(run, [1, 2, 3]), WAIT_MS), [
      2,
      4,
      6,
    ]);
    const again = await within(
      broken.map(run, [3]).then(() => null, (e) => e),
      WAIT_MS,
    );
    assert.match((again as Error).message, /NO_SUCH_VARIABLE_HERE is not set/);
    assert.deepEqual(await within(good.map(run, [4]), WAIT_MS), [8]);
  } finally {
    for (const pool of pools) {
      pool.close();
      await within(pool.join(), WAIT_MS, "pool join");
    }
    await s.end();
    await Deno.remove(root, { recursive: true });
  }
});
