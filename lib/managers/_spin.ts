// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Bounded spinning that turns itself off when it does not pay. Imported by
// the client (spinning for a reply) and the server (spinning for the next
// request).
//
// Spinning answers in a few µs when both threads have a CPU; a wake-up
// through Atomics.wait/notify costs 10-25 µs here, two per round trip. But
// when the two threads share one CPU (more runnable threads than CPUs), a
// spinning thread keeps the CPU from the very thread it waits for: every
// spin then runs out, and a round trip costs two spins and two wake-ups.
// So each Spinner keeps a moving average of how often its spins caught the
// change they waited for, and spins only while most do (SPIN_WORTH);
// otherwise it tries one spin every PROBE_MS, and spins again as soon as
// one catches. A spin that finds its thread was descheduled (the clock
// jumped by PREEMPTED_MS between two looks) stops at once and counts as a
// miss. A spin never lasts longer than the `ms` it is given.
//
// Imports nothing.

/** How long (ms) a thread spins for what it waits for before it sleeps:
 * a client for its reply, the server for its next request. */
export const SPIN_MS = 0.05;
/** A gap (ms) between two looks at the clock that means the spinning
 * thread was descheduled. */
const PREEMPTED_MS = 0.2;
/** How often (spins) a spin looks at the clock. */
const SPINS_PER_CLOCK = 32;
/** The share of spins that must catch the change for a thread to go on
 * spinning. */
const SPIN_WORTH = 0.5;
/** The weight of the last spin in the moving average of catches. */
const RATE_WEIGHT = 0.1;
/** How often (ms) a thread that stopped spinning tries a spin again. */
const PROBE_MS = 10;
/** The moving average a probe that caught the change sets: spinning goes
 * on until two spins in a row miss. */
const RESUME_RATE = SPIN_WORTH + RATE_WEIGHT;

/** One thread's spinning on one kind of wait. */
export class Spinner {
  /** The share of recent spins that caught the change (a moving average). */
  #rate = 1;
  #probedAt = 0;

  /** Whether the next wait spins (rather than only probing every
   * PROBE_MS): most recent spins caught their change. */
  get spinning(): boolean {
    return this.#rate >= SPIN_WORTH;
  }

  /**
   * Spins while `keep(word[index])`, for at most `ms`, when spinning pays.
   * Returns the word's value at the end (one that `keep` still accepts when
   * the spin ran out, or did not run).
   */
  while(
    word: Int32Array,
    index: number,
    keep: (value: number) => boolean,
    ms: number,
  ): number {
    let seen = Atomics.load(word, index);
    if (!keep(seen) || ms <= 0) return seen;
    let now = performance.now();
    const probe = !this.spinning;
    if (probe) {
      if (now - this.#probedAt < PROBE_MS) return seen;
      this.#probedAt = now;
    }
    const end = now + ms;
    for (let i = 1;; i++) {
      Atomics.pause();
      seen = Atomics.load(word, index);
      if (!keep(seen)) {
        this.#count(true);
        // A probe that caught: spinning pays again (two misses in a row
        // stop it again).
        if (probe) this.#rate = Math.max(this.#rate, RESUME_RATE);
        return seen;
      }
      if (i % SPINS_PER_CLOCK !== 0) continue;
      const before = now;
      now = performance.now();
      if (now - before > PREEMPTED_MS || now >= end) {
        this.#count(false);
        return Atomics.load(word, index);
      }
    }
  }

  #count(caught: boolean): void {
    this.#rate = this.#rate * (1 - RATE_WEIGHT) + (caught ? RATE_WEIGHT : 0);
  }
}
