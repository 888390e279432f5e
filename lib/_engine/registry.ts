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

/** The shared pid counter, made in the main program. */
export function pidCounter(): Int32Array {
  const ctx = context();
  ctx.pids ??= new Int32Array(new SharedArrayBuffer(4));
  return ctx.pids;
}

/** A positive id, unique among this program's processes. */
export function nextPid(): number {
  const pids = pidCounter();
  let pid = Atomics.add(pids, 0, 1) + 1;
  if (pid === Deno.pid) pid = Atomics.add(pids, 0, 1) + 1;
  return pid;
}
