// One command for every speed claim: our Pool and Process (threads, and OS
// processes with isolation: "process") against Python's multiprocessing
// (fork and spawn), piscina, and the raw-Worker baseline, in one run.
//
//   deno task bench            (BENCH_N=100000 BENCH_REPS=5 by default)
//
// Peers are installed or skipped by this script: Python needs `python3`;
// piscina is installed with npm into bench/.peers (git-ignored). It prints a
// table of figures and ratios and writes bench/results.json and
// bench/results.svg.

import { runPeer } from "./_peer.ts";
import { Pool, Process, setStartMethod, transfer } from "../mod.ts";
import { cube, noop, size, spin } from "./_targets.ts";
import { Worker as ThreadWorker } from "node:worker_threads";

const N = Number(Deno.env.get("BENCH_N") ?? 100_000);
const REPS = Number(Deno.env.get("BENCH_REPS") ?? 5);
const HERE = new URL(".", import.meta.url);
const TARGETS = new URL("./_targets.ts", import.meta.url).href;
const RAW = new URL("./_raw_worker.ts", import.meta.url);
const RAW_THREAD = new URL("./_raw_thread.ts", import.meta.url);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function measure(
  reps: number,
  fn: () => Promise<number>,
): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < reps; i++) out.push(await fn());
  return median(out);
}

/** How long before each start-up measure the program idles: the steady
 * state, as a program that starts a Process now and then sees it. */
const STEADY_GAP_MS = 200;

/** `fn`, measured in the steady state. */
function steady(fn: () => Promise<number>): () => Promise<number> {
  return async () => {
    await new Promise((r) => setTimeout(r, STEADY_GAP_MS));
    return await fn();
  };
}

/** The memory (RSS, MiB) of one warm standby thread: the same program
 * (bench/_standby_rss.ts) with two threads waiting and with none, run in
 * turn, medians of `reps`. */
async function standbyMemory(reps: number): Promise<number> {
  const script = new URL("./_standby_rss.ts", import.meta.url).pathname;
  const run = async (method: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-prompt", script, method],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1);
    return JSON.parse(line ?? "{}") as { rss: number; waiting: number };
  };
  const per: number[] = [];
  for (let i = 0; i < reps; i++) {
    const warm = await run("forkserver");
    const none = await run("spawn");
    per.push((warm.rss - none.rss) / 2 ** 20 / Math.max(1, warm.waiting));
  }
  return median(per);
}

function log(msg: string): void {
  console.error(`[bench] ${msg}`);
}

// ---- raw Workers ----------------------------------------------------------

function rawWorkers(n: number): Worker[] {
  return Array.from({ length: n }, () => new Worker(RAW, { type: "module" }));
}

function call(w: Worker, msg: unknown, transferList: Transferable[] = []) {
  return new Promise<unknown>((resolve) => {
    w.onmessage = (e) => resolve(e.data);
    w.postMessage(msg, transferList);
  });
}

/** Items 0..n-1 over 2 raw workers with `inflight` messages per worker. */
async function rawPerItem(workers: Worker[], n: number, inflight: number) {
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  await new Promise<void>((resolve) => {
    for (const w of workers) {
      w.onmessage = () => {
        done++;
        if (next < n) w.postMessage(next++);
        else if (done === n) resolve();
      };
      for (let i = 0; i < inflight && next < n; i++) w.postMessage(next++);
    }
  });
  return (performance.now() - t0) * 1000 / n;
}

async function rawChunks(workers: Worker[], n: number): Promise<number> {
  const size = Math.ceil(n / (4 * workers.length));
  const input = Array.from({ length: n }, (_, i) => i);
  const t0 = performance.now();
  const chunks: number[][] = [];
  for (let i = 0; i < n; i += size) chunks.push(input.slice(i, i + size));
  let next = 0;
  await Promise.all(workers.map(async (w) => {
    while (next < chunks.length) await call(w, chunks[next++]);
  }));
  return (performance.now() - t0) * 1000 / n;
}

async function rawCpu(workers: Worker[]): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(workers.map(async (w) => {
    while (next++ < 200) await call(w, { spin: 10 });
  }));
  return performance.now() - t0;
}

async function rawSpawn(): Promise<number> {
  const t0 = performance.now();
  const w = new Worker(RAW, { type: "module" });
  await call(w, {});
  w.terminate();
  return performance.now() - t0;
}

/** The mechanism under an unscoped Process: a node:worker_threads thread. */
async function rawThreadSpawn(): Promise<number> {
  const t0 = performance.now();
  const w = new ThreadWorker(RAW_THREAD);
  await new Promise<void>((resolve) => {
    w.once("message", () => resolve());
    w.postMessage(1);
  });
  await w.terminate();
  return performance.now() - t0;
}

async function rawFirstResult(): Promise<number> {
  const t0 = performance.now();
  const ws = rawWorkers(2);
  await call(ws[0]!, 2);
  const ms = performance.now() - t0;
  for (const w of ws) w.terminate();
  return ms;
}

function payloads(): Uint8Array[] {
  return Array.from({ length: 16 }, () => new Uint8Array(4 * 2 ** 20));
}

async function rawPayload(workers: Worker[], move: boolean): Promise<number> {
  const data = payloads();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(workers.map(async (w) => {
    while (next < data.length) {
      const p = data[next++]!;
      await call(w, p, move ? [p.buffer as ArrayBuffer] : []);
    }
  }));
  return performance.now() - t0;
}

// ---- ours -----------------------------------------------------------------

const input = Array.from({ length: N }, (_, i) => i);

async function oursImap(pool: Pool): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  for await (const _ of pool.imap(cube, input, 1)) n++;
  return (performance.now() - t0) * 1000 / n;
}

async function oursMap(pool: Pool, chunksize?: number): Promise<number> {
  const t0 = performance.now();
  await pool.map(cube, input, chunksize);
  return (performance.now() - t0) * 1000 / N;
}

async function oursApplyAsync(pool: Pool): Promise<number> {
  const t0 = performance.now();
  const results = input.map((x) => pool.applyAsync(cube, [x]));
  for (const r of results) await r;
  return (performance.now() - t0) * 1000 / N;
}

async function oursCpu(pool: Pool): Promise<number> {
  const t0 = performance.now();
  await pool.map(spin, Array(200).fill(10), 1);
  return performance.now() - t0;
}

async function oursProcess(): Promise<number> {
  const t0 = performance.now();
  const p = new Process({ target: noop, module: TARGETS });
  p.start();
  await p.join();
  return performance.now() - t0;
}

async function oursScopedProcess(): Promise<number> {
  const t0 = performance.now();
  const p = new Process({ target: noop, module: TARGETS, permissions: "none" });
  p.start();
  await p.join();
  return performance.now() - t0;
}

/** A scoped daemon: a web Worker that must never keep the program alive. */
async function oursScopedDaemon(): Promise<number> {
  const t0 = performance.now();
  const p = new Process({
    target: noop,
    module: TARGETS,
    permissions: "none",
    daemon: true,
  });
  p.start();
  await p.join();
  return performance.now() - t0;
}

/** A Process whose worker is an OS process (isolation: "process"). */
async function oursChildProcess(): Promise<number> {
  const t0 = performance.now();
  const p = new Process({
    target: noop,
    module: TARGETS,
    isolation: "process",
  });
  p.start();
  await p.join();
  return performance.now() - t0;
}

async function oursFirstResult(
  isolation: "thread" | "process" = "thread",
): Promise<number> {
  const t0 = performance.now();
  const pool = new Pool({ processes: 2, module: TARGETS, isolation });
  await pool.apply(cube, [2]);
  const ms = performance.now() - t0;
  pool.terminate();
  await pool.join();
  return ms;
}

async function oursPayload(pool: Pool, move: boolean): Promise<number> {
  const data = payloads();
  const t0 = performance.now();
  await pool.map(size, move ? data.map((d) => transfer(d)) : data, 1);
  return performance.now() - t0;
}

async function imapRss(pool: Pool): Promise<{ start: number; end: number }> {
  function* numbers() {
    for (let i = 0; i < 1_000_000; i++) yield i;
  }
  let start = 0;
  let n = 0;
  for await (const _ of pool.imap(cube, numbers(), 1)) {
    if (++n === 50_000) start = Deno.memoryUsage().rss;
  }
  return { start, end: Deno.memoryUsage().rss };
}

function serialCpu(): number {
  const t0 = performance.now();
  for (let i = 0; i < 200; i++) spin(10);
  return performance.now() - t0;
}

// ---- peers ----------------------------------------------------------------

async function python(): Promise<Record<string, number> | null> {
  log("python multiprocessing…");
  return await runPeer("python3", [
    new URL("./peers/python_bench.py", HERE).pathname,
    String(N),
    String(REPS),
  ], log);
}

async function piscina(): Promise<Record<string, number> | null> {
  const prefix = new URL("./.peers/", HERE).pathname;
  try {
    Deno.statSync(`${prefix}node_modules/piscina`);
  } catch {
    log("installing piscina into bench/.peers …");
    try {
      await new Deno.Command("npm", {
        args: ["install", "--silent", "--prefix", prefix, "piscina@4"],
        stdout: "null",
        stderr: "inherit",
      }).output();
    } catch (err) {
      log(`npm not available: ${(err as Error).message}`);
    }
  }
  log("piscina…");
  return await runPeer("node", [
    new URL("./peers/piscina_bench.mjs", HERE).pathname,
    String(N),
    String(REPS),
  ], log);
}

// ---- main -----------------------------------------------------------------

if (import.meta.main) {
  log(`N=${N} REPS=${REPS}`);
  const r: Record<string, number> = {};
  // The program's first Process: no standby thread waits yet.
  r.processFirst = await oursProcess();

  const workers = rawWorkers(2);
  await Promise.all(workers.map((w) => call(w, 1)));
  log("raw Workers…");
  r.raw64 = await measure(REPS, () => rawPerItem(workers, N, 64));
  r.raw1 = await measure(REPS, () => rawPerItem(workers, N, 1));
  r.rawChunks = await measure(REPS, () => rawChunks(workers, N));
  r.serialCpu = serialCpu();
  r.rawCpu = await measure(3, () => rawCpu(workers));
  r.rawCopy = await measure(REPS, () => rawPayload(workers, false));
  r.rawMove = await measure(REPS, () => rawPayload(workers, true));
  for (const w of workers) w.terminate();
  r.rawSpawn = await measure(20, rawSpawn);
  r.rawThreadSpawn = await measure(20, rawThreadSpawn);
  r.rawFirst = await measure(REPS, rawFirstResult);

  log("our Pool…");
  const pool = new Pool({ processes: 2, module: TARGETS });
  await pool.map(cube, [1, 2, 3, 4]);
  r.imap = await measure(REPS, () => oursImap(pool));
  r.map1 = await measure(REPS, () => oursMap(pool, 1));
  r.applyAsync = await measure(REPS, () => oursApplyAsync(pool));
  r.mapDefault = await measure(REPS, () => oursMap(pool));
  r.cpu = await measure(3, () => oursCpu(pool));
  r.copy = await measure(REPS, () => oursPayload(pool, false));
  r.move = await measure(REPS, () => oursPayload(pool, true));
  const rss = await imapRss(pool);
  r.rssStartMb = rss.start / 2 ** 20;
  r.rssEndMb = rss.end / 2 ** 20;
  await pool[Symbol.asyncDispose]();
  r.process = await measure(20, steady(oursProcess));
  r.processScoped = await measure(10, steady(oursScopedProcess));
  r.processScopedDaemon = await measure(10, steady(oursScopedDaemon));
  r.first = await measure(REPS, steady(() => oursFirstResult()));
  r.standbyMb = await standbyMemory(REPS);
  setStartMethod("spawn");
  r.processSpawn = await measure(20, steady(oursProcess));
  r.firstSpawn = await measure(REPS, steady(() => oursFirstResult()));
  setStartMethod("forkserver");

  log("our Pool, isolation process…");
  const children = new Pool({
    processes: 2,
    module: TARGETS,
    isolation: "process",
  });
  await children.map(cube, [1, 2, 3, 4]);
  r.imapProcess = await measure(REPS, () => oursImap(children));
  r.mapDefaultProcess = await measure(REPS, () => oursMap(children));
  await children[Symbol.asyncDispose]();
  r.processChild = await measure(10, steady(oursChildProcess));
  r.firstProcess = await measure(
    REPS,
    steady(() => oursFirstResult("process")),
  );

  const py = await python();
  const pis = await piscina();

  const rows: [string, string, number | undefined, string][] = [];
  const add = (
    group: string,
    name: string,
    v: number | undefined,
    unit: string,
  ) => rows.push([group, name, v, unit]);
  add("per item", "ours imap, chunksize 1", r.imap, "µs");
  add("per item", "ours imap, chunksize 1, OS processes", r.imapProcess, "µs");
  add("per item", "ours map, chunksize 1", r.map1, "µs");
  add("per item", "ours applyAsync loop", r.applyAsync, "µs");
  add("per item", "raw Workers, 64 in flight", r.raw64, "µs");
  add("per item", "raw Workers, 1 in flight", r.raw1, "µs");
  add("per item", "Python imap, chunksize 1", py?.imap1_us, "µs");
  add("per item", "Python map, chunksize 1", py?.map1_us, "µs");
  add("per item", "Python apply_async", py?.apply_async_us, "µs");
  add("per item", "piscina run()", pis?.run_us, "µs");
  add("default map", "ours map", r.mapDefault, "µs");
  add("default map", "ours map, OS processes", r.mapDefaultProcess, "µs");
  add("default map", "raw chunks", r.rawChunks, "µs");
  add("default map", "Python map", py?.map_default_us, "µs");
  add("cpu speed-up", "ours", r.serialCpu / r.cpu, "×");
  add("cpu speed-up", "raw Workers", r.serialCpu / r.rawCpu, "×");
  add("cpu speed-up", "Python", py?.cpu_speedup, "×");
  add("cpu speed-up", "piscina", pis?.cpu_speedup, "×");
  add("start→join", "ours Process (thread)", r.process, "ms");
  add(
    "start→join",
    "ours Process (thread), program's first",
    r.processFirst,
    "ms",
  );
  add("start→join", 'ours Process (thread), "spawn"', r.processSpawn, "ms");
  add("start→join", "ours Process (OS process)", r.processChild, "ms");
  add("start→join", "ours Process, permissions none", r.processScoped, "ms");
  add(
    "start→join",
    "ours Process, permissions none, daemon",
    r.processScopedDaemon,
    "ms",
  );
  add("start→join", "raw web Worker", r.rawSpawn, "ms");
  add("start→join", "raw node:worker_threads (Deno)", r.rawThreadSpawn, "ms");
  add("start→join", "Node worker_threads", pis?.worker_start_join_ms, "ms");
  add("start→join", "Python fork", py?.process_start_join_ms, "ms");
  add("start→join", "Python spawn", py?.process_start_join_spawn_ms, "ms");
  add("first result", "ours Pool(2)", r.first, "ms");
  add("first result", 'ours Pool(2), "spawn"', r.firstSpawn, "ms");
  add("first result", "ours Pool(2), OS processes", r.firstProcess, "ms");
  add("first result", "raw Workers", r.rawFirst, "ms");
  add("first result", "Python fork", py?.pool_first_result_ms, "ms");
  add("first result", "Python spawn", py?.pool_first_result_spawn_ms, "ms");
  add("first result", "piscina", pis?.pool_first_result_ms, "ms");
  add("16×4 MiB", "ours transfer()", r.move, "ms");
  add("16×4 MiB", "ours copy", r.copy, "ms");
  add("16×4 MiB", "raw transfer", r.rawMove, "ms");
  add("16×4 MiB", "raw copy", r.rawCopy, "ms");
  add("16×4 MiB", "Python pickle", py?.payload_16x4mib_ms, "ms");
  add("standby", "RSS of one warm thread", r.standbyMb, "MiB");
  add("imap 10⁶", "RSS after 50k items", r.rssStartMb, "MiB");
  add("imap 10⁶", "RSS at the end", r.rssEndMb, "MiB");

  console.log(
    `\nN = ${N}, medians of ${REPS}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}` +
      (py ? `, Python ${py.version}` : "") +
      (pis ? `, Node ${pis.version}, piscina ${pis.piscina}` : ""),
  );
  console.log("| workload | system | value |\n| --- | --- | --- |");
  for (const [g, name, v, unit] of rows) {
    console.log(
      `| ${g} | ${name} | ${
        v === undefined
          ? "skipped"
          : v.toFixed(unit === "µs" ? 2 : 1) + " " + unit
      } |`,
    );
  }

  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? "n/a" : (a / b).toFixed(2) + "×";
  const perItem = Math.max(r.imap!, r.map1!, r.applyAsync!);
  // A target on the ratio a / b: its label, the ratio, and whether it is
  // met (undefined when a peer was skipped).
  const atMost = (label: string, a?: number, b?: number, limit = 1.2) =>
    [
      `${label} ≤ ${limit}`,
      ratio(a, b),
      a === undefined || b === undefined ? undefined : a / b <= limit,
    ] as [string, string, boolean | undefined];
  const atLeast = (
    label: string,
    a: number | undefined,
    b?: number,
    limit = 2,
  ) =>
    [
      `${label} ≥ ${limit}`,
      ratio(a, b),
      a === undefined || b === undefined ? undefined : a / b >= limit,
    ] as [string, string, boolean | undefined];
  const checks: [string, string, boolean | undefined][] = [
    ["slowest per-item form ≤ 6 µs", `${perItem.toFixed(2)} µs`, perItem <= 6],
    atLeast("Python imap / ours imap", py?.imap1_us, r.imap),
    atLeast(
      "Python imap / ours imap, OS processes",
      py?.imap1_us,
      r.imapProcess,
      5,
    ),
    atLeast("piscina / ours (slowest form)", pis?.run_us, perItem, 4),
    atMost("ours (slowest form) / raw 64", perItem, r.raw64, 1.3),
    atMost("ours default map / raw chunks", r.mapDefault, r.rawChunks),
    atLeast("CPU speed-up", r.serialCpu, r.cpu, 1.95),
    atMost(
      "ours applyAsync loop / raw 64",
      r.applyAsync,
      r.raw64,
      0.5,
    ),
    atMost(
      "Process start→join / Python fork",
      r.process,
      py?.process_start_join_ms,
      1,
    ),
    atMost(
      "Pool(2) first result / Python fork",
      r.first,
      py?.pool_first_result_ms,
      1,
    ),
    atMost(
      "scoped Process start→join / raw web Worker spawn",
      r.processScoped,
      r.rawSpawn,
    ),
    atMost(
      "scoped daemon start→join / raw web Worker spawn",
      r.processScopedDaemon,
      r.rawSpawn,
      2,
    ),
    atMost("copy / raw copy", r.copy, r.rawCopy),
    atMost(
      "OS-process Process start→join / Python spawn",
      r.processChild,
      py?.process_start_join_spawn_ms,
      1,
    ),
    atMost(
      "OS-process Pool first result / Python spawn",
      r.firstProcess,
      py?.pool_first_result_spawn_ms,
      1,
    ),
    atMost("transfer / raw transfer", r.move, r.rawMove),
    atLeast("Python pickle / ours transfer", py?.payload_16x4mib_ms, r.move, 5),
    [
      "imap RSS growth < 50 MiB",
      `${(r.rssEndMb! - r.rssStartMb!).toFixed(1)} MiB`,
      r.rssEndMb! - r.rssStartMb! < 50,
    ],
  ];
  console.log("\n| target | measured | met |\n| --- | --- | --- |");
  for (const [name, v, ok] of checks) {
    console.log(
      `| ${name} | ${v} | ${
        ok === undefined ? "peer skipped" : ok ? "yes" : "no"
      } |`,
    );
  }

  await Deno.writeTextFile(
    new URL("./results.json", HERE),
    JSON.stringify({ N, REPS, ours: r, python: py, piscina: pis }, null, 2) +
      "\n",
  );
  await Deno.writeTextFile(
    new URL("./results.svg", HERE),
    chart(
      rows.filter((x) => x[0] === "per item"),
      rows.filter((x) => x[0] === "start→join"),
    ),
  );
  // Formatted as `deno fmt --check` (run by CI) wants the committed file.
  await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", new URL("./results.svg", HERE).pathname],
  }).output();
  log("wrote bench/results.json and bench/results.svg");
}

/** One panel of the chart: a title and its bars. */
function panel(
  title: string,
  rows: [string, string, number | undefined, string][],
  top: number,
): { svg: string; height: number } {
  const data = rows.filter((r) => r[2] !== undefined) as [
    string,
    string,
    number,
    string,
  ][];
  const max = Math.max(...data.map((d) => d[2]));
  const h = 28;
  const left = 300;
  const width = 720;
  const bars = data.map(([, name, v, unit], i) => {
    const y = top + 40 + i * h;
    const w = Math.max(1, (v / max) * (width - left - 90));
    const color = name.startsWith("ours")
      ? "#2b7a0b"
      : name.startsWith("raw")
      ? "#888"
      : "#c0392b";
    return `<text x="${left - 8}" y="${y + 14}" text-anchor="end">${
      name.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    }</text>` +
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${
        h - 8
      }" fill="${color}"/>` +
      `<text x="${left + w + 6}" y="${y + 14}">${
        v.toFixed(unit === "µs" ? 2 : 1)
      } ${unit}</text>`;
  }).join("\n");
  return {
    svg: `<text x="10" y="${
      top + 22
    }" font-weight="bold">${title}</text>\n${bars}`,
    height: 50 + data.length * h,
  };
}

function chart(
  perItem: [string, string, number | undefined, string][],
  startUp: [string, string, number | undefined, string][],
): string {
  const a = panel(
    `µs per task, ${
      N.toLocaleString("en")
    } trivial tasks, 2 workers (lower is better)`,
    perItem,
    0,
  );
  const b = panel(
    "ms from Process start to join, no-op target (lower is better)",
    startUp,
    a.height,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="720" height="${
    a.height + b.height + 10
  }" font-family="sans-serif" font-size="13">
${a.svg}
${b.svg}
</svg>
`;
}
