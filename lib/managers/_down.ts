// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Whether a manager is down, and marking it so: the DOWN word of its table,
// set once by the Manager (shutdown, or its server died) or by the server
// (its owner ended), and read by every client before and while it waits.
// Imported by the client and the Manager.
//
// Imports the table, lib/_shared/liveness.ts and the message table.

import {
  BELL,
  DOWN,
  DOWN_DIED,
  DOWN_SHUTDOWN,
  OWNER_PID,
  S_STATE,
  slotCount,
  slotWord,
  type Table,
  tableOf,
} from "./_table.ts";
import { hasEnded } from "../_shared/liveness.ts";
import { messages } from "../_messages.ts";

/** Why the manager of table `t` cannot be used (for `what`, such as "the
 * dict"), asked by the thread of pid `pid`; undefined while it is up. */
export function downError(
  t: Table,
  pid: number,
  what: string,
): Error | undefined {
  const down = Atomics.load(t.w, DOWN);
  if (down === DOWN_SHUTDOWN) {
    return new Error(messages.managerShutDown(what));
  }
  if (down === DOWN_DIED) return new Error(messages.managerDied(what));
  const owner = Atomics.load(t.w, OWNER_PID);
  if (down !== 0 || (owner !== pid && hasEnded(owner))) {
    return new Error(messages.managerGone(what, owner));
  }
  return undefined;
}

/** Marks the table down (shutdown, or its server died) and wakes every
 * thread waiting on it. */
export function markDown(table: SharedArrayBuffer, code: number): void {
  const t = tableOf(table);
  Atomics.compareExchange(t.w, DOWN, 0, code);
  Atomics.notify(t.w, BELL);
  const n = slotCount(t);
  for (let i = 0; i < n; i++) Atomics.notify(t.w, slotWord(i, S_STATE));
}
