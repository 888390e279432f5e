// piscina peer figures for bench/bench.ts.
//
// Usage: node bench/peers/piscina_bench.mjs [N] [REPS]   (defaults 100000 5)
//
// piscina is loaded from bench/.peers/node_modules (installed by bench.ts, or
// `npm install --prefix bench/.peers piscina@4`). Progress goes to stderr; the
// LAST line of stdout is one JSON object:
//   run_us                µs per item, Promise.all of N pool.run(i) (median)
//   cpu_speedup           200 × spin(10): main-thread serial / pool time
//   pool_first_result_ms  new Piscina → first run() result (median of 5)
//   worker_start_join_ms  raw Worker: new Worker(file) → 'exit' (median of 20)
//   version, piscina      process.version, installed piscina version
// or {"skipped": "piscina not installed"} when piscina cannot be loaded.

import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import { cube, spin } from "./piscina_worker.mjs";

const N = Number(process.argv[2] ?? 100_000);
const REPS = Number(process.argv[3] ?? 5);
const PEERS = new URL("../.peers/", import.meta.url);
const WORKER = new URL("./piscina_worker.mjs", import.meta.url);

const log = (msg) => console.error(`[piscina] ${msg}`);

let Piscina;
let piscinaVersion;
try {
  const require = createRequire(PEERS);
  const mod = require("piscina");
  Piscina = mod.Piscina ?? mod.default ?? mod;
  piscinaVersion = Piscina.version ??
    JSON.parse(
      readFileSync(new URL("node_modules/piscina/package.json", PEERS), "utf8"),
    ).version;
} catch (err) {
  log(`cannot load piscina: ${err.message}`);
  console.log(JSON.stringify({ skipped: "piscina not installed" }));
  process.exit(0);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function measure(reps, fn) {
  const out = [];
  for (let i = 0; i < reps; i++) out.push(await fn());
  return median(out);
}

const newPool = () =>
  new Piscina({ filename: WORKER.href, minThreads: 2, maxThreads: 2 });

// ---- workloads ------------------------------------------------------------

async function runPerItem(pool, n) {
  const t0 = performance.now();
  const out = await Promise.all(
    Array.from({ length: n }, (_, i) => pool.run(i, { name: "cube" })),
  );
  const dt = performance.now() - t0;
  if (out.length !== n || out[n - 1] !== cube(n - 1)) throw new Error("bad");
  return (dt * 1000) / n;
}

async function cpuSpeedup(pool) {
  let t0 = performance.now();
  for (let i = 0; i < 200; i++) spin(10);
  const serial = performance.now() - t0;
  t0 = performance.now();
  await Promise.all(
    Array.from({ length: 200 }, () => pool.run(10, { name: "spin" })),
  );
  const parallel = performance.now() - t0;
  return serial / parallel;
}

async function poolFirstResult() {
  const t0 = performance.now();
  const pool = newPool();
  const r = await pool.run(2, { name: "cube" });
  const dt = performance.now() - t0;
  if (r !== 8) throw new Error("bad");
  await pool.destroy();
  return dt;
}

function workerStartJoin() {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const w = new Worker(WORKER);
    w.once("error", reject);
    w.once("exit", (code) => {
      const dt = performance.now() - t0;
      if (code !== 0) reject(new Error(`worker exit ${code}`));
      else resolve(dt);
    });
  });
}

// ---- main -----------------------------------------------------------------

log(`Node ${process.version}, piscina ${piscinaVersion}, N=${N} REPS=${REPS}`);
const r = {};

const pool = newPool();
// Warm-up, not timed.
await Promise.all(
  Array.from({ length: 1000 }, (_, i) => pool.run(i, { name: "cube" })),
);
log("run() per item…");
r.run_us = await measure(REPS, () => runPerItem(pool, N));
log("cpu speed-up (200 × spin(10))…");
r.cpu_speedup = await measure(REPS, () => cpuSpeedup(pool));
await pool.destroy();

log("new Piscina → first result…");
r.pool_first_result_ms = await measure(5, poolFirstResult);
log("raw Worker start→exit…");
r.worker_start_join_ms = await measure(20, workerStartJoin);

for (const k of Object.keys(r)) r[k] = Math.round(r[k] * 1000) / 1000;
r.version = process.version;
r.piscina = piscinaVersion;
log(JSON.stringify(r));
console.log(JSON.stringify(r));
