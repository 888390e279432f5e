// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Bounded spinning that turns itself off while the CPUs are busy. Imported
// by the client and the server.
//
// Spinning for a reply (or for the next request) answers in a few µs when
// both threads have a CPU; a wake-up through Atomics.wait/notify costs tens
// of µs. But on a machine with more runnable threads than CPUs, a spinning
// thread keeps its CPU from the very thread it waits for, and the kernel
// favours threads that slept: there, waiting at once is faster. A spin that
// finds it was descheduled (the clock jumped by PREEMPTED_MS between two
// looks) stops, and the thread does not spin again for BACKOFF_MS.
//
// Imports nothing.

/** A gap (ms) between two looks at the clock that means the spinning
 * thread was descheduled. */
const PREEMPTED_MS = 0.2;
/** How long (ms) a thread does not spin after it was descheduled. */
const BACKOFF_MS = 50;
/** How often (spins) a spin looks at the clock. */
const SPINS_PER_CLOCK = 32;

/** One thread's spinning. */
export class Spinner {
  /** performance.now() until which this thread does not spin. */
  #offUntil = 0;

  /**
   * Spins while `keep(word[index])`, for at most `ms`. Returns the word's
   * value at the end (one that `keep` still accepts when the spin ran out,
   * or did not run).
   */
  while(
    word: Int32Array,
    index: number,
    keep: (value: number) => boolean,
    ms: number,
  ): number {
    let now = performance.now();
    if (ms <= 0 || now < this.#offUntil) return Atomics.load(word, index);
    const end = now + ms;
    for (let i = 1;; i++) {
      const seen = Atomics.load(word, index);
      if (!keep(seen)) return seen;
      Atomics.pause();
      if (i % SPINS_PER_CLOCK !== 0) continue;
      const before = now;
      now = performance.now();
      if (now - before > PREEMPTED_MS) {
        this.#offUntil = now + BACKOFF_MS;
        return Atomics.load(word, index);
      }
      if (now >= end) return Atomics.load(word, index);
    }
  }
}
