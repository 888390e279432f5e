// Targets shared by the benchmarks.

/** x cubed: the trivial task. */
export function cube(x: number): number {
  return x * x * x;
}

/** Busy-waits `ms` milliseconds: the CPU-bound task. */
export function spin(ms: number): number {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) n++;
  return n;
}

/** Returns the byte length of a buffer. */
export function size(data: Uint8Array): number {
  return data.byteLength;
}

/** Does nothing. */
export function noop(): void {}
