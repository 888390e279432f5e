// Tasks for piscina_bench.mjs. Piscina calls the named export given as
// `{ name }` (the default export is `cube`). The raw-Worker start→join figure
// also loads this file: with no messages it just evaluates and exits.

/** x cubed: the trivial task. */
export function cube(x) {
  return x * x * x;
}

/** Busy-waits `ms` milliseconds: the CPU-bound task. */
export function spin(ms) {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) n++;
  return n;
}

export default cube;
