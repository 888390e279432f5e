// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Warm standby workers (the start method "forkserver", the default): when a
// worker of some kind ends, new ones of that kind are started in the
// background and wait, idle, to be taken by the next Process or pool
// worker, which then skips the worker's start-up. Python's
// forkserver plays the same part: a ready process that new ones come from.
//
// - A kind is everything a worker is started with (for a thread: its
//   resourceLimits and how it sees the environment), as a string key: a
//   worker is only ever taken for exactly what it was started with.
// - How many wait: as many as the largest burst of starts of that kind
//   (all the workers of a pool start in one burst), at most STANDBY_MAX.
// - They are refilled when a worker taken ends, and only then (see
//   `takeStandby`).
// - They never keep the program alive (their owners unreference them), and
//   end after waiting STANDBY_IDLE_MS untaken.
// - `setStandby(false)` (the start method "spawn") ends them and starts
//   each worker on demand.
//
// Imports nothing: what a worker is, and how to start one, comes from the
// caller.

/** A worker waiting to be taken. */
export interface Idle {
  /** True once it has ended by itself: it is of no more use. */
  readonly ended: boolean;
  /** Ends it. */
  end(): void;
}

/** At most this many workers of one kind wait. */
export const STANDBY_MAX = 4;
/** Waiting workers end after this long untaken, ms. */
export const STANDBY_IDLE_MS = 10_000;

interface Slot<T extends Idle> {
  readonly idle: T[];
  /** How many should wait. */
  want: number;
  /** Starts taken since the last refill: one burst. */
  burst: number;
  make: () => T;
  /** A start waits for its refill (`refillStandby`). */
  due: boolean;
  refill: ReturnType<typeof setTimeout> | undefined;
  expiry: ReturnType<typeof setTimeout> | undefined;
}

const slots = new Map<string, Slot<Idle>>();
let enabled = true;

function unrefTimer(t: ReturnType<typeof setTimeout>): void {
  Deno.unrefTimer(t as unknown as number);
}

/** Ends the workers of `slot` that wait; the kind starts over. */
function expire(slot: Slot<Idle>): void {
  clearTimeout(slot.expiry);
  slot.expiry = undefined;
  for (const w of slot.idle) w.end();
  slot.idle.length = 0;
  slot.want = 0;
}

function clear(key: string): void {
  const slot = slots.get(key);
  if (slot === undefined) return;
  slots.delete(key);
  clearTimeout(slot.refill);
  expire(slot);
}

function refill(key: string, slot: Slot<Idle>): void {
  slot.refill = undefined;
  slot.due = false;
  slot.burst = 0;
  if (!enabled || slots.get(key) !== slot) return;
  while (slot.idle.length < slot.want) {
    try {
      slot.idle.push(slot.make());
    } catch {
      // It could not start now: the next start of this kind will say why.
      slot.want = slot.idle.length;
      break;
    }
  }
  clearTimeout(slot.expiry);
  if (slot.idle.length === 0) return;
  slot.expiry = setTimeout(() => expire(slot), STANDBY_IDLE_MS);
  unrefTimer(slot.expiry);
}

/**
 * Takes a waiting worker of kind `key`, or returns undefined when none waits
 * (the caller then starts one itself). Either way, counts the start; its
 * kind is refilled with `make` when the caller calls `refillStandby(key)`:
 * when the worker it started has ended. Not sooner: starting a worker blocks
 * this thread for its isolate's creation (~40 ms here), which must not land
 * while the program waits for the worker it took, nor while a pool works
 * (measured: a refill a second into a busy `map` doubled that map's time).
 */
export function takeStandby<T extends Idle>(
  key: string,
  make: () => T,
): T | undefined {
  if (!enabled) return undefined;
  let slot = slots.get(key) as Slot<T> | undefined;
  if (slot === undefined) {
    slot = {
      idle: [],
      want: 0,
      burst: 0,
      make,
      due: false,
      refill: undefined,
      expiry: undefined,
    };
    slots.set(key, slot as Slot<Idle>);
  }
  slot.make = make;
  slot.burst++;
  slot.want = Math.min(STANDBY_MAX, Math.max(slot.want, slot.burst));
  let taken: T | undefined;
  while (slot.idle.length > 0 && taken === undefined) {
    const w = slot.idle.shift()!;
    if (!w.ended) taken = w;
  }
  slot.due = true;
  return taken;
}

/** Refills kind `key` now, if a start of it is waiting for its refill: a
 * worker taken (or started) for it has ended. */
export function refillStandby(key: string): void {
  const slot = slots.get(key);
  if (slot === undefined || !slot.due || slot.refill !== undefined) return;
  // In a turn of its own: the code that ended the worker goes first.
  slot.refill = setTimeout(() => refill(key, slot), 0);
  unrefTimer(slot.refill);
}

/** Turns the standby on or off; off ends every waiting worker. */
export function setStandby(on: boolean): void {
  enabled = on;
  if (!on) { for (const key of [...slots.keys()]) clear(key); }
}

/** Whether the standby is on. */
export function standbyOn(): boolean {
  return enabled;
}

/** How many workers wait now, of every kind. */
export function standbyCount(): number {
  let n = 0;
  for (const slot of slots.values()) {
    n += slot.idle.filter((w) => !w.ended).length;
  }
  return n;
}
