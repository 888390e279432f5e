// The Redis backend against a real redis-server: REDIS_URL when set (as
// .ci/run sets it), else a private server. Worker machines are played by
// worker-command subprocesses, or by `serve()` in this process.

import assert from "node:assert/strict";
import { Pool, ProcessError } from "@parallel/multiprocessing";
import {
  ModuleMismatchError,
  NoWorkersError,
  redisBackend,
  type RedisBackendOptions,
  RedisUnavailableError,
  type RedisWorker,
  serve,
  type ServeOptions,
} from "@parallel/multiprocessing/redis";
import { createHash } from "node:crypto";
import { relative } from "node:path";
import { pathToFileURL } from "node:url";
import { deserialize, serialize } from "node:v8";
import { Redis } from "ioredis";
import {
  delay,
  ROOT_DIR,
  runDeno,
  until,
  within,
} from "../fixtures/harness.ts";
import {
  add,
  cube,
  describeValue,
  echo,
  exits,
  failOn13,
  killsProcess,
  napCube,
  returnsFunction,
  sleepyCube,
  slowCube,
} from "./fixtures/tasks.ts";
import {
  type RedisServer,
  redisUrl,
  spawnWorkerCommand,
  startRedis,
} from "./_server.ts";

const WORKER = `${ROOT_DIR}/worker.ts`;
const TASKS = "tests/redis/fixtures/tasks.ts";

function queue(): string {
  return `test-${crypto.randomUUID().slice(0, 8)}`;
}

/** A worker-command subprocess. */
function startWorker(url: string, q: string, extra: string[] = []) {
  const { child, stderr } = spawnWorkerCommand(url, q, extra);
  return {
    child,
    async stop(signal: Deno.Signal = "SIGTERM"): Promise<string> {
      try {
        child.kill(signal);
      } catch {
        // already ended
      }
      await within(child.status, 15_000);
      return await stderr;
    },
  };
}

interface ResultRecordLike {
  i: number;
  e?: unknown;
}

const MODULE = new URL("./fixtures/tasks.ts", import.meta.url);

/** A pool on the Redis backend, for the fixture's targets. */
function remotePool(
  url: string,
  q: string,
  extra: Partial<RedisBackendOptions> = {},
): Pool {
  return new Pool({
    backend: redisBackend({ url, queue: q, ...extra }),
    module: MODULE,
  });
}

function silent(): (m: string) => void {
  return () => {};
}

/** A Stage's server: REDIS_URL's (its stop() a no-op) or a private one. */
type Server = Awaited<ReturnType<typeof redisUrl>>;

/**
 * One test's set-up: a Redis server, a fresh queue `q`, and what the test
 * starts on them. `await using` ends, in order: the pools (closed, then
 * joined), the ioredis clients, the in-process workers, the worker-command
 * subprocesses, the temporary directories, then the server. Each step runs
 * even if one before it failed.
 */
class Stage<S extends Server = Server> implements AsyncDisposable {
  /** A fresh queue name. */
  readonly q = queue();
  /** The server: a test that restarts it puts the new one here. */
  server: S;
  readonly #pools: Pool[] = [];
  readonly #clients: Redis[] = [];
  readonly #workers: RedisWorker[] = [];
  readonly #commands: ReturnType<typeof startWorker>[] = [];
  readonly #dirs: string[] = [];

  private constructor(server: S) {
    this.server = server;
  }

  /** On REDIS_URL's server, else a private one. */
  static async shared(): Promise<Stage> {
    return new Stage(await redisUrl());
  }

  /** On a private server, that the test may stop or replace. */
  static async private(): Promise<Stage<RedisServer>> {
    return new Stage(await startRedis());
  }

  get url(): string {
    return this.server.url;
  }

  /** An in-process worker: 1 process, root ROOT_DIR, silent, then `options`. */
  async serve(options: Partial<ServeOptions> = {}): Promise<RedisWorker> {
    const worker = await serve({
      url: this.url,
      queue: this.q,
      processes: 1,
      root: ROOT_DIR,
      onWarning: silent(),
      ...options,
    });
    this.#workers.push(worker);
    return worker;
  }

  /** A pool on the queue, for the fixture's targets. */
  pool(extra: Partial<RedisBackendOptions> = {}): Pool {
    const pool = remotePool(this.url, this.q, extra);
    this.#pools.push(pool);
    return pool;
  }

  /** A worker-command subprocess on the queue, with `flags`. */
  command(flags: string[] = []): ReturnType<typeof startWorker> {
    const command = startWorker(this.url, this.q, flags);
    this.#commands.push(command);
    return command;
  }

  /** An ioredis client, connected. */
  async client(): Promise<Redis> {
    const client = new Redis(this.url, { lazyConnect: true });
    this.#clients.push(client);
    await client.connect();
    return client;
  }

  /** A new temporary directory, removed once the workers are gone. */
  async tempDir(): Promise<string> {
    const dir = await Deno.makeTempDir();
    this.#dirs.push(dir);
    return dir;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const errors: unknown[] = [];
    const step = async (end: () => unknown) => {
      try {
        await end();
      } catch (error) {
        errors.push(error);
      }
    };
    for (const pool of this.#pools) {
      await step(() => {
        pool.close();
        return within(pool.join(), 10_000);
      });
    }
    for (const client of this.#clients) await step(() => client.disconnect());
    for (const worker of this.#workers) {
      await step(() => within(worker.close(), 10_000));
    }
    // stop() is safe on a subprocess that was SIGKILLed already.
    for (const command of this.#commands) await step(() => command.stop());
    for (const dir of this.#dirs) {
      await step(() => Deno.remove(dir, { recursive: true }));
    }
    await step(() => this.server.stop());
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) {
      throw new AggregateError(errors, "the stage did not end cleanly");
    }
  }
}

Deno.test("redis: map over 50,000 items with 2 worker processes", async () => {
  await using stage = await Stage.shared();
  stage.command(["--processes", "1"]);
  stage.command(["--processes", "1"]);
  const pool = stage.pool();
  // Both workers are up (their heartbeats seen) before the run.
  assert.equal(await within(pool.apply(cube, [2]), 20_000), 8);
  await until(() => pool.stats().processes >= 2, {
    what: "both workers to start",
    interval: 100,
  });
  const input = Array.from({ length: 50_000 }, (_, i) => i);
  const out = await within(pool.map(cube, input, 500), 60_000);
  assert.equal(out.length, 50_000);
  for (let i = 0; i < out.length; i++) {
    if (out[i] !== i ** 3) assert.fail(`out[${i}] = ${out[i]}`);
  }
  const stats = pool.stats();
  assert.equal(stats.completed, 50_001);
  assert.equal(stats.failed, 0);
  assert.equal(stats.processes, 2, "both workers' heartbeats are seen");
});

for (const signal of ["SIGKILL", "SIGSTOP"] as const) {
  const what = signal === "SIGKILL" ? "killed" : "stopped (silent)";
  Deno.test(
    `redis: a worker ${what} mid-run loses nothing; results stay right and in order`,
    async () => {
      await using stage = await Stage.shared();
      const fast = [
        "--processes",
        "1",
        "--claim-after",
        "1000",
        "--heartbeat",
        "200",
      ];
      const victim = stage.command(fast);
      stage.command(fast);
      const pool = stage.pool();
      const n = 1200;
      const input = Array.from({ length: n }, (_, i) => i);
      const got: number[] = [];
      let hit = false;
      try {
        await within(
          (async () => {
            for await (const v of pool.imap(slowCube, input, 8)) {
              got.push(v);
              if (!hit && got.length === 200) {
                hit = true;
                victim.child.kill(signal);
              }
            }
          })(),
          60_000,
        );
      } finally {
        if (signal === "SIGSTOP") victim.child.kill("SIGCONT");
      }
      assert.ok(hit, `the victim was ${what} mid-run`);
      assert.equal(got.length, n);
      for (let i = 0; i < n; i++) {
        if (got[i] !== i ** 3) assert.fail(`result ${i} is ${got[i]}`);
      }
      if (signal === "SIGSTOP") {
        // Woken, the victim finishes what it held and sends results that
        // another worker already sent: they are dropped, not counted.
        // Deliberate: give those late results time to arrive.
        await delay(1000);
        assert.equal(pool.stats().completed, n);
      }
    },
  );
}

Deno.test(
  "redis: chunks run twice (taken over while running) are delivered once",
  async () => {
    await using stage = await Stage.shared();
    // Heartbeats far slower than the take-over time: running chunks are
    // taken over by the other worker, so many run twice.
    const eager = { claimAfter: 100, heartbeat: 5000 };
    const a = await stage.serve({ ...eager, name: "a" });
    const b = await stage.serve({ ...eager, name: "b" });
    const pool = stage.pool();
    const n = 20;
    const input = Array.from({ length: n }, (_, i) => i);
    let progress = 0;
    const got: number[] = [];
    for await (
      const v of pool.imap(napCube, input, 2, {
        onProgress: (done) => progress = done,
      })
    ) got.push(v);
    assert.deepEqual(got, input.map((x) => x ** 3));
    assert.equal(progress, n, "each item counted once");
    assert.equal(pool.stats().completed, n);
    const reclaimed = a.stats().reclaimed + b.stats().reclaimed;
    assert.ok(reclaimed > 0, "some chunks were taken over");
  },
);

Deno.test(
  "redis: a chunk that kills every worker holding it fails after --max-deliveries",
  async () => {
    await using stage = await Stage.shared();
    const flags = [
      "--processes",
      "1",
      "--claim-after",
      "300",
      "--heartbeat",
      "100",
      "--max-deliveries",
      "2",
    ];
    const pool = stage.pool();
    const started: ReturnType<typeof startWorker>[] = [];
    const call = pool.apply(killsProcess).then(() => null, (e) => e);
    let settled: unknown = undefined;
    call.then((e) => settled = e);
    // Each worker takes the chunk over and dies of it, until the third
    // delivery, which is refused.
    while (settled === undefined) {
      assert.ok(started.length < 4, "refused by the third worker");
      const w = stage.command(flags);
      started.push(w);
      await within(Promise.race([w.child.status, call]), 20_000);
    }
    const err = settled as ProcessError;
    assert.ok(err instanceof ProcessError, String(err));
    assert.equal(err.code, "ERR_TOO_MANY_DELIVERIES");
    assert.match(err.message, /was delivered 3 times/);
    assert.match(err.message, /raise --max-deliveries/);
    assert.equal(started.length, 3);
    const killed = await Promise.all(
      started.slice(0, 2).map((w) => w.child.status),
    );
    assert.deepEqual(killed.map((s) => s.signal), ["SIGKILL", "SIGKILL"]);
  },
);

Deno.test("redis: close() lets calls finish; terminate() rejects them at once", async () => {
  await using stage = await Stage.shared();
  await stage.serve({ processes: 2 });
  const closing = stage.pool();
  const input = Array.from({ length: 20 }, (_, i) => i);
  const call = closing.map(sleepyCube, input, 2);
  closing.close();
  await assert.rejects(
    closing.map(cube, [1]),
    /closed/,
    "no new calls after close()",
  );
  await within(closing.join(), 20_000);
  assert.deepEqual(await call, input.map((x) => x ** 3), "queued work done");

  const ending = stage.pool();
  let done = 0;
  const long = ending.map(
    napCube,
    Array.from({ length: 40 }, (_, i) => i),
    1,
    { onProgress: (n) => done = n },
  );
  // Mid-run: once the first results are in.
  await until(() => done >= 1, { what: "the first results" });
  const t0 = performance.now();
  ending.terminate();
  await assert.rejects(within(long, 5_000), /terminated/);
  await within(ending.join(), 5_000);
  assert.ok(
    performance.now() - t0 < 2_000,
    "rejected at once, not after the work",
  );
});

Deno.test("redis: heartbeats keep a chunk longer than --claim-after with its worker", async () => {
  await using stage = await Stage.shared();
  // Chunks of ~600 ms against a 300 ms take-over time: only heartbeats
  // (every 100 ms) keep the other worker from taking them.
  const steady = { claimAfter: 300, heartbeat: 100 };
  const a = await stage.serve({ ...steady, name: "a" });
  const b = await stage.serve({ ...steady, name: "b" });
  const pool = stage.pool();
  const input = Array.from({ length: 16 }, (_, i) => i);
  assert.deepEqual(
    await within(pool.map(napCube, input, 4), 20_000),
    input.map((x) => x ** 3),
  );
  assert.equal(a.stats().reclaimed + b.stats().reclaimed, 0);
});

Deno.test("redis: input is read only as far as maxPending chunks ahead", async () => {
  await using stage = await Stage.shared();
  // No worker yet: chunks pile up in Redis only up to maxPending.
  const pool = stage.pool({ maxPending: 8 });
  let pulled = 0;
  function* counted() {
    for (let i = 0; i < 1000; i++) {
      pulled++;
      yield i;
    }
  }
  const call = pool.map(cube, counted(), 2);
  // Deliberate: give it time to read ahead as far as it would.
  await delay(500);
  assert.ok(pulled <= 8 * 2 + 2, `${pulled} items read ahead`);
  await stage.serve();
  const out = await within(call, 20_000);
  assert.equal(pulled, 1000);
  assert.deepEqual(out, Array.from({ length: 1000 }, (_, i) => i ** 3));
});

Deno.test("redis: a target outside the project root is refused before sending", async () => {
  await using stage = await Stage.shared();
  const elsewhere = await stage.tempDir();
  const pool = new Pool({
    backend: redisBackend({ url: stage.url, queue: stage.q, root: elsewhere }),
    module: MODULE,
  });
  try {
    await assert.rejects(
      pool.apply(cube, [2]),
      /the module is outside the project root .*; pass "root" to redisBackend\(\)/,
    );
  } finally {
    pool.close();
    await within(pool.join(), 10_000);
  }
});

Deno.test("redis: an aborted call's chunks are not run", async () => {
  await using stage = await Stage.shared();
  const worker = await stage.serve();
  const pool = stage.pool();
  const controller = new AbortController();
  const input = Array.from({ length: 40 }, (_, i) => i);
  const call = pool.map(napCube, input, 1, {
    signal: controller.signal,
    onProgress: () => controller.abort(new Error("enough")),
  });
  await assert.rejects(within(call, 10_000), /enough/);
  const at = worker.stats().chunks;
  // Deliberate: ten chunks' time, for chunks that should not run.
  await delay(1500);
  // Only the chunks the worker already held finish; the rest were deleted.
  const after = worker.stats().chunks;
  assert.ok(after - at <= 2, `${after - at} chunks ran after the abort`);
});

Deno.test("redis: Redis stopped mid-run gives a clear error within seconds", async () => {
  await using stage = await Stage.private();
  await stage.serve();
  const pool = stage.pool({ reconnectTimeout: 1000 });
  let stoppedAt = 0;
  const input = Array.from({ length: 400 }, (_, i) => i);
  const call = pool.map(sleepyCube, input, 1, {
    onProgress: (done) => {
      if (done === 5 && stoppedAt === 0) {
        stoppedAt = performance.now();
        stage.server.stop();
      }
    },
  });
  const err = await within(call.then(() => null, (e) => e), 20_000);
  assert.ok(stoppedAt > 0, "the server was stopped mid-run");
  assert.ok(err instanceof RedisUnavailableError, String(err));
  assert.match(
    err.message,
    /Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable/,
  );
  assert.match(err.message, /start Redis there or fix the url/);
  const after = performance.now() - stoppedAt;
  assert.ok(after < 5000, `error after ${after.toFixed(0)} ms`);
  // The pool stays usable, and says the same again without hanging.
  await assert.rejects(
    within(pool.apply(cube, [2]), 10_000),
    RedisUnavailableError,
  );
});

Deno.test("redis: Redis restarted mid-run (state lost) loses nothing", async () => {
  await using stage = await Stage.private();
  const port = stage.server.port;
  await stage.serve({ processes: 2 });
  const pool = stage.pool({ reconnectTimeout: 8000 });
  let restart: Promise<void> | undefined;
  const input = Array.from({ length: 300 }, (_, i) => i);
  const call = pool.map(sleepyCube, input, 2, {
    onProgress: (done) => {
      if (done >= 20 && restart === undefined) {
        // A restart without persistence: the stream, group and pending
        // entries are gone; the pool sends what is in flight again.
        restart = stage.server.stop().then(async () => {
          stage.server = await startRedis({ port });
        });
      }
    },
  });
  const out = await within(call, 30_000);
  assert.ok(restart !== undefined, "the server was restarted mid-run");
  await restart;
  assert.deepEqual(out, input.map((x) => x ** 3));
});

Deno.test("redis: a worker whose copy of the module differs refuses the task", async () => {
  await using stage = await Stage.shared();
  const root = await stage.tempDir();
  await Deno.mkdir(`${root}/tests/redis/fixtures`, { recursive: true });
  const text = await Deno.readTextFile(`${ROOT_DIR}/${TASKS}`);
  await Deno.writeTextFile(
    `${root}/${TASKS}`,
    text.replace("return x ** 3;", "return x ** 3 + 1;"),
  );
  const worker = await stage.serve({ root, name: "stale-worker" });
  const pool = stage.pool();
  const err = await within(
    pool.map(cube, [1, 2, 3], 3).then(() => null, (e) => e),
    20_000,
  );
  assert.ok(err instanceof ModuleMismatchError, String(err));
  assert.equal(err.module, TASKS);
  assert.equal(err.workerName, "stale-worker");
  assert.match(
    err.message,
    /Worker stale-worker refused "cube" from "tests\/redis\/fixtures\/tasks\.ts": its copy \(sha256 [0-9a-f]{12}…\) differs from the coordinator's/,
  );
  assert.match(err.message, /deploy the same code to every worker machine/);
  // A module the worker does not have at all is refused too.
  await Deno.remove(`${root}/${TASKS}`);
  // Deliberate: past the worker's 1 s cache of the module check.
  await delay(1100);
  const missing = await within(
    pool.apply(cube, [2]).then(() => null, (e) => e),
    20_000,
  );
  assert.ok(missing instanceof ModuleMismatchError, String(missing));
  assert.match(
    missing.message,
    /there is no such file under its project root/,
  );
  assert.equal(worker.stats().refused, 2);
});

Deno.test("redis: the Pool API behaves as locally", async (t) => {
  await using stage = await Stage.shared();
  const worker = await stage.serve({ processes: 2 });
  const pool = stage.pool();
  await t.step("the seed: map, mapAsync, apply, applyAsync", async () => {
    assert.deepEqual(await pool.map(cube, [0, 1, 2, 3]), [0, 1, 8, 27]);
    const r = pool.mapAsync(cube, [4, 5]);
    assert.deepEqual(await within(r.get(), 10_000), [64, 125]);
    assert.equal(await pool.apply(add, [2, 3]), 5);
    let called: unknown;
    const ar = pool.applyAsync(cube, [6], { callback: (v) => called = v });
    assert.equal(await within(ar.get(), 10_000), 216);
    assert.equal(called, 216);
    assert.deepEqual(await pool.starmap(add, [[1, 2], [3, 4]]), [3, 7]);
  });

  await t.step(
    "imap is ordered, imapUnordered has every result",
    async () => {
      const input = Array.from({ length: 60 }, (_, i) => i);
      const ordered: number[] = [];
      for await (const v of pool.imap(sleepyCube, input, 3)) ordered.push(v);
      assert.deepEqual(ordered, input.map((x) => x ** 3));
      const unordered: number[] = [];
      for await (const v of pool.imapUnordered(cube, input, 7)) {
        unordered.push(v);
      }
      assert.deepEqual(
        unordered.sort((x, y) => x - y),
        input.map((x) => x ** 3),
      );
    },
  );

  await t.step("structured-clone values cross in V8's format", async () => {
    const values = [
      new Map([["a", 1]]),
      new Set([1, 2]),
      new Date(0),
      new Uint8Array(3),
      10n,
    ];
    assert.deepEqual(await pool.map(describeValue, values), [
      "Map(1)",
      "Set(2)",
      "Date(1970-01-01T00:00:00.000Z)",
      "Uint8Array(3)",
      "bigint",
    ]);
    assert.deepEqual(await pool.map(echo, values), values);
  });

  await t.step(
    "errors keep name, message, stack, cause and own props",
    async () => {
      const err = await pool.map(failOn13, [11, 12, 13, 14]).then(
        () => null,
        (e) => e,
      );
      assert.ok(err instanceof Error);
      assert.equal(err.name, "BadInput");
      assert.equal(err.message, "13 is unlucky");
      assert.equal((err as Error & { code: string }).code, "E_BAD");
      assert.ok(err.cause instanceof RangeError);
      assert.equal((err.cause as Error).message, "inner");
      assert.match(err.stack ?? "", /tasks\.ts/);
      assert.equal(pool.stats().failed > 0, true);
    },
  );

  await t.step(
    "a task that ends its thread fails with a ProcessError",
    async () => {
      const err = await pool.apply(exits).then(() => null, (e) => e);
      assert.ok(err instanceof ProcessError, String(err));
      assert.equal(err.exitCode, 3);
      assert.match(err.message, /exits/);
      assert.equal(await pool.apply(cube, [3]), 27, "the worker goes on");
    },
  );

  await t.step(
    "values that cannot cross are refused with their path",
    async () => {
      await assert.rejects(
        pool.map(echo, [1, () => 2]),
        (e: Error) =>
          e.name === "DataCloneError" && /iterable\[1\]/.test(e.message),
      );
      class Point {
        constructor(readonly x: number) {}
        norm() {
          return this.x;
        }
      }
      await assert.rejects(
        pool.apply(echo, [new Point(1)]),
        (e: Error) => e.name === "DataCloneError" && /args/.test(e.message),
      );
      await assert.rejects(
        pool.apply(returnsFunction),
        (e: Error) =>
          e.name === "DataCloneError" && /result back/.test(e.message),
      );
    },
  );

  await t.step(
    "signal aborts a call; onProgress counts to the total",
    async () => {
      const controller = new AbortController();
      const input = Array.from({ length: 200 }, (_, i) => i);
      let done = 0;
      const call = pool.map(sleepyCube, input, 1, {
        signal: controller.signal,
        onProgress: (n) => done = n,
      });
      // Mid-call: once the first results are in.
      await until(() => done >= 1, { what: "the first results" });
      controller.abort(new Error("stop now"));
      await assert.rejects(within(call, 5_000), /stop now/);
      const seen: [number, number | undefined][] = [];
      const out = await pool.map(cube, input, 50, {
        onProgress: (done, total) => seen.push([done, total]),
      });
      assert.equal(out.length, 200);
      assert.deepEqual(seen.at(-1), [200, 200]);
    },
  );

  await t.step(
    "many tiny chunks share entries; errors keep their place",
    async () => {
      // Warm: the workers report microsecond chunks, so the pool packs many
      // chunks into one task entry.
      const input = Array.from({ length: 3000 }, (_, i) => i);
      assert.deepEqual(
        await pool.map(cube, input, 1),
        input.map((x) => x ** 3),
      );
      const before = worker.stats();
      assert.deepEqual(
        await pool.map(cube, input, 1),
        input.map((x) => x ** 3),
      );
      // The map's 3000 chunks came in far fewer task entries.
      const entries = worker.stats().entries - before.entries;
      assert.ok(entries * 2 <= 3000, `3000 chunks in ${entries} entries`);
      const got: number[] = [];
      let thrown: unknown;
      try {
        for await (const v of pool.imap(failOn13, input, 1)) got.push(v);
      } catch (err) {
        thrown = err;
      }
      assert.deepEqual(got, input.slice(0, 13).map((x) => x ** 3));
      assert.equal((thrown as Error).name, "BadInput");
      assert.deepEqual(
        await pool.map(cube, input.slice(0, 500), 1),
        input.slice(0, 500).map((x) => x ** 3),
        "the pool goes on",
      );
    },
  );

  await t.step("breaking out of imap stops its input", async () => {
    let pulled = 0;
    function* endless() {
      for (let i = 0;; i++) {
        pulled++;
        yield i;
      }
    }
    for await (const v of pool.imap(cube, endless(), 4)) {
      if (v >= 1000) break;
    }
    const at = pulled;
    // Deliberate: a while later, still no more read.
    await delay(100);
    assert.equal(pulled, at, "no input read after the break");
  });
});

Deno.test("redis: an unreachable server fails calls within seconds", async () => {
  const probe = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const url = `redis://127.0.0.1:${port}`;
  const pool = remotePool(url, "jobs", { reconnectTimeout: 1000 });
  const t0 = performance.now();
  const err = await within(
    pool.map(cube, [1, 2]).then(() => null, (e) => e),
    10_000,
  );
  const ms = performance.now() - t0;
  assert.ok(err instanceof RedisUnavailableError, String(err));
  assert.equal(err.url, url);
  assert.match(err.message, /ECONNREFUSED/);
  assert.ok(ms < 4000, `took ${ms.toFixed(0)} ms`);
  pool.close();
  await within(pool.join(), 5_000);

  const ran = await runDeno(
    ["run", "-A", WORKER, "--redis", url, "--queue", "jobs"],
    { timeout: 20_000 },
  );
  assert.equal(ran.code, 1, ran.stderr);
  assert.match(ran.stderr, /did not answer within 5000 ms/);
});

Deno.test("redis: calls with no worker fail with NoWorkersError", async () => {
  await using stage = await Stage.shared();
  const pool = stage.pool({ workerTimeout: 1500 });
  const t0 = performance.now();
  const err = await within(
    pool.apply(cube, [3]).then(() => null, (e) => e),
    10_000,
  );
  const ms = performance.now() - t0;
  assert.ok(err instanceof NoWorkersError, String(err));
  assert.ok(ms >= 1400 && ms < 5000, `failed after ${ms.toFixed(0)} ms`);
  assert.equal(err.queue, stage.q);
  assert.match(
    err.message,
    /start one with "deno run -A jsr:@parallel\/multiprocessing\/worker/,
  );
});

Deno.test("redis: workers run only their project's modules", async () => {
  await using stage = await Stage.shared();
  const q = stage.q;
  const outside = await stage.tempDir();
  const marker = `${outside}/imported`;
  const evil = `${outside}/evil.ts`;
  await Deno.writeTextFile(
    evil,
    `Deno.writeTextFileSync(${JSON.stringify(marker)}, "x");\n` +
      `export function run() { return 1; }\n`,
  );
  await stage.serve();
  const client = await stage.client();
  // A hostile writer on the queue names modules outside the worker's root.
  const reply = `mp:{${q}}:reply:intruder`;
  await client.xadd(reply, "*", "hello", "1");
  const hash = createHash("sha256").update(await Deno.readFile(evil))
    .digest("hex");
  const specs = [
    relative(ROOT_DIR, evil),
    evil,
    pathToFileURL(evil).href,
    "data:text/javascript,export function run() { return 1; }",
  ];
  for (const [i, spec] of specs.entries()) {
    await client.xadd(
      `mp:{${q}}:tasks`,
      "*",
      ...[
        "r",
        reply,
        "i",
        String(i),
        "n",
        "1",
        "m",
        spec,
        "h",
        hash,
        "f",
        "run",
        "x",
        "function run() { return 1; }",
        "s",
        "0",
      ],
      "a",
      serialize([0]),
    );
  }
  const errors = new Map<number, Error>();
  await until(async () => {
    const res = await client.xrangeBuffer(reply, "-", "+");
    for (const [, fields] of res) {
      if (fields[0]!.toString() !== "d") continue;
      for (const r of deserialize(fields[1]!) as ResultRecordLike[]) {
        errors.set(r.i, r.e as Error);
      }
    }
    return errors.size === specs.length;
  }, { what: "every task to be answered", timeout: 10_000, interval: 50 });
  for (const [i, e] of errors) {
    assert.equal(e.name, "ModuleMismatchError", specs[i]);
    assert.match(e.message, /runs only modules under its project root/);
  }
  await assert.rejects(Deno.stat(marker), Deno.errors.NotFound);
  // A pool is refused a remote module before anything is sent.
  const pool = new Pool({
    backend: redisBackend({ url: stage.url, queue: q }),
    module: "https://example.com/tasks.ts",
  });
  await assert.rejects(
    pool.apply(cube, [1]),
    /workers run only modules of their project/,
  );
  pool.close();
  await within(pool.join(), 5_000);
});

Deno.test("redis: a vanished coordinator's chunks are skipped, an expired stream remade", async () => {
  await using stage = await Stage.shared();
  const q = stage.q;
  const worker = await stage.serve();
  const client = await stage.client();
  const pool = stage.pool();
  // A task left by a coordinator whose reply stream is gone is not run.
  const hash = createHash("sha256").update(
    await Deno.readFile(`${ROOT_DIR}/${TASKS}`),
  ).digest("hex");
  await client.xadd(
    `mp:{${q}}:tasks`,
    "*",
    ...["r", `mp:{${q}}:reply:gone`, "i", "1", "n", "1", "m", TASKS],
    ...["h", hash],
    ...["f", "cube", "x", "function cube() {}", "s", "0"],
    "a",
    serialize([2]),
  );
  await until(() => worker.stats().skipped >= 1, {
    what: "the task to be skipped",
    timeout: 10_000,
  });
  assert.equal(worker.stats().chunks, 0, "nothing was run or answered");
  // A coordinator whose reply stream expired (say, its main thread was
  // blocked for longer than the stream's lifetime) makes it again and
  // sends its chunks again: the call still completes.
  const input = Array.from({ length: 16 }, (_, i) => i);
  let deleted = false;
  const out = await within(
    pool.map(napCube, input, 2, {
      onProgress: async () => {
        if (deleted) return;
        deleted = true;
        const [reply] = await client.keys(`mp:{${q}}:reply:*`);
        await client.del(reply!);
      },
    }),
    30_000,
  );
  assert.ok(deleted);
  assert.deepEqual(out, input.map((x) => x ** 3));
});

Deno.test("redis: bad options say what is wrong", async () => {
  assert.throws(
    () => redisBackend({ url: "http://127.0.0.1", queue: "jobs" }),
    /the scheme must be "redis:" or "rediss:"/,
  );
  assert.throws(
    () => redisBackend({ url: "not a url", queue: "jobs" }),
    TypeError,
  );
  assert.throws(
    () => redisBackend({ url: "redis://127.0.0.1", queue: "" }),
    /Cannot use queue ""/,
  );
  assert.throws(
    () => redisBackend({ url: "redis://127.0.0.1", queue: "q", maxPending: 0 }),
    RangeError,
  );
  const backend = redisBackend({ url: "redis://127.0.0.1:1", queue: "q" });
  assert.throws(
    () => new Pool({ backend, processes: 2 }),
    /Cannot use "processes" with a "backend".*--processes/,
  );
  assert.throws(
    () => new Pool({ backend: {} as never }),
    /it must be made by a backend function, such as redisBackend\(\)/,
  );
  await assert.rejects(
    serve({ url: "redis://127.0.0.1:1", queue: "q", processes: 0 }),
    RangeError,
  );
  const ran = await runDeno(["run", "-A", WORKER, "--queue", "jobs"]);
  assert.equal(ran.code, 2);
  assert.match(ran.stderr, /--redis and --queue are required/);
  assert.match(
    ran.stderr,
    /Usage: deno run -A jsr:@parallel\/multiprocessing\/worker/,
  );
});
