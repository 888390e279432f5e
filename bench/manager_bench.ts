// Latency of a Manager's dict, against Python's multiprocessing.Manager in
// the same run:
//
//   deno run -A bench/manager_bench.ts     (MANAGER_BENCH_N=20000 REPS=3)
//
// One call at a time: N sequential `await d.set("k", i)`, then N sequential
// `await d.get("k")`, from
// - the main thread (the program that made the manager);
// - a Process with isolation "thread" (a worker thread);
// - a Process with isolation "process" (a child OS process), when the
//   process engine relays manager requests (else reported as skipped);
// against Python 3's Manager().dict() from the main process and from a
// child Process (bench/peers/python_manager.py; skipped cleanly when
// python3 is missing). Prints a table: µs per call, and how many times
// faster than Python. Then the raw floors of the same run
// (bench/_manager_floors.ts): the bare mechanisms a call rides on, or could,
// with no manager code, so that each figure reads against what the machine
// allows at the time (set MANAGER_BENCH_FLOORS=0 to skip them).

import { runPeer } from "./_peer.ts";
import { Manager, Process } from "../mod.ts";
import { time, timeInProcess } from "./_manager_targets.ts";
import {
  atomicsFloor,
  fifoFloor,
  ipcFloor,
  mmapFloor,
} from "./_manager_floors.ts";

const N = Number(Deno.env.get("MANAGER_BENCH_N") ?? 20_000);
const REPS = Number(Deno.env.get("MANAGER_BENCH_REPS") ?? 3);
const FLOORS = Deno.env.get("MANAGER_BENCH_FLOORS") !== "0";
const module = new URL("./_manager_targets.ts", import.meta.url);

/** Speed-ups the project aims for, against Python (see docs/shared_state.md). */
const TARGETS = { thread: 5, process: 2 } as const;

function log(msg: string): void {
  console.error(`[manager-bench] ${msg}`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Latency {
  set: number;
  get: number;
}

async function medianOf(fn: () => Promise<Latency>): Promise<Latency> {
  const runs: Latency[] = [];
  for (let i = 0; i < REPS; i++) runs.push(await fn());
  return {
    set: median(runs.map((r) => r.set)),
    get: median(runs.map((r) => r.get)),
  };
}

/** µs per call from a Process of `isolation`, or null when it fails. */
async function inProcess(
  isolation: "thread" | "process",
): Promise<Latency | null> {
  await using manager = new Manager();
  const d = manager.dict<string, number>();
  try {
    return await medianOf(async () => {
      const p = new Process({
        target: timeInProcess,
        args: [d, N],
        module,
        isolation,
      });
      p.start();
      await p.join();
      if (p.exitCode !== 0) {
        throw p.error ?? new Error(`exit code ${p.exitCode}`);
      }
      return { set: (await d.get("set"))!, get: (await d.get("get"))! };
    });
  } catch (err) {
    log(`isolation "${isolation}" skipped: ${(err as Error).message}`);
    return null;
  }
}

/** The median of REPS runs of a raw floor (null when it cannot run). */
async function floorOf(
  name: string,
  fn: () => Promise<number | null>,
): Promise<[string, number | null]> {
  const runs: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const us = await fn().catch((err) => {
      log(`floor "${name}" skipped: ${(err as Error).message}`);
      return null;
    });
    if (us === null) return [name, null];
    runs.push(us);
  }
  log(`floor "${name}": ${runs.map((x) => x.toFixed(1)).join(", ")} µs`);
  return [name, median(runs)];
}

async function floors(): Promise<[string, number | null][]> {
  return [
    await floorOf(
      "thread ↔ thread, Atomics, spinning",
      () => atomicsFloor(N, true),
    ),
    await floorOf(
      "thread ↔ thread, Atomics.wait/notify",
      () => atomicsFloor(N, false),
    ),
    await floorOf("child process ↔ parent, IPC (fork)", () => ipcFloor(N)),
    await floorOf(
      "child process ↔ parent thread, named pipes",
      () => fifoFloor(N),
    ),
    await floorOf(
      "child process ↔ parent thread, FFI mmap, spinning",
      () => mmapFloor(N, true),
    ),
    await floorOf(
      "child process ↔ parent thread, FFI mmap, futex",
      () => mmapFloor(N, false),
    ),
  ];
}

async function python(): Promise<Record<string, number> | null> {
  const script = new URL("./peers/python_manager.py", import.meta.url);
  return await runPeer(
    "python3",
    [script.pathname, String(N), String(REPS)],
    log,
  );
}

function fmt(x: number | undefined | null): string {
  return x === undefined || x === null ? "—" : x.toFixed(1);
}

function speedup(ours: number | undefined, theirs: number | undefined) {
  return ours === undefined || theirs === undefined
    ? "—"
    : `${(theirs / ours).toFixed(1)}×`;
}

if (import.meta.main) {
  log(`main thread, ${N} calls × ${REPS}`);
  const main = await (async () => {
    await using manager = new Manager();
    const d = manager.dict<string, number>();
    return await medianOf(() => time(d, N));
  })();
  log(`Process, isolation "thread"`);
  const thread = await inProcess("thread");
  log(`Process, isolation "process"`);
  const child = await inProcess("process");
  log("python3 multiprocessing.Manager…");
  const py = await python();
  log("raw floors…");
  const raw = FLOORS ? await floors() : [];

  const rows: [string, number | undefined, number | undefined, string][] = [
    ["main thread: set", main.set, py?.main_set_us, ""],
    ["main thread: get", main.get, py?.main_get_us, ""],
    [
      'Process "thread": set',
      thread?.set,
      py?.child_set_us,
      `≥ ${TARGETS.thread}×`,
    ],
    [
      'Process "thread": get',
      thread?.get,
      py?.child_get_us,
      `≥ ${TARGETS.thread}×`,
    ],
    [
      'Process "process": set',
      child?.set,
      py?.child_set_us,
      `≥ ${TARGETS.process}×`,
    ],
    [
      'Process "process": get',
      child?.get,
      py?.child_get_us,
      `≥ ${TARGETS.process}×`,
    ],
  ];
  console.log(
    `| dict call, one at a time | ours µs | Python ${
      py?.version ?? "(skipped)"
    } µs | speed-up | target |`,
  );
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const [name, ours, theirs, target] of rows) {
    console.log(
      `| ${name} | ${fmt(ours)} | ${fmt(theirs)} | ${
        speedup(ours, theirs)
      } | ${target} |`,
    );
  }
  console.log(
    `\nPython's main-process and child figures compare with ours from the main thread and from a Process; N=${N}, median of ${REPS}.`,
  );
  if (raw.length > 0) {
    console.log(
      "\n| raw floor, one round trip at a time, no manager code | µs |",
    );
    console.log("| --- | ---: |");
    for (const [name, us] of raw) console.log(`| ${name} | ${fmt(us)} |`);
  }
}
