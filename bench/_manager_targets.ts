// Targets of bench/manager_bench.ts: they run in a worker and time calls
// on a manager's dict, one at a time, as the main process does.

import type { DictProxy } from "../mod.ts";

/** Calls before timing: enough for V8 to finish compiling the path of a
 * call (its compiler threads take CPU from the caller and the server while
 * it works), so that the figures are the steady state, as Python's are. */
const WARMUP = 5_000;

/** µs per call of `n` sequential set()s, then `n` get()s, on `d`. */
export async function time(
  d: DictProxy<string, number>,
  n: number,
): Promise<{ set: number; get: number }> {
  for (let i = 0; i < WARMUP; i++) await d.set("k", i);
  let t0 = performance.now();
  for (let i = 0; i < n; i++) await d.set("k", i);
  const set = (performance.now() - t0) / n * 1000;
  t0 = performance.now();
  for (let i = 0; i < n; i++) await d.get("k");
  const get = (performance.now() - t0) / n * 1000;
  return { set, get };
}

/** `time()` in a Process, which reports through the dict itself. */
export async function timeInProcess(
  d: DictProxy<string, number>,
  n: number,
): Promise<void> {
  const { set, get } = await time(d, n);
  await d.set("set", set);
  await d.set("get", get);
}
