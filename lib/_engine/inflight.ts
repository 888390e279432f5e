// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The one rule for how much work to keep in flight, used by every engine:
// enough units (chunks) that about `targetMs` of work is under way, so that
// short tasks are pipelined past the round trip that would otherwise idle
// a worker, while long ones stay few, so that they spread over the workers.

/** How much work to keep in flight, in units of one chunk. */
export interface InFlightRule {
  /** ms of work to keep in flight. */
  readonly targetMs: number;
  /** Fewest units in flight; also the number before any chunk is timed. */
  readonly min: number;
  /** Most units in flight, however short the chunks. */
  readonly max: number;
}

/** The shortest chunk time assumed, ms: a mean below it (a clock too coarse
 * to time a chunk) counts as this, so the rule never divides by zero. */
export const MIN_CHUNK_MS = 0.001;

/** Chunks in flight to one local Worker: ~2 ms of work, 1 to 256. The head
 * one runs; the others wait in its port, so it never idles for a message. */
export const LOCAL_WINDOW: InFlightRule = Object.freeze({
  targetMs: 2,
  min: 1,
  max: 256,
});

/** Bytes of binary data (copied, not moved) in flight to one local Worker
 * past which it gets no more chunks until it answers. A copy of that size
 * costs far more than a round trip, and copies in flight hold memory that
 * is slow to get: one big copy at a time per worker, as a raw Worker is
 * used, is fastest. A worker with nothing in flight always takes a chunk. */
export const LOCAL_MAX_BYTES = 1 << 20;

/** Chunks of one call packed into one Redis task entry: ~2 ms of work, 1 to
 * 64, so that a chunk costs a fraction of a Redis round trip. */
export const REDIS_PACK: InFlightRule = Object.freeze({
  targetMs: 2,
  min: 1,
  max: 64,
});

/** Chunks a worker machine holds per local process: ~4 ms of work, 2 to
 * 32, enough to cover the Redis round trips between reads. */
export const SERVE_HOLD: InFlightRule = Object.freeze({
  targetMs: 4,
  min: 2,
  max: 32,
});

/**
 * How many units to keep in flight by `rule`, given the mean time a chunk
 * runs (`undefined` before one was timed).
 */
export function inFlight(
  meanMs: number | undefined,
  rule: InFlightRule,
): number {
  if (meanMs === undefined) return rule.min;
  const fit = Math.floor(rule.targetMs / Math.max(meanMs, MIN_CHUNK_MS));
  return Math.max(rule.min, Math.min(rule.max, fit));
}
