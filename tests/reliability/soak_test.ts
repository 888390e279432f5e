// Soak: imap over 1,000,000 items keeps memory flat; many Process
// start/join cycles leak no workers and no ops.
import assert from "node:assert/strict";
import { activeChildren, Process } from "@parallel/multiprocessing";
import { noop } from "./fixtures/targets.ts";
import { runDeno } from "../fixtures/harness.ts";

const module = new URL("./fixtures/targets.ts", import.meta.url);
Deno.test("imap over 1,000,000 generated items keeps memory flat", async () => {
  // In a subprocess with --expose-gc: RSS and heap are measured after a full
  // collection, so that lazy GC (tens of MiB) is not mistaken for growth.
  const N = 1_000_000;
  const ran = await runDeno(
    [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      "tests/reliability/fixtures/imap_soak.ts",
      String(N),
      "1",
    ],
    { timeout: 90_000 },
  );
  assert.equal(ran.code, 0, ran.stderr.slice(-1500));
  const r = JSON.parse(ran.stdout.trim().split("\n").at(-1)!) as {
    n: number;
    sum: number;
    order: boolean;
    ms: number;
    marks: Array<{ rss: number; heap: number }>;
  };
  assert.equal(r.n, N);
  assert.equal(r.sum, (N * (N + 1)) / 2);
  assert.ok(r.order, "results out of order");
  const first = r.marks[0]!;
  const last = r.marks.at(-1)!;
  const rss = last.rss - first.rss;
  const heap = last.heap - first.heap;
  console.log(
    `imap ${N} items (chunksize 1) in ${Math.round(r.ms)} ms; after GC, RSS ${
      r.marks.map((m) => Math.round(m.rss))
    } MiB, heap ${r.marks.map((m) => Math.round(m.heap))} MiB every 100k`,
  );
  assert.ok(heap < 16, `the main heap grew ${heap.toFixed(1)} MiB`);
  // Measured: ~55-60 MiB in steps that level off (worker heaps, which this
  // gc() does not reach); the main heap stays at ~5 MiB.
  assert.ok(rss < 96, `RSS grew ${rss.toFixed(1)} MiB`);
});

Deno.test("Process start/join cycles leak no workers and no ops", async () => {
  // 1,000 cycles take ~2 min on 2 cores (~117 ms each, 4 at a time): 200
  // keep the suite short; raise CYCLES for a longer soak.
  const CYCLES = 200;
  const PARALLEL = 4;
  const t0 = performance.now();
  let done = 0;
  for (let i = 0; i < CYCLES; i += PARALLEL) {
    const batch = Array.from(
      { length: Math.min(PARALLEL, CYCLES - i) },
      () => new Process({ target: noop, module }),
    );
    for (const p of batch) p.start();
    for (const p of batch) {
      await p.join(10_000);
      if (p.isAlive()) {
        p.kill();
        assert.fail(`${p.name} still running after 10 s`);
      }
      assert.equal(p.exitCode, 0, `${p.name}: ${Deno.inspect(p.error)}`);
      p.close();
      done++;
    }
    if (performance.now() - t0 > 120_000) break;
  }
  const ms = performance.now() - t0;
  console.log(
    `process cycles: ${done} in ${Math.round(ms)} ms (${
      (ms / done).toFixed(1)
    } ms per cycle, ${PARALLEL} at a time)`,
  );
  assert.equal(done, CYCLES, `only ${done} cycles in ${Math.round(ms)} ms`);
  assert.deepEqual(activeChildren(), []);
});
