// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Which processes have ended, program-wide, so that a lock held by a process
// that ended is not waited on forever. Imported by both sides.
//
// One SharedArrayBuffer, made by the main program and sent to every worker in
// its InitMessage: word 0 is an epoch, bumped (and notified) at each end; the
// other SLOTS words record ended pids, `pid` at `1 + pid % SLOTS`. A pid is
// known to have ended only when its slot holds exactly that pid, so a live
// process is never taken for an ended one. A later ended pid that shares the
// slot overwrites it: a lock abandoned by the first and not looked at before
// SLOTS more processes ended is then waited on as Python would (forever, or
// until the timeout).
//
// The main side learns of an end where a Process finishes and where the pool
// retires a worker, and marks the pid it gave that worker when it started.
// (Each worker also writes its own pid into a one-word buffer, "self"; the
// main side reads it only from a caller that did not give the pid, since a
// worker could write any pid there.)
//
// A worker with scoped permissions may run hostile code, and a shared buffer
// cannot be made read-only: with the table, it could mark the holder of any
// lock as ended, and make another process take a lock that is still held.
// So it gets a table of its own instead (and a pid counter of its own, see
// lib/_engine/registry.ts). The main side still marks its pid ended when it
// ends, so the main side's waits see a lock it abandoned; its own waits, and
// those of the processes it starts, see only the ends of processes in its
// own subtree: a lock abandoned by any other process times out there, as in
// Python, rather than being reported as abandoned.
//
// Imports lib/_shared/context.ts only.

import { context } from "./context.ts";

/** How many ended pids the program's table remembers at once. */
const SLOTS = 65_536;
/** How many a scoped worker's own table remembers. */
const PRIVATE_SLOTS = 1024;
/** The word bumped at each end. */
const EPOCH = 0;
/** The word of slot 0; pid `p` is recorded at `FIRST_SLOT + p % SLOTS`. */
const FIRST_SLOT = 1;
const WORD = Int32Array.BYTES_PER_ELEMENT;

/** The liveness table of this program (made on first use in the main
 * program; received in the InitMessage in a worker). */
export function livenessTable(): Int32Array {
  const ctx = context();
  ctx.liveness ??= new Int32Array(
    new SharedArrayBuffer(WORD * (FIRST_SLOT + SLOTS)),
  );
  return ctx.liveness;
}

/** The word of pid `pid` in `table` (whose size says its slot count). */
function slotOf(table: Int32Array, pid: number): number {
  return FIRST_SLOT + (pid % (table.length - FIRST_SLOT));
}

/** The pid the main side gave the worker behind each port, or its "self"
 * word, for a caller that gave none. */
const pids = new WeakMap<object, number | Int32Array>();

/**
 * What an InitMessage carries for the worker behind `port`, whose pid is
 * `pid`: the liveness table (a fresh one of its own when the worker is
 * `scoped`: see the top of this file) and its "self" word.
 */
export function livenessFor(
  port: object,
  pid?: number,
  scoped = false,
): { table: Int32Array; self: Int32Array } {
  const self = new Int32Array(new SharedArrayBuffer(WORD));
  pids.set(port, pid ?? self);
  const table = scoped
    ? new Int32Array(new SharedArrayBuffer(WORD * (FIRST_SLOT + PRIVATE_SLOTS)))
    : livenessTable();
  return { table, self };
}

/**
 * Tracks the OS process behind `port` (isolation "process"), whose pid the
 * OS gave it: `processEnded(port)` then records its end. An OS pid can be
 * reused, so a slot that says this pid ended is cleared first.
 */
export function trackPid(port: object, pid: number): void {
  pids.set(port, pid);
  const table = livenessTable();
  Atomics.compareExchange(table, slotOf(table, pid), pid, 0);
}

/** The worker behind `port` has ended: records its pid as ended. */
export function processEnded(port: object | null): void {
  if (port === null) return;
  const known = pids.get(port);
  if (known === undefined) return;
  pids.delete(port);
  const pid = typeof known === "number" ? known : Atomics.load(known, 0);
  if (pid > 0) markEnded(pid);
}

/** Records `pid` as ended and wakes every isolate's death watcher. */
export function markEnded(pid: number): void {
  const table = livenessTable();
  Atomics.store(table, slotOf(table, pid), pid);
  Atomics.add(table, EPOCH, 1);
  Atomics.notify(table, EPOCH);
}

/** Whether `pid` is known to have ended. */
export function hasEnded(pid: number): boolean {
  if (pid <= 0 || pid === context().current.pid) return false;
  const table = context().liveness;
  return table !== null && Atomics.load(table, slotOf(table, pid)) === pid;
}

// ---- death watch ------------------------------------------------------------
// A waiter for a word that an ended process may never change again (a lock's
// holder) registers the word here. One waitAsync per isolate watches the
// epoch; when a process ends it notifies every registered word, so that their
// waiters wake and look at the holder again. A pending waitAsync does not keep
// the event loop alive, so an idle watcher costs nothing.

interface Watched {
  readonly ia: Int32Array;
  readonly index: number;
}

const watched = new Set<Watched>();
let armed = false;

function arm(table: Int32Array): void {
  if (armed) return;
  armed = true;
  const seen = Atomics.load(table, EPOCH);
  const r = Atomics.waitAsync(table, EPOCH, seen);
  if (r.async) r.value.then(() => fire(table));
  else queueMicrotask(() => fire(table));
}

function fire(table: Int32Array): void {
  armed = false;
  for (const w of watched) Atomics.notify(w.ia, w.index);
  if (watched.size > 0) arm(table);
}

/**
 * Wakes the waiters of `ia[index]` whenever a process ends, until the
 * returned function is called. Call it before checking the holder, then wait.
 */
export function watchEnds(ia: Int32Array, index: number): () => void {
  const table = context().liveness;
  if (table === null) return () => {};
  const w: Watched = { ia, index };
  watched.add(w);
  arm(table);
  return () => watched.delete(w);
}
