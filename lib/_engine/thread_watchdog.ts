// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The watchdog of thread workers (isolation "thread", permissions "inherit"),
// used by spawn.ts: finds a node:worker_threads thread stuck at its heap
// limit, which Deno never ends by itself.
//
// Imports only the Worker type of node:worker_threads.
//
// Deno 2.9 does not end a node:worker_threads thread that reaches its heap
// limit while it allocates synchronously; no "error" or "exit" event ever
// comes, and its task never settles. Measured, the thread's CPU time stops
// at once and for good, and it is in one of two states:
// - it answers messages, its running code was terminated, and V8 has raised
//   its heap limit above the one it started with (the near-heap-limit
//   callback's head-room): the allocation ran in a later turn of its event
//   loop (a pool task, an async target);
// - it answers nothing and sits in epoll_wait: the allocation ran in the
//   turn that received its message.
// So each thread is watched: when its CPU time (worker.cpuUsage(), read from
// this side) stands still for STALL_MS, it is pinged on its own parentPort,
// and thread_entry.ts answers with whether its heap limit grew. A grown
// limit, or no answer within PING_MS from a thread the kernel shows in
// epoll_wait, means stuck: the thread is ended and its task fails as out of
// memory. An idle or awaiting thread answers with its limit unchanged; a
// computing one uses CPU; one blocked in Atomics.wait or a synchronous read
// answers nothing but is not in epoll_wait. Where /proc/self/task cannot be
// read (no read permission), that last case waits BLIND_STALL_MS instead.

import type { Worker as ThreadWorker } from "node:worker_threads";

/** How often a thread's CPU time is read, ms. */
const WATCH_MS = 250;
/** How long its CPU time must stand still before it is pinged, ms. */
const STALL_MS = 1_000;
/** How long the ping may take, ms. */
const PING_MS = 500;
/** Without /proc, how long a silent thread must stand still, ms. */
const BLIND_STALL_MS = 30_000;
/** What the watchdog sends on a thread's parentPort, and its answer (as in
 * ../_worker/thread_entry.ts). */
const THREAD_PING = "@parallel/multiprocessing:ping";
const THREAD_PONG = "@parallel/multiprocessing:pong";
/** Linux x86_64 and aarch64 syscall numbers of epoll_wait, epoll_pwait
 * and epoll_pwait2. */
const EPOLL_SYSCALLS: ReadonlySet<string> = new Set([
  "232",
  "281",
  "441",
  "22",
]);

/** The kernel's view of the thread of `threadId` (Deno names it
 * `worker-<threadId>`): in epoll_wait, in something else, or unknown. */
function threadState(threadId: number): "epoll" | "other" | "unknown" {
  if (Deno.build.os !== "linux") return "unknown";
  const dir = "/proc/self/task";
  try {
    if (
      Deno.permissions.querySync({ name: "read", path: dir }).state !==
        "granted"
    ) {
      return "unknown";
    }
    const name = `worker-${threadId}`;
    for (const entry of Deno.readDirSync(dir)) {
      const at = `${dir}/${entry.name}`;
      let comm: string;
      try {
        comm = Deno.readTextFileSync(`${at}/comm`).trim();
      } catch {
        continue;
      }
      if (comm !== name) continue;
      const syscall = Deno.readTextFileSync(`${at}/syscall`).split(" ")[0]!;
      let wchan = "";
      try {
        wchan = Deno.readTextFileSync(`${at}/wchan`);
      } catch {
        // not shown
      }
      return EPOLL_SYSCALLS.has(syscall) || wchan.includes("epoll")
        ? "epoll"
        : "other";
    }
  } catch {
    // no such view
  }
  return "unknown";
}

/**
 * Watches `worker` for the stuck state above and calls `stuck` once when it
 * finds it. Returns the function that stops the watch. The watch never
 * keeps the program alive.
 */
export function watchThread(
  worker: ThreadWorker,
  stuck: () => void,
): () => void {
  const w = worker as ThreadWorker & {
    cpuUsage?: () => Promise<{ user: number; system: number }>;
    threadId: number;
  };
  if (typeof w.cpuUsage !== "function") return () => {};
  let stopped = false;
  let last = -1;
  let stillSince = performance.now();
  /** Pinged since the CPU time last moved (one ping per stand-still). */
  let pinged = false;
  let pong = false;
  let grown = false;
  const onMessage = (msg: unknown) => {
    if (
      msg === null || typeof msg !== "object" ||
      (msg as Record<string, unknown>)[THREAD_PONG] !== true
    ) return;
    pong = true;
    grown = (msg as { grown?: unknown }).grown === true;
    // Its code was terminated at the heap limit: it is stuck.
    if (grown && !stopped) {
      stop();
      stuck();
    }
  };
  worker.on("message", onMessage);
  const tick = async () => {
    if (stopped) return;
    let used: number;
    try {
      const u = await w.cpuUsage!();
      used = u.user + u.system;
    } catch {
      return; // it ended
    }
    if (stopped) return;
    const now = performance.now();
    if (used !== last) {
      last = used;
      stillSince = now;
      pinged = false;
      return;
    }
    const still = now - stillSince;
    if (!pinged && still >= STALL_MS) {
      pinged = true;
      pong = false;
      try {
        worker.postMessage(THREAD_PING);
      } catch {
        return;
      }
      return;
    }
    if (!pinged || pong || still < STALL_MS + PING_MS) return;
    // No answer: stuck in epoll_wait, or blocked in a wait of its own.
    const state = threadState(w.threadId);
    if (state === "epoll" || (state === "unknown" && still >= BLIND_STALL_MS)) {
      stop();
      stuck();
    }
  };
  const timer = setInterval(() => void tick(), WATCH_MS);
  Deno.unrefTimer(timer as unknown as number);
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    worker.off("message", onMessage);
  };
  return stop;
}
