// The bounded spinning of the manager's client and server (lib/managers/_spin.ts):
// it stops when its spins keep running out (the thread it waits for has no
// CPU), and starts again as soon as a probe catches the change it waits for.
import assert from "node:assert/strict";
import { Spinner } from "../../lib/managers/_spin.ts";
import { until } from "../fixtures/harness.ts";

/** A spin budget (ms) that runs out at once. */
const SHORT_MS = 0.01;

function word(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** A `keep` that holds `n` looks, then lets go; counts its calls. */
function flipsAfter(n: number): { keep: () => boolean; calls: number } {
  const state = {
    calls: 0,
    keep: () => ++state.calls <= n,
  };
  return state;
}

Deno.test("a Spinner spins until the word changes, and returns its value", () => {
  const spinner = new Spinner();
  const w = word();
  Atomics.store(w, 0, 7);
  const k = flipsAfter(5);
  assert.equal(spinner.while(w, 0, k.keep, 1_000), 7);
  assert.equal(k.calls, 6);
  assert.equal(spinner.spinning, true);
});

Deno.test("a Spinner does not spin when the word already changed, or for 0 ms", () => {
  const spinner = new Spinner();
  const w = word();
  const k = flipsAfter(0);
  spinner.while(w, 0, k.keep, 1_000);
  assert.equal(k.calls, 1);
  const never = flipsAfter(Infinity);
  spinner.while(w, 0, never.keep, 0);
  assert.equal(never.calls, 1);
  assert.equal(spinner.spinning, true);
});

Deno.test("a Spinner whose spins run out stops spinning; a probe that catches starts it again", async () => {
  const spinner = new Spinner();
  const w = word();
  let misses = 0;
  while (spinner.spinning) {
    spinner.while(w, 0, () => true, SHORT_MS);
    misses++;
    assert.ok(misses <= 10, "spinning goes on after 10 misses in a row");
  }
  // It now only probes, once in a while: a call right after another looks
  // once and returns.
  await until(() => {
    spinner.while(w, 0, () => true, SHORT_MS);
    const k = flipsAfter(Infinity);
    spinner.while(w, 0, k.keep, SHORT_MS);
    return k.calls === 1;
  }, { what: "a call that does not spin" });
  assert.equal(spinner.spinning, false);
  // A probe that catches the change: spinning pays again.
  await until(() => {
    const k = flipsAfter(3);
    spinner.while(w, 0, k.keep, 1_000);
    return k.calls > 1;
  }, { what: "a probe" });
  assert.equal(spinner.spinning, true);
  // Two misses in a row stop it again.
  spinner.while(w, 0, () => true, SHORT_MS);
  spinner.while(w, 0, () => true, SHORT_MS);
  assert.equal(spinner.spinning, false);
});
