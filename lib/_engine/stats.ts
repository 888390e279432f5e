// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// What `Pool.stats()` is made of, for every engine: bounded samples of the
// chunks' run and wait times, and the clock that utilization is measured on.

import type { PoolStats, Timing } from "../pool/types.ts";

/** How many of the latest durations the percentiles are taken over. */
const SAMPLE_WINDOW = 1024;

/** The last `SAMPLE_WINDOW` samples, plus an all-time mean, sum and max. */
export class Samples {
  #ring = new Float64Array(SAMPLE_WINDOW);
  #count = 0;
  #sum = 0;
  #max = 0;

  /** Adds one duration. */
  add(ms: number): void {
    this.#ring[this.#count % SAMPLE_WINDOW] = ms;
    this.#count++;
    this.#sum += ms;
    if (ms > this.#max) this.#max = ms;
  }

  /** The mean of all durations added; undefined before the first. */
  get mean(): number | undefined {
    return this.#count === 0 ? undefined : this.#sum / this.#count;
  }

  /** The total of all durations added. */
  get sum(): number {
    return this.#sum;
  }

  /** The summary. */
  timing(): Timing {
    const n = Math.min(this.#count, SAMPLE_WINDOW);
    if (n === 0) return { mean: 0, p50: 0, p99: 0, max: 0 };
    const sorted = this.#ring.slice(0, n).sort();
    const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))]!;
    return {
      mean: this.#sum / this.#count,
      p50: at(0.5),
      p99: at(0.99),
      max: this.#max,
    };
  }
}

/** What an engine counts itself, for {@linkcode PoolTimings.stats}. */
export interface EngineCounts {
  /** The worker processes: the pool's size, or those seen serving. */
  readonly processes: number;
  /** Workers (or, remotely, chunks) running now. */
  readonly busy: number;
  /** Items not yet sent, of inputs of known length. */
  readonly queued: number;
  /** Items finished. */
  readonly completed: number;
  /** Items that gave no result. */
  readonly failed: number;
}

/** The run and wait times of an engine's chunks, since it started. */
export class PoolTimings {
  readonly #run = new Samples();
  readonly #wait = new Samples();
  readonly #started = performance.now();

  /** Adds a chunk that ran `runMs` in its worker and came back
   * `roundTripMs` after it was sent; the rest of the trip was waiting. */
  add(runMs: number, roundTripMs: number): void {
    this.#run.add(runMs);
    this.#wait.add(Math.max(0, roundTripMs - runMs));
  }

  /** The mean time a chunk ran in its worker, ms; undefined before one
   * came back. */
  get meanRun(): number | undefined {
    return this.#run.mean;
  }

  /** The engine's counts with these times and the utilization so far. */
  stats(counts: EngineCounts): PoolStats {
    const elapsed = performance.now() - this.#started;
    const { processes } = counts;
    return {
      ...counts,
      utilization: elapsed > 0 && processes > 0
        ? Math.min(1, this.#run.sum / (elapsed * processes))
        : 0,
      runTime: this.#run.timing(),
      waitTime: this.#wait.timing(),
    };
  }
}
