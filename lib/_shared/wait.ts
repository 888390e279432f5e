// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Waiting on shared words, for queues, pipes, locks and the like. Imported by
// both sides.
//
// Every async wait is one `Atomics.waitAsync` on the word that will change
// (with its timeout, so that V8 drops a waiter that gave up), woken by
// `Atomics.notify`. A pending waitAsync does not keep Deno's event loop alive,
// so while any wait is pending this isolate keeps one long, idle interval
// timer, as a blocked call keeps a Python program running.
//
// The words are shared with every process that was handed the object, and a
// scoped worker runs untrusted code: any word may hold anything. So no thread
// waits synchronously for longer than GUARD_SLICE_MS in one stretch (a guard
// held longer is waited for asynchronously, giving the event loop its turns),
// and a run of waits that end at once because the word keeps changing gives
// the event loop a turn too. A wait then costs a hostile holder's victim its
// timeout, never its timers.
//
// Imports lib/_shared/, lib/_check.ts, lib/_messages.ts and lib/errors.ts:
// nothing from the main-side engine.

import { context } from "./context.ts";
import { checkTimeout, MAX_TIMER } from "../_check.ts";
import { messages } from "../_messages.ts";
import { hasEnded, watchEnds } from "./liveness.ts";
import { AbandonedLockError } from "../errors.ts";

/**
 * The longest (ms) a thread waits synchronously, in one stretch, for a guard
 * word. An honest holder keeps a guard for the microseconds a few statements
 * take, so one held longer belongs to a process that was descheduled, or
 * that wrote a pid there to freeze us: the caller then waits for it
 * asynchronously ({@linkcode waitGuard}) and the event loop runs meanwhile.
 */
export const GUARD_SLICE_MS = 10;
/** How often `lockGuard` looks at a held guard before it sleeps on it. */
const GUARD_SPINS = 1000;
/** How long (ms) `lockGuard` sleeps at a time, within its slice, on a guard
 * whose holder runs, before it looks again whether the holder ended. */
const GUARD_NAP_MS = 1;
/** How long (ms) `waitGuard` waits at most: then the caller looks again
 * whether the holder ended, or the guard was freed without a notify. */
const GUARD_POLL_MS = 50;
/** `lockGuard`'s answer when the guard stayed held for its whole slice. */
export const GUARD_BUSY = -1;
/** How many waits in a row may end at once (the word changed before the
 * wait began) before `waitWord` gives the event loop a turn. */
const SYNC_STREAK = 64;
/** How often `takeOwner` looks at a held lock before it waits async. */
const OWNER_SPINS = 200;

/** This process's id, as held in lock words. */
export function me(): number {
  return context().current.pid;
}

/** Checks a `timeout` argument; returns the deadline (`Infinity` for none). */
export function deadlineOf(timeout: unknown, what: string): number {
  const ms = checkTimeout(timeout, what, true);
  return ms === undefined ? Infinity : performance.now() + ms;
}

/** Milliseconds left until `deadline` (0 when past, `Infinity` for none). */
export function remaining(deadline: number): number {
  if (deadline === Infinity) return Infinity;
  return Math.max(0, deadline - performance.now());
}

let holds = 0;
let keepAlive: ReturnType<typeof setInterval> | undefined;

function hold(): void {
  if (holds++ === 0) keepAlive = setInterval(() => {}, MAX_TIMER);
}

function unhold(): void {
  if (--holds === 0) {
    clearInterval(keepAlive);
    keepAlive = undefined;
  }
}

// Waits that ended at once, in a row (any wait that did wait resets it), and
// when the first of them ended.
let streak = 0;
let streakStart = 0;

/**
 * Waits until `ia[index]` is notified while it holds `value`, or the deadline
 * passes. Resolves at once (`"not-equal"`) when it no longer holds `value`.
 */
export async function waitWord(
  ia: Int32Array,
  index: number,
  value: number,
  deadline: number,
): Promise<"ok" | "not-equal" | "timed-out"> {
  const r = Atomics.waitAsync(ia, index, value, remaining(deadline));
  if (r.async) {
    streak = 0;
    return await held(r.value);
  }
  // An answer at once resumes the caller in a microtask, which never lets
  // timers run: a process that keeps changing the word (or a word that never
  // holds what the caller waits on) would starve the event loop.
  const now = performance.now();
  if (streak++ === 0) {
    streakStart = now;
  } else if (
    streak >= SYNC_STREAK || now - streakStart >= GUARD_SLICE_MS
  ) {
    streak = 0;
    await nextTurn();
  }
  return r.value;
}

/** Resolves in a later turn of the event loop, after timers had theirs. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Awaits a waitAsync promise while keeping the event loop alive. */
export async function held<T>(p: Promise<T>): Promise<T> {
  hold();
  try {
    return await p;
  } finally {
    unhold();
  }
}

/**
 * Takes the guard `ia[index]` for `pid`, for guards held only during a few
 * synchronous statements: spins, then sleeps on it, for at most
 * {@linkcode GUARD_SLICE_MS} in all. Returns 0 when taken; the pid of an
 * ended process that held it, when taken from that process (the guarded
 * data may be half-updated); or {@linkcode GUARD_BUSY} when it stayed held
 * for the whole slice (not taken: wait with {@linkcode waitGuard}, then call
 * again).
 */
export function lockGuard(ia: Int32Array, index: number, pid: number): number {
  if (Atomics.compareExchange(ia, index, 0, pid) === 0) return 0;
  let until = 0;
  for (let spin = 0;; spin++) {
    const holder = Atomics.load(ia, index);
    if (holder === 0) {
      if (Atomics.compareExchange(ia, index, 0, pid) === 0) return 0;
      continue;
    }
    if (spin < GUARD_SPINS) continue;
    // hasEnded() is false for every pid <= 0, GUARD_BUSY included.
    if (hasEnded(holder)) {
      if (Atomics.compareExchange(ia, index, holder, pid) === holder) {
        return holder;
      }
      continue;
    }
    // The holder is running (or descheduled, or lying): sleep until it
    // unlocks, waking now and then to see whether it ended, until the slice
    // is used up.
    const now = performance.now();
    if (until === 0) until = now + GUARD_SLICE_MS;
    else if (now >= until) return GUARD_BUSY;
    Atomics.wait(ia, index, holder, Math.min(GUARD_NAP_MS, until - now));
  }
}

/**
 * Waits, asynchronously, for the guard `ia[index]` that
 * {@linkcode lockGuard} found busy: until it is freed (or its word changes),
 * {@linkcode GUARD_POLL_MS} pass, or the deadline. Always lets the event
 * loop turn before it resolves.
 */
export async function waitGuard(
  ia: Int32Array,
  index: number,
  deadline: number,
): Promise<void> {
  const holder = Atomics.load(ia, index);
  if (holder !== 0) {
    const ms = Math.min(GUARD_POLL_MS, remaining(deadline));
    const r = Atomics.waitAsync(ia, index, holder, ms);
    if (r.async) {
      await held(r.value);
      return;
    }
  }
  await nextTurn();
}

/** Frees a guard taken with {@linkcode lockGuard}. */
export function unlockGuard(ia: Int32Array, index: number): void {
  Atomics.store(ia, index, 0);
  Atomics.notify(ia, index, 1);
}

// A lock's words: the owner's pid (0 when free), and how many wait for it
// (so that a release notifies only when someone waits).
const OWNER = 0;
const WAITERS = 1;

/**
 * Takes the lock words `ia` (owner, waiters) for `pid`, waiting until the
 * deadline. Resolves `true` when taken, `false` on timeout. When the owner
 * ended while holding it, frees it for the next taker and rejects with
 * `abandoned(owner)`.
 */
export function takeOwner(
  ia: Int32Array,
  pid: number,
  deadline: number,
  abandoned: (owner: number) => Error,
): boolean | Promise<boolean> {
  if (Atomics.compareExchange(ia, OWNER, 0, pid) === 0) return true;
  // An owner in another process often lets go within microseconds.
  for (let spin = 0; spin < OWNER_SPINS; spin++) {
    const owner = Atomics.load(ia, OWNER);
    if (owner === pid) break;
    if (owner === 0 && Atomics.compareExchange(ia, OWNER, 0, pid) === 0) {
      return true;
    }
  }
  return takeOwnerSlow(ia, pid, deadline, abandoned);
}

async function takeOwnerSlow(
  ia: Int32Array,
  pid: number,
  deadline: number,
  abandoned: (owner: number) => Error,
): Promise<boolean> {
  // Count ourselves before looking at the owner: a release that does not
  // see us was before our look, which then sees the lock free.
  Atomics.add(ia, WAITERS, 1);
  const unwatch = watchEnds(ia, OWNER);
  try {
    for (;;) {
      const owner = Atomics.load(ia, OWNER);
      if (owner === 0) {
        if (Atomics.compareExchange(ia, OWNER, 0, pid) === 0) return true;
        continue;
      }
      if (hasEnded(owner)) {
        if (Atomics.compareExchange(ia, OWNER, owner, 0) === owner) {
          Atomics.notify(ia, OWNER, 1);
          throw abandoned(owner);
        }
        continue;
      }
      if (remaining(deadline) === 0) return false;
      await waitWord(ia, OWNER, owner, deadline);
    }
  } finally {
    Atomics.sub(ia, WAITERS, 1);
    unwatch();
  }
}

/** Frees lock words taken with {@linkcode takeOwner}; wakes one waiter. */
export function freeOwner(ia: Int32Array): void {
  Atomics.store(ia, OWNER, 0);
  if (Atomics.load(ia, WAITERS) > 0) Atomics.notify(ia, OWNER, 1);
}

/** Takes the lock words of a Lock or RLock (`kind`). */
export async function acquireLock(
  state: Int32Array,
  timeout: number | undefined,
  kind: string,
): Promise<boolean> {
  const deadline = deadlineOf(timeout, "acquire() timeout");
  return await takeOwner(
    state,
    me(),
    deadline,
    (pid) => new AbandonedLockError(messages.abandoned(kind, pid), pid),
  );
}
