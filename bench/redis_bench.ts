// Tasks per second through the Redis backend against the local pool, by
// chunksize, in one run, with the raw Redis round trip of one chunk message
// as the floor.
//
//   deno run -A bench/redis_bench.ts [--n 100000] [--runs 3]
//
// Redis is the server named by REDIS_URL, or else a private redis-server
// started for the run (skipped, with exit code 0, when neither is there).
// The worker side is the worker command (worker.ts) in a subprocess with 2
// processes; the local side is a Pool of 2. Workloads: a trivial task over N
// items and a ~0.05 ms busy-wait over N/10. It prints a Markdown table and
// writes bench/redis_results.json.

import process from "node:process";
import { parseArgs } from "node:util";
import { serialize } from "node:v8";
import { Redis } from "ioredis";
import { Pool } from "../mod.ts";
import { redisBackend } from "../redis.ts";
import { keysOf } from "../lib/redis/_protocol.ts";
import { within } from "../tests/fixtures/harness.ts";
import {
  type RedisServer,
  spawnWorkerCommand,
  startRedis,
} from "../tests/redis/_server.ts";
import { busy, BUSY_MS, cube } from "./_redis_targets.ts";

const PROCESSES = 2;
const CHUNKSIZES = [1, 10, 100, 1000, 10_000];
/** The most one Redis measurement (all its runs) may take before its N is
 * made smaller. */
const BUDGET_MS = 30_000;
/** How long the worker command may take to serve its first task. */
const START_TIMEOUT_MS = 30_000;
/** Bound on any one measured call, so that a hang fails the bench. */
const CALL_TIMEOUT_MS = 120_000;
/** Round trips of the floor measurement (after 200 warm-up ones). */
const FLOOR_ROUNDS = 2_000;

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const TARGETS = new URL("./_redis_targets.ts", import.meta.url);
const RESULTS = new URL("./redis_results.json", import.meta.url);

interface Workload {
  readonly name: string;
  readonly fn: (x: number) => number;
  readonly expected: (x: number) => number;
  readonly n: number;
  /** ms of work per item, for the time estimate. */
  readonly workMs: number;
}

interface Side {
  readonly runsMs: number[];
  readonly medianMs: number;
  readonly tasksPerSec: number;
  readonly chunksPerSec: number;
}

/** CPU used during the Redis runs, in % of one core; null when unknown. */
interface Cpu {
  readonly coordinator: number;
  readonly worker: number | null;
  readonly redisServer: number | null;
}

interface Row {
  readonly workload: string;
  readonly chunksize: number;
  readonly n: number;
  readonly reducedFrom: number | null;
  readonly local: Side;
  readonly redis: Side;
  readonly ratio: number;
  readonly redisCpu: Cpu;
}

function log(msg: string): void {
  console.error(`[redis-bench] ${msg}`);
}

function positiveInt(
  value: string | undefined,
  flag: string,
  fallback: number,
) {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(
      `Cannot use ${flag} "${value}": it must be a positive integer`,
    );
  }
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function fmtInt(x: number): string {
  return Math.round(x).toLocaleString("en");
}

function fmtPct(x: number | null): string {
  return x === null ? "n/a" : `${x.toFixed(0)}%`;
}

function fmtCpu(c: Cpu): string {
  return `coordinator ${fmtPct(c.coordinator)}, worker ${
    fmtPct(c.worker)
  }, redis-server ${fmtPct(c.redisServer)}`;
}

function fmtRatio(r: number): string {
  return (r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)) + "×";
}

/** Throws unless `out` is `expected` applied to 0..n-1. */
function verify(
  out: number[],
  n: number,
  expected: (x: number) => number,
  what: string,
): void {
  if (!Array.isArray(out) || out.length !== n) {
    throw new Error(
      `${what}: expected ${n} results, received ${
        Array.isArray(out) ? out.length : typeof out
      }`,
    );
  }
  for (let i = 0; i < n; i++) {
    if (out[i] !== expected(i)) {
      throw new Error(
        `${what}: result ${i} is ${out[i]}, expected ${expected(i)}`,
      );
    }
  }
}

/** Wall time of one verified `pool.map`, in ms. */
async function timeMap(
  pool: Pool,
  w: Workload,
  input: number[],
  chunksize: number,
  what: string,
): Promise<number> {
  const t0 = performance.now();
  const out = await within(
    pool.map(w.fn, input, chunksize),
    CALL_TIMEOUT_MS,
    what,
  );
  const ms = performance.now() - t0;
  verify(out, input.length, w.expected, what);
  return ms;
}

async function measureSide(
  pool: Pool,
  w: Workload,
  input: number[],
  chunksize: number,
  runs: number,
  what: string,
): Promise<Side> {
  const runsMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    runsMs.push(await timeMap(pool, w, input, chunksize, what));
  }
  const medianMs = median(runsMs);
  return {
    runsMs,
    medianMs,
    tasksPerSec: input.length / medianMs * 1000,
    chunksPerSec: Math.ceil(input.length / chunksize) / medianMs * 1000,
  };
}

/** The largest N (1, 2 or 5 × 10^k, at most `n`) whose Redis runs are
 * estimated to fit in the budget. */
function fit(
  n: number,
  chunksize: number,
  workMs: number,
  perChunkMs: number,
  runs: number,
): number {
  const estimate = (m: number) =>
    (Math.ceil(m / chunksize) * perChunkMs + m * workMs / PROCESSES) * runs;
  if (estimate(n) <= BUDGET_MS) return n;
  let best = 100;
  for (let p = 1; p < n; p *= 10) {
    for (const k of [1, 2, 5]) {
      const m = k * p;
      if (m < n && m > best && estimate(m) <= BUDGET_MS) best = m;
    }
  }
  return Math.min(best, n);
}

// ---- the floor: one chunk message's raw round trip --------------------------

/**
 * µs per ping-pong of one chunk-sized message: XADD to a stream, a blocking
 * XREAD on another connection takes it, XADD of a result to a second stream,
 * a blocking XREAD on the first side takes that. That is the least Redis
 * work a chunk costs (the backend also acknowledges and deletes entries).
 */
async function floorRoundTrip(url: string): Promise<number> {
  const open = () => {
    const c = new Redis(url, { maxRetriesPerRequest: 1 });
    c.on("error", () => {});
    return c;
  };
  const [a, aBlk, b, bBlk] = [open(), open(), open(), open()];
  const tag = crypto.randomUUID().slice(0, 8);
  const ping = `mp-bench:{${tag}}:ping`;
  const pong = `mp-bench:{${tag}}:pong`;
  // The fields of a real task entry, carrying one item.
  const task = [
    "r",
    pong,
    "i",
    "1",
    "m",
    "bench/_redis_targets.ts",
    "h",
    "0".repeat(64),
    "f",
    "cube",
    "x",
    cube.toString(),
    "s",
    "0",
    "a",
    serialize([1]),
  ];
  const result = serialize([{ i: 1, v: [1], t: 0.01, w: "bench:1", p: 2 }]);
  try {
    const echo = (async () => {
      let last = "0-0";
      while (true) {
        const res = await bBlk.xreadBuffer(
          "BLOCK",
          5000,
          "STREAMS",
          ping,
          last,
        );
        if (res === null) throw new Error("the floor's ping was not received");
        for (const [, entries] of res) {
          for (const [id, fields] of entries) {
            last = id.toString();
            if (fields[0]?.toString() === "stop") return;
            await b.xadd(pong, "*", "d", result);
          }
        }
      }
    })();
    let last = "0-0";
    const round = async () => {
      await a.xadd(ping, "*", ...task);
      const res = await aBlk.xreadBuffer(
        "BLOCK",
        5000,
        "STREAMS",
        pong,
        last,
      );
      const entries = res?.[0]?.[1];
      if (!entries?.length) {
        throw new Error("the floor's pong was not received");
      }
      last = entries[entries.length - 1]![0].toString();
    };
    for (let i = 0; i < 200; i++) await round();
    const t0 = performance.now();
    for (let i = 0; i < FLOOR_ROUNDS; i++) await round();
    const us = (performance.now() - t0) * 1000 / FLOOR_ROUNDS;
    await a.xadd(ping, "*", "stop", "1");
    await echo;
    return us;
  } finally {
    await a.del(ping, pong).catch(() => {});
    for (const c of [a, aBlk, b, bBlk]) c.disconnect();
  }
}

async function redisVersion(client: Redis): Promise<string> {
  const info = await client.info("server");
  return /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown";
}

// ---- CPU use -----------------------------------------------------------------

interface CpuSample {
  readonly at: number;
  readonly self: number;
  readonly worker: number | null;
  readonly redis: number | null;
}

/** ms of CPU a process has used, from /proc (Linux); null elsewhere. */
async function procCpuMs(pid: number): Promise<number | null> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime (fields 14 and 15), in USER_HZ (100 on Linux) ticks.
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}

/** ms of CPU the Redis server has used (INFO cpu); null if unknown. */
async function redisCpuMs(client: Redis): Promise<number | null> {
  try {
    const info = await client.info("cpu");
    const sys = /used_cpu_sys:([\d.]+)/.exec(info)?.[1];
    const user = /used_cpu_user:([\d.]+)/.exec(info)?.[1];
    if (sys === undefined || user === undefined) return null;
    return (Number(sys) + Number(user)) * 1000;
  } catch {
    return null;
  }
}

async function cpuSample(client: Redis, workerPid: number): Promise<CpuSample> {
  const { user, system } = process.cpuUsage();
  return {
    at: performance.now(),
    self: (user + system) / 1000,
    worker: await procCpuMs(workerPid),
    redis: await redisCpuMs(client),
  };
}

function cpuBetween(a: CpuSample, b: CpuSample): Cpu {
  const wall = b.at - a.at;
  const pct = (x: number | null, y: number | null) =>
    x === null || y === null ? null : (y - x) / wall * 100;
  return {
    coordinator: pct(a.self, b.self)!,
    worker: pct(a.worker, b.worker),
    redisServer: pct(a.redis, b.redis),
  };
}

// ---- the worker command -----------------------------------------------------

function startWorker(url: string, queue: string) {
  const { child, stderr } = spawnWorkerCommand(url, queue, [
    "--processes",
    String(PROCESSES),
  ]);
  let exited: Deno.CommandStatus | undefined;
  const status = child.status.then((s) => exited = s);
  return {
    pid: child.pid,
    /** Rejects if the worker ends before `promise` settles. */
    async alive<T>(promise: Promise<T>): Promise<T> {
      return await Promise.race([
        promise,
        status.then(async (s) => {
          throw new Error(
            `The worker command exited with code ${s.code}:\n${await stderr}`,
          );
        }),
      ]);
    },
    /** SIGTERM, then its status; SIGKILL if it takes over 15 s. */
    async stop(): Promise<string> {
      if (exited === undefined) {
        try {
          child.kill("SIGTERM");
        } catch {
          // it ended meanwhile
        }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // it ended meanwhile
          }
        }, 15_000);
        await status;
        clearTimeout(timer);
      }
      return await stderr;
    },
  };
}

// ---- main -------------------------------------------------------------------

async function warmUp(pool: Pool, what: string): Promise<void> {
  const small = Array.from({ length: 256 }, (_, i) => i);
  verify(await pool.map(cube, small, 1), 256, cube, `${what} warm-up`);
  verify(await pool.map(busy, small, 1), 256, busy, `${what} warm-up`);
  const big = Array.from({ length: 10_000 }, (_, i) => i);
  verify(await pool.map(cube, big, 100), 10_000, cube, `${what} warm-up`);
}

async function connectRedis(): Promise<
  { url: string; source: string; server: RedisServer | null } | null
> {
  const env = Deno.env.get("REDIS_URL");
  if (env) return { url: env, source: "REDIS_URL", server: null };
  try {
    const server = await startRedis();
    return { url: server.url, source: "private redis-server", server };
  } catch (err) {
    if ((err as Error).cause instanceof Deno.errors.NotFound) {
      console.log(
        `Redis bench skipped: REDIS_URL is unset and ${
          (err as Error).message
        }.`,
      );
      return null;
    }
    throw err;
  }
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { n: { type: "string" }, runs: { type: "string" } },
    strict: true,
  });
  const N = positiveInt(values.n, "--n", 100_000);
  const RUNS = positiveInt(values.runs, "--runs", 3);
  const started = performance.now();

  const redis = await connectRedis();
  if (redis === null) return 0;
  const queue = `bench-${crypto.randomUUID().slice(0, 8)}`;
  log(`N=${N} runs=${RUNS}, Redis at ${redis.url} (${redis.source})`);

  let worker: ReturnType<typeof startWorker> | undefined;
  let local: Pool | undefined;
  let remote: Pool | undefined;
  const info = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  info.on("error", () => {});
  try {
    const version = await redisVersion(info);
    log("floor: raw Redis round trip of one chunk message…");
    const floorUs = median(
      await Array.fromAsync(
        { length: RUNS },
        () => floorRoundTrip(redis.url),
      ),
    );
    log(`floor: ${floorUs.toFixed(1)} µs per round trip`);

    log(`starting the worker command, queue "${queue}"…`);
    worker = startWorker(redis.url, queue);
    remote = new Pool({
      backend: redisBackend({ url: redis.url, queue, root: ROOT }),
      module: TARGETS,
    });
    const first = performance.now();
    const eight = await worker.alive(
      within(remote.apply(cube, [2]), START_TIMEOUT_MS, "the first task"),
    );
    if (eight !== 8) throw new Error(`the first task returned ${eight}`);
    log(`worker serving after ${(performance.now() - first).toFixed(0)} ms`);
    local = new Pool({ processes: PROCESSES, module: TARGETS });
    await warmUp(local, "local");
    await worker.alive(warmUp(remote, "redis"));

    // How long a chunk of one trivial item takes through Redis, to keep the
    // chunksize-1 runs within the budget.
    const probeN = 2_000;
    const probeIn = Array.from({ length: probeN }, (_, i) => i);
    const cubeLoad: Workload = {
      name: "cube",
      fn: cube,
      expected: cube,
      n: N,
      workMs: 0,
    };
    const probeMs = await worker.alive(
      timeMap(remote, cubeLoad, probeIn, 1, "redis probe"),
    );
    const perChunkMs = probeMs / probeN;
    log(`probe: ${(perChunkMs * 1000).toFixed(1)} µs per 1-item chunk`);

    const workloads: Workload[] = [
      cubeLoad,
      {
        name: `busy ${BUSY_MS} ms`,
        fn: busy,
        expected: busy,
        n: Math.max(1, Math.floor(N / 10)),
        workMs: BUSY_MS,
      },
    ];
    const rows: Row[] = [];
    const notes: string[] = [];
    for (const w of workloads) {
      for (const cs of CHUNKSIZES) {
        const n = fit(w.n, cs, w.workMs, perChunkMs, RUNS);
        if (n < w.n) {
          const est = (Math.ceil(w.n / cs) * perChunkMs +
            w.n * w.workMs / PROCESSES) * RUNS / 1000;
          notes.push(
            `${w.name}, chunksize ${cs}: ${fmtInt(n)} items instead of ${
              fmtInt(w.n)
            } (for both pools), since ${RUNS} Redis runs of ${
              fmtInt(w.n)
            } would take ~${est.toFixed(0)} s at ${
              (perChunkMs * 1000).toFixed(0)
            } µs per chunk`,
          );
        }
        const input = Array.from({ length: n }, (_, i) => i);
        const what = `${w.name}, chunksize ${cs}, ${n} items`;
        log(`${what}…`);
        const l = await measureSide(local, w, input, cs, RUNS, `local ${what}`);
        const before = await cpuSample(info, worker.pid);
        const r = await worker.alive(
          measureSide(remote, w, input, cs, RUNS, `redis ${what}`),
        );
        const cpu = cpuBetween(before, await cpuSample(info, worker.pid));
        rows.push({
          workload: w.name,
          chunksize: cs,
          n,
          reducedFrom: n < w.n ? w.n : null,
          local: l,
          redis: r,
          ratio: r.tasksPerSec / l.tasksPerSec,
          redisCpu: cpu,
        });
        log(
          `  local ${fmtInt(l.tasksPerSec)}/s, redis ${
            fmtInt(r.tasksPerSec)
          }/s, ${fmtRatio(r.tasksPerSec / l.tasksPerSec)}; CPU during the ` +
            `Redis runs: ${fmtCpu(cpu)}`,
        );
      }
    }
    const stats = remote.stats();

    const machine =
      `N = ${N}, medians of ${RUNS}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}, Redis ${version} (${redis.source}), ${PROCESSES} processes on each side`;
    console.log(`\n${machine}`);
    console.log(
      `Floor: one chunk message's raw Redis round trip (ioredis, XADD + ` +
        `blocking XREAD each way) = ${floorUs.toFixed(1)} µs, ` +
        `i.e. at most ${
          fmtInt(1e6 / floorUs)
        } chunks/s with one chunk in flight.`,
    );
    console.log(
      "\n| workload | chunksize | local tasks/s | redis tasks/s | redis/local |",
    );
    console.log("| --- | ---: | ---: | ---: | ---: |");
    for (const row of rows) {
      const items = `${fmtInt(row.n)} items${row.reducedFrom ? "*" : ""}`;
      console.log(
        `| ${row.workload} (${items}) | ${row.chunksize} | ${
          fmtInt(row.local.tasksPerSec)
        } | ${fmtInt(row.redis.tasksPerSec)} | ${fmtRatio(row.ratio)} |`,
      );
    }
    for (const note of notes) console.log(`\n* ${note}.`);
    console.log(
      `\nCPU during the Redis runs, in % of one core ` +
        `(${navigator.hardwareConcurrency} cores = ${
          navigator.hardwareConcurrency * 100
        }%):\n\n| workload | chunksize | coordinator | worker command | redis-server |\n| --- | ---: | ---: | ---: | ---: |`,
    );
    for (const row of rows) {
      const c = row.redisCpu;
      console.log(
        `| ${row.workload} | ${row.chunksize} | ${fmtPct(c.coordinator)} | ${
          fmtPct(c.worker)
        } | ${fmtPct(c.redisServer)} |`,
      );
    }
    console.log(
      `\nEvery result was checked (length and every value). Redis pool: ` +
        `${stats.completed} tasks, ${stats.failed} failed, worker run time ` +
        `p50 ${stats.runTime.p50.toFixed(2)} ms per chunk. ` +
        `Took ${((performance.now() - started) / 1000).toFixed(0)} s.`,
    );

    await Deno.writeTextFile(
      RESULTS,
      JSON.stringify(
        {
          N,
          runs: RUNS,
          machine: {
            cores: navigator.hardwareConcurrency,
            deno: Deno.version.deno,
            redis: version,
            redisSource: redis.source,
            processes: PROCESSES,
          },
          floorRoundTripUs: floorUs,
          probeUsPerChunk: perChunkMs * 1000,
          rows,
          notes,
        },
        null,
        2,
      ) + "\n",
    );
    log("wrote bench/redis_results.json");
    return 0;
  } finally {
    if (remote) await remote[Symbol.asyncDispose]();
    if (local) await local[Symbol.asyncDispose]();
    if (worker) {
      const text = (await worker.stop()).trim().split("\n").filter((l) =>
        l !== "" && !/serves queue|stopping: finishing/.test(l)
      );
      if (text.length > 0) log(`worker stderr:\n${text.join("\n")}`);
    }
    // The queue's keys, on a server that may outlive the run (REDIS_URL).
    const keys = keysOf(queue);
    await info.del(keys.tasks, keys.workers).catch(() => {});
    info.disconnect();
    await redis.server?.stop();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
