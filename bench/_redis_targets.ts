// Targets of bench/redis_bench.ts. Local pool workers and the Redis worker
// command import this module: nothing runs at its top level.

/** How long {@linkcode busy} busy-waits, in milliseconds. */
export const BUSY_MS = 0.05;

/**
 * The trivial task: `x` cubed.
 *
 * @param x A number.
 * @returns `x ** 3`.
 *
 * @example
 * ```ts
 * import { cube } from "./_redis_targets.ts";
 *
 * console.log(cube(3)); // 27
 * ```
 */
export function cube(x: number): number {
  return x ** 3;
}

/**
 * The small CPU-bound task: busy-waits {@linkcode BUSY_MS} ms (~0.05 ms),
 * then returns `2x + 1`, so that results can be checked.
 *
 * @param x A number.
 * @returns `2 * x + 1`.
 *
 * @example
 * ```ts
 * import { busy } from "./_redis_targets.ts";
 *
 * console.log(busy(3)); // 7
 * ```
 */
export function busy(x: number): number {
  const end = performance.now() + BUSY_MS;
  while (performance.now() < end) {
    // spin
  }
  return 2 * x + 1;
}
