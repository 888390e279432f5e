// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { registerShareable } from "../_shared/shareable.ts";
import { messages } from "../_messages.ts";
import { deadlineOf, remaining, waitWord } from "../_shared/wait.ts";
import { BrokenBarrierError } from "../errors.ts";

// One word packs the state: arrived count (bits 0-15), broken (bit 16) and
// generation (bits 17-30), so that every change is one compare-and-swap.
const WORD = 0;
const PARTIES = 1;
/** The generation that `reset()` started (waiters of the one before it
 * are broken), plus one; 0 for none. */
const RESET = 2;
const COUNT_MASK = 0xffff;
const BROKEN = 0x10000;
const GEN_SHIFT = 17;
const GEN_MASK = 0x3fff;

function gen(w: number): number {
  return (w >>> GEN_SHIFT) & GEN_MASK;
}

function nextGen(w: number): number {
  return ((gen(w) + 1) & GEN_MASK) << GEN_SHIFT;
}

const actions = new WeakMap<Barrier, () => unknown>();

/**
 * A meeting point for a fixed number of parties, as Python's
 * `multiprocessing.Barrier`: each party's `wait()` resolves once `parties`
 * of them are waiting; then the barrier is ready for the next round. Pass it
 * in `Process` args or pool task arguments.
 *
 * `wait()` resolves to an index, `0` to `parties - 1`, different for each
 * party of a round (`0` for the first to arrive), so that exactly one can
 * be picked to do something (`if (await barrier.wait() === 0) …`).
 *
 * `action`, a function, cannot cross to other processes (functions cannot
 * be cloned): it runs when the process that made the barrier is the last
 * to arrive, before any party is released; elsewhere the round passes
 * without it. Pick one party by index for work that must run each round.
 *
 * A broken barrier (a party's `wait()` timed out, `abort()`, `reset()` while
 * parties waited, or the action threw) rejects every waiting and later
 * `wait()` with {@linkcode BrokenBarrierError} until `reset()`. A party
 * that ends without arriving is not noticed (as in Python): give `wait()` a
 * timeout.
 *
 * One shared word changed by compare-and-swap (lock-free); waiting is an
 * `Atomics.waitAsync` on it. At most 65,535 parties.
 *
 * @example Two parties meet
 * ```ts
 * import { Barrier } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const barrier = new Barrier(2);
 * const indices = await Promise.all([barrier.wait(1000), barrier.wait(1000)]);
 * assert.deepEqual(indices.sort(), [0, 1]);
 * assert.equal(barrier.nWaiting, 0);
 * ```
 */
export class Barrier {
  /**
   * The class name, for workers to restore the prototype.
   *
   * @ignore
   */
  readonly $mp: string = "Barrier";
  /**
   * The shared words.
   *
   * @ignore
   */
  readonly $state: Int32Array;

  /**
   * Makes a barrier.
   *
   * @param parties How many parties each round waits for.
   * @param action Called in this process by the last party to arrive, when
   * that party runs in this process; may be async.
   * @throws {RangeError} when `parties` is not an integer from 1 to 65,535.
   * @throws {TypeError} when `action` is not a function.
   */
  constructor(parties: number, action?: () => unknown) {
    if (!Number.isInteger(parties) || parties < 1 || parties > COUNT_MASK) {
      throw new RangeError(
        messages.badOption(
          '"parties"',
          `an integer from 1 to ${COUNT_MASK}`,
          parties,
        ),
      );
    }
    if (action !== undefined && typeof action !== "function") {
      throw new TypeError(
        messages.badOption('"action"', "a function", action),
      );
    }
    this.$state = new Int32Array(new SharedArrayBuffer(12));
    this.$state[PARTIES] = parties;
    if (action !== undefined) actions.set(this, action);
  }

  /** How many parties each round waits for. */
  get parties(): number {
    return this.$state[PARTIES]!;
  }

  /** How many parties wait now (a moment's answer). */
  get nWaiting(): number {
    const w = Atomics.load(this.$state, WORD);
    if ((w & BROKEN) !== 0) return 0;
    return Math.min(w & COUNT_MASK, this.parties - 1);
  }

  /** Whether the barrier is broken. */
  get broken(): boolean {
    return (Atomics.load(this.$state, WORD) & BROKEN) !== 0;
  }

  /**
   * Arrives, and waits until all parties have.
   *
   * @param timeout The most milliseconds to wait; when it runs out, the
   * barrier breaks. Default no limit.
   * @returns A promise of this party's index, `0` to `parties - 1`.
   * @throws {BrokenBarrierError} (as a rejection) when the barrier is or
   * becomes broken, or `timeout` ran out.
   */
  async wait(timeout?: number): Promise<number> {
    const s = this.$state;
    const parties = s[PARTIES]!;
    const deadline = deadlineOf(timeout, "wait() timeout");
    // Arrive: count one more in this generation.
    let w: number;
    for (;;) {
      w = Atomics.load(s, WORD);
      if ((w & BROKEN) !== 0) throw broken();
      if ((w & COUNT_MASK) < parties) {
        if (Atomics.compareExchange(s, WORD, w, w + 1) === w) break;
        continue;
      }
      // The last party runs the action: wait for the next round.
      if (remaining(deadline) === 0) throw timedOut(this);
      await waitWord(s, WORD, w, deadline);
    }
    const index = w & COUNT_MASK;
    const myGen = gen(w);
    const arrived = w + 1;
    if (index + 1 === parties) {
      const action = actions.get(this);
      if (action !== undefined) {
        try {
          await action();
        } catch (err) {
          this.abort();
          throw err;
        }
      }
      // A reset's mark for an earlier generation with the same number (the
      // number wraps) must not break this one.
      Atomics.compareExchange(s, RESET, ((myGen + 1) & GEN_MASK) + 1, 0);
      // Release: next generation, nobody arrived. Fails if broken meanwhile.
      if (Atomics.compareExchange(s, WORD, arrived, nextGen(w)) !== arrived) {
        throw broken();
      }
      Atomics.notify(s, WORD);
      return index;
    }
    for (;;) {
      const now = Atomics.load(s, WORD);
      if (gen(now) !== myGen) {
        if (Atomics.load(s, RESET) === ((myGen + 1) & GEN_MASK) + 1) {
          throw broken();
        }
        return index;
      }
      if ((now & BROKEN) !== 0) throw broken();
      if (remaining(deadline) === 0) throw timedOut(this);
      await waitWord(s, WORD, now, deadline);
    }
  }

  /**
   * Breaks the barrier: every waiting and later `wait()` rejects with
   * {@linkcode BrokenBarrierError} until `reset()`.
   */
  abort(): void {
    const s = this.$state;
    Atomics.or(s, WORD, BROKEN);
    Atomics.notify(s, WORD);
  }

  /**
   * Makes the barrier empty and unbroken again; parties waiting now reject
   * with {@linkcode BrokenBarrierError}.
   */
  reset(): void {
    const s = this.$state;
    // Break first, so that no round can pass meanwhile, then start the next
    // generation, marked as reset for the parties of this one.
    const w = Atomics.or(s, WORD, BROKEN) | BROKEN;
    Atomics.store(s, RESET, ((gen(w) + 1) & GEN_MASK) + 1);
    Atomics.compareExchange(s, WORD, w, nextGen(w));
    Atomics.notify(s, WORD);
  }
}

function timedOut(barrier: Barrier): BrokenBarrierError {
  barrier.abort();
  return broken();
}

function broken(): BrokenBarrierError {
  return new BrokenBarrierError(messages.barrierBroken());
}

registerShareable("Barrier", Barrier.prototype);
