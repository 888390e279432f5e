// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Program-wide ids and this isolate's live children.

import { context } from "../_shared/context.ts";

/** Anything `activeChildren()` can list. */
export interface Child {
  isAlive(): boolean;
}

/** This isolate's started, not yet ended, processes. */
export const children: Set<Child> = new Set();

let names = 0;

/** The next default name: `Process-n`, or `<parent>:n` inside a worker. */
export function nextName(prefix: string): string {
  names++;
  const ctx = context();
  return ctx.inWorker ? `${ctx.current.name}:${names}` : `${prefix}-${names}`;
}

/** Where thread workers' ids start: above every OS pid (Linux's pid_max
 * is at most 2^22, macOS's 99998), so that a thread's id never equals a live
 * child process's pid. */
export const THREAD_ID_BASE = 2 ** 22;

/** The shared pid counter, made in each OS process's main thread. */
export function pidCounter(): Int32Array {
  const ctx = context();
  if (ctx.pids === null) {
    ctx.pids = new Int32Array(new SharedArrayBuffer(4));
    ctx.pids[0] = THREAD_ID_BASE;
  }
  return ctx.pids;
}

/** A positive id for a thread worker, unique among the threads of this OS
 * process and above every OS pid. */
export function nextPid(): number {
  return Atomics.add(pidCounter(), 0, 1) + 1;
}

/** Ids a worker with scoped permissions may give the processes it starts
 * before they could repeat an id given elsewhere. */
const SCOPED_PID_BLOCK = 1024;

/** A pid counter of its own for a worker with scoped permissions, which
 * may run hostile code: with the program's counter it could make later
 * processes repeat the ids of live ones (lock owners, say). Its ids come
 * from a block reserved here, so they are still unique. */
export function scopedPidCounter(): Int32Array {
  const base = Atomics.add(pidCounter(), 0, SCOPED_PID_BLOCK);
  const own = new Int32Array(new SharedArrayBuffer(4));
  own[0] = base;
  return own;
}
