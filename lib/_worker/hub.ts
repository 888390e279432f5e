// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The hub: one node:worker_threads thread that owns every web Worker with
// scoped permissions. The main thread unreferences the hub, so these workers
// never keep the program alive by themselves; liveness is decided by the
// main side's MessagePorts (ref'd while a process runs or a task is pending).
// Imports lib/_shared/wire.ts and error_codec.ts only: nothing from the main-side engine.

import type { HubDeath, HubRequest } from "../_shared/wire.ts";
import { encodeError } from "../_shared/error_codec.ts";

/** The hub's global scope, typed for what this file uses. */
const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<HubRequest>) => void) | null;
  postMessage(msg: HubDeath): void;
};
const workers = new Map<number, Worker>();

function dead(id: number, code: number, error?: unknown): void {
  const w = workers.get(id);
  if (w === undefined) return;
  workers.delete(id);
  w.terminate();
  const msg: HubDeath = error === undefined
    ? { op: "dead", id, code }
    : { op: "dead", id, code, error };
  scope.postMessage(msg);
}

scope.onmessage = (e: MessageEvent<HubRequest>) => {
  const req = e.data;
  if (req.op === "kill") {
    workers.get(req.id)?.terminate();
    workers.delete(req.id);
    return;
  }
  let w: Worker;
  try {
    w = new Worker(req.entry, {
      type: "module",
      name: req.name,
      deno: { permissions: req.permissions },
    });
  } catch (err) {
    scope.postMessage({
      op: "dead",
      id: req.id,
      code: 1,
      error: encodeError(err),
    });
    return;
  }
  workers.set(req.id, w);
  w.onerror = (ev) => {
    ev.preventDefault();
    dead(req.id, 1, encodeError(new Error(ev.message)));
  };
  // One it cannot deserialize ends it too (the main side says why).
  w.onmessageerror = () => dead(req.id, undefined as unknown as number);
  // A worker speaks to the hub only when it ends before its port arrived.
  // It may run hostile code and send anything: passed on unchecked, for the
  // main side to check (lib/_engine/validate.ts); nothing here may throw.
  w.onmessage = (
    ev: MessageEvent<{ code: number; error?: unknown } | null>,
  ) => {
    dead(req.id, ev.data?.code as number, ev.data?.error);
  };
  w.postMessage({ port: req.port }, [req.port]);
};
