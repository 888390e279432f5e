// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

/**
 * An `onProgress` callback that draws a bar with rate and ETA on stderr when
 * stderr is a terminal, and prints nothing otherwise.
 *
 * @param label A label before the bar.
 * @returns A function for the `onProgress` option of a pool call.
 *
 * @example Show progress of a map
 * ```ts no-eval
 * import { Pool, progressBar } from "@parallel/multiprocessing";
 *
 * export function cube(x: number): number {
 *   return x ** 3;
 * }
 *
 * if (import.meta.main) {
 *   await using pool = new Pool();
 *   await pool.map(cube, Array.from({ length: 10_000 }, (_, i) => i), undefined, {
 *     onProgress: progressBar("cubes"),
 *   });
 * }
 * ```
 */
export function progressBar(
  label = "",
): (done: number, total?: number) => void {
  let tty = false;
  try {
    tty = Deno.stderr.isTerminal();
  } catch {
    tty = false;
  }
  if (!tty) return () => {};
  const start = performance.now();
  const encoder = new TextEncoder();
  let last = 0;
  return (done: number, total?: number) => {
    const now = performance.now();
    const finished = total !== undefined && done >= total;
    if (!finished && now - last < 100) return;
    last = now;
    const secs = Math.max((now - start) / 1000, 1e-3);
    const rate = done / secs;
    let line = `${label ? label + " " : ""}`;
    if (total !== undefined && total > 0) {
      const width = 30;
      const filled = Math.round((done / total) * width);
      const eta = rate > 0 ? (total - done) / rate : 0;
      line += `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ` +
        `${done}/${total} ${rate.toFixed(1)}/s ETA ${eta.toFixed(1)}s`;
    } else {
      line += `${done} done ${rate.toFixed(1)}/s`;
    }
    Deno.stderr.writeSync(
      encoder.encode(`\r\x1b[K${line}${finished ? "\n" : ""}`),
    );
  };
}
