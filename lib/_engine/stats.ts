// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Bounded samples for the pool's run and wait times.

/** Summary of a set of durations, in ms. */
export interface Timing {
  /** Mean duration. */
  readonly mean: number;
  /** Median duration. */
  readonly p50: number;
  /** 99th percentile. */
  readonly p99: number;
  /** Longest duration. */
  readonly max: number;
}

const SIZE = 1024;

/** The last 1024 samples, plus an all-time mean and max. */
export class Samples {
  #ring = new Float64Array(SIZE);
  #count = 0;
  #sum = 0;
  #max = 0;

  /** Adds one duration. */
  add(ms: number): void {
    this.#ring[this.#count % SIZE] = ms;
    this.#count++;
    this.#sum += ms;
    if (ms > this.#max) this.#max = ms;
  }

  /** The mean of all durations added. */
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  /** The total of all durations added. */
  get sum(): number {
    return this.#sum;
  }

  /** The summary. */
  timing(): Timing {
    const n = Math.min(this.#count, SIZE);
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
