// Speed of the communication and shared-state classes, against Python's
// multiprocessing where it has the same thing, in one run:
//
//   deno run -A bench/shared_bench.ts     (SHARED_BENCH_N=100000 REPS=3)
//
// - Queue throughput (items/s), a producer process to a consumer process,
//   numbers and small objects, against multiprocessing.Queue;
// - Lock acquire/release pairs per second, in one process and with two
//   processes on one lock, against multiprocessing.Lock;
// - the sum of a 10M-element float64 array in a pool worker: a SharedArray
//   read in place against the array copied to the worker;
// - one element read or written, in ns: `arr[i]` (indexing), `get(i)` and
//   `set(i, v)`, `Atomics` and plain accesses on `asTypedArray()`, against
//   Python's `arr[i]` on a synchronized `Array` and on one with lock=False.
//
// Python needs `python3` (skipped cleanly when missing). Prints a table and
// the ratios (ours / Python; for the array, copy time / shared time).

import { runPeer } from "./_peer.ts";
import {
  Barrier,
  Event,
  Lock,
  Pool,
  Process,
  Queue,
  SharedArray,
} from "../mod.ts";
import {
  consumer,
  lockLoop,
  producer,
  sumCopied,
  sumShared,
} from "./_shared_targets.ts";

const N = Number(Deno.env.get("SHARED_BENCH_N") ?? 100_000);
const REPS = Number(Deno.env.get("SHARED_BENCH_REPS") ?? 3);
const ARRAY_LENGTH = 10_000_000;
/** Elements of the array the access loops cycle through: a power of 2, so
 * that `k & ELEMENT_MASK` picks the index. */
const ELEMENTS = 1024;
const ELEMENT_MASK = ELEMENTS - 1;
/** Accesses per timed loop. */
const ACCESSES = N * 50;
const module = new URL("./_shared_targets.ts", import.meta.url);

function log(msg: string): void {
  console.error(`[shared-bench] ${msg}`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function repeat(fn: () => Promise<number>): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < REPS; i++) out.push(await fn());
  return median(out);
}

/** Items per second from a producer process to a consumer process. */
async function queueRate(objects: boolean): Promise<number> {
  const queue = new Queue<unknown>();
  const start = new Barrier(3);
  const done = new Event();
  const ps = [
    new Process({ target: producer, args: [queue, N, objects, start], module }),
    new Process({ target: consumer, args: [queue, N, start, done], module }),
  ];
  for (const p of ps) p.start();
  await start.wait();
  const t0 = performance.now();
  await done.wait();
  const ms = performance.now() - t0;
  for (const p of ps) await p.join();
  return N / ms * 1000;
}

/** Acquire/release pairs per second in this process. */
async function lockRate(): Promise<number> {
  const lock = new Lock();
  const n = N * 10;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await lock.acquire();
    lock.release();
  }
  return n / (performance.now() - t0) * 1000;
}

/** Pairs per second, two processes on one lock. */
async function lockContendedRate(): Promise<number> {
  const lock = new Lock();
  const start = new Barrier(3);
  const ps = [1, 2].map(() =>
    new Process({ target: lockLoop, args: [lock, N, start], module })
  );
  for (const p of ps) p.start();
  await start.wait();
  const t0 = performance.now();
  for (const p of ps) await p.join();
  return 2 * N / (performance.now() - t0) * 1000;
}

/** ms to sum the array in a warm pool worker: shared, and copied. */
async function arraySums(): Promise<{ shared: number; copied: number }> {
  const arr = new SharedArray("d", ARRAY_LENGTH, { lock: false });
  const plain = new Float64Array(ARRAY_LENGTH);
  const a = arr.asTypedArray();
  for (let i = 0; i < ARRAY_LENGTH; i++) a[i] = plain[i] = i % 1000;
  await using pool = new Pool({ processes: 1, module });
  const expected = await pool.apply(sumShared, [arr]); // warm up
  if (await pool.apply(sumCopied, [plain]) !== expected) {
    throw new Error("the sums differ");
  }
  const shared = await repeat(async () => {
    const t0 = performance.now();
    await pool.apply(sumShared, [arr]);
    return performance.now() - t0;
  });
  const copied = await repeat(async () => {
    const t0 = performance.now();
    await pool.apply(sumCopied, [plain]);
    return performance.now() - t0;
  });
  return { shared, copied };
}

/** ns per call of `loop(n)`'s body: the best of REPS timed loops, after
 * one to warm up (the loops return a sum, so that none is optimized away). */
function nsPerAccess(loop: (n: number) => unknown): number {
  loop(ACCESSES / 10);
  const times: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    loop(ACCESSES);
    times.push((performance.now() - t0) * 1e6 / ACCESSES);
  }
  return Math.min(...times);
}

/** ns to read and to write one element, each way. */
function elementAccess(): Record<string, [number, number]> {
  const arr = new SharedArray("i", ELEMENTS);
  const a = arr.asTypedArray();
  return {
    indexed: [
      nsPerAccess((n) => {
        let s = 0;
        for (let k = 0; k < n; k++) s += arr[k & ELEMENT_MASK]!;
        return s;
      }),
      nsPerAccess((n) => {
        for (let k = 0; k < n; k++) arr[k & ELEMENT_MASK] = k;
      }),
    ],
    method: [
      nsPerAccess((n) => {
        let s = 0;
        for (let k = 0; k < n; k++) s += arr.get(k & ELEMENT_MASK);
        return s;
      }),
      nsPerAccess((n) => {
        for (let k = 0; k < n; k++) arr.set(k & ELEMENT_MASK, k);
      }),
    ],
    atomics: [
      nsPerAccess((n) => {
        let s = 0;
        for (let k = 0; k < n; k++) s += Atomics.load(a, k & ELEMENT_MASK);
        return s;
      }),
      nsPerAccess((n) => {
        for (let k = 0; k < n; k++) Atomics.store(a, k & ELEMENT_MASK, k);
      }),
    ],
    plain: [
      nsPerAccess((n) => {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[k & ELEMENT_MASK]!;
        return s;
      }),
      nsPerAccess((n) => {
        for (let k = 0; k < n; k++) a[k & ELEMENT_MASK] = k;
      }),
    ],
  };
}

async function python(): Promise<Record<string, number> | null> {
  const script = new URL("./peers/python_shared.py", import.meta.url);
  return await runPeer(
    "python3",
    [script.pathname, String(N), String(REPS)],
    log,
  );
}

function fmt(x: number | undefined): string {
  if (x === undefined) return "—";
  return x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(1);
}

function ratio(ours: number, theirs: number | undefined): string {
  return theirs === undefined ? "—" : `${(ours / theirs).toFixed(2)}×`;
}

if (import.meta.main) {
  log(`Queue, ${N} numbers`);
  const qInt = await repeat(() => queueRate(false));
  log(`Queue, ${N} small objects`);
  const qObj = await repeat(() => queueRate(true));
  log(`Lock, ${N * 10} pairs`);
  const lock = await repeat(lockRate);
  log(`Lock, 2 processes × ${N} pairs`);
  const lock2 = await repeat(lockContendedRate);
  log(`array sum, ${ARRAY_LENGTH} float64`);
  const sums = await arraySums();
  log(`element access, ${ACCESSES} per loop`);
  const access = elementAccess();
  log("python3 multiprocessing…");
  const py = await python();

  const rows: [string, number, number | undefined, string][] = [
    ["Queue items/s (numbers)", qInt, py?.queue_int_items_s, ""],
    ["Queue items/s (small objects)", qObj, py?.queue_obj_items_s, ""],
    ["Lock acquire+release/s (1 process)", lock, py?.lock_pairs_s, ""],
    [
      "Lock acquire+release/s (2 processes)",
      lock2,
      py?.lock_contended_pairs_s,
      "",
    ],
  ];
  console.log(
    `| measure | ours | Python ${py?.version ?? "(skipped)"} | ours / Python |`,
  );
  console.log("| --- | ---: | ---: | ---: |");
  for (const [name, ours, theirs] of rows) {
    console.log(
      `| ${name} | ${fmt(ours)} | ${fmt(theirs)} | ${ratio(ours, theirs)} |`,
    );
  }
  console.log();
  console.log("| array sum in a pool worker, 10M float64 | ms |");
  console.log("| --- | ---: |");
  console.log(`| SharedArray, read in place | ${fmt(sums.shared)} |`);
  console.log(`| Float64Array, copied to the worker | ${fmt(sums.copied)} |`);
  console.log(`| copy / shared | ${(sums.copied / sums.shared).toFixed(2)}× |`);
  console.log();
  const accessRows: [string, number | undefined, number | undefined][] = [
    ["`arr[i]`, `arr[i] = v` (SharedArray indexing)", ...access.indexed!],
    ["`arr.get(i)`, `arr.set(i, v)`", ...access.method!],
    ["`Atomics.load`, `Atomics.store` on `asTypedArray()`", ...access.atomics!],
    ["`a[i]`, `a[i] = v` on `asTypedArray()` (plain)", ...access.plain!],
    [
      "Python `arr[i]`, `arr[i] = v` (synchronized `Array`)",
      py?.array_read_ns,
      py?.array_write_ns,
    ],
    [
      "Python `arr[i]`, `arr[i] = v` (`Array(lock=False)`)",
      py?.raw_array_read_ns,
      py?.raw_array_write_ns,
    ],
  ];
  console.log(`| one element of ${ELEMENTS} int32, ns | read | write |`);
  console.log("| --- | ---: | ---: |");
  for (const [name, read, write] of accessRows) {
    console.log(`| ${name} | ${fmt(read)} | ${fmt(write)} |`);
  }
}
