// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

/**
 * Python's `multiprocessing` for Deno: run functions in parallel on module
 * Workers with `Process` and `Pool`, with per-worker permission scoping,
 * heap limits, structured-clone messages and clear errors. Zero runtime
 * dependencies.
 *
 * A target is a function **exported** by an ES module; the worker imports
 * that module and calls it. Guard process-starting code with
 * `if (import.meta.main)`, as Python guards it with `__name__ == "__main__"`.
 *
 * @example Two processes, started then joined
 * ```ts no-eval
 * import { Process } from "@parallel/multiprocessing";
 *
 * export function count(label: string, n: number) {
 *   for (let i = 0; i < n; i++) console.log(`${label}:\t${i}`);
 * }
 *
 * if (import.meta.main) {
 *   const up = new Process({ target: count, args: ["Up", 4] });
 *   const down = new Process({ target: count, args: ["Down", 4] });
 *   up.start();
 *   down.start();
 *   await up.join();
 *   await down.join();
 * }
 * ```
 *
 * @module
 */

export { activeChildren } from "./lib/process/active_children.ts";
export { cpuCount } from "./lib/process/cpu_count.ts";
export {
  currentProcess,
  parentProcess,
  type ProcessInfo,
} from "./lib/process/current_process.ts";
export { exit } from "./lib/process/exit.ts";
export { Process, type ProcessOptions } from "./lib/process/process.ts";
export {
  getAllStartMethods,
  getStartMethod,
  setStartMethod,
  type StartMethod,
} from "./lib/process/start_method.ts";
export {
  type Isolation,
  type Permissions,
  type ResourceLimits,
} from "./lib/process/worker_options.ts";
export {
  AbandonedLockError,
  BrokenBarrierError,
  Empty,
  EOFError,
  Full,
  KeyError,
  ProcessError,
  type ProcessErrorOptions,
  TimeoutError,
  ValueError,
} from "./lib/errors.ts";
export {
  AsyncResult,
  type AsyncResultCallbacks,
} from "./lib/pool/async_result.ts";
export { Pool } from "./lib/pool/pool.ts";
export type {
  AsyncOptions,
  CallOptions,
  PoolBackend,
  PoolInput,
  PoolOptions,
  PoolStats,
  TaskFunction,
  TaskResult,
  Timing,
  TransferableArgs,
} from "./lib/pool/types.ts";
export { progressBar } from "./lib/pool/progress_bar.ts";
export { type Transfer, transfer } from "./lib/pool/transfer.ts";
export { Queue, type QueueOptions } from "./lib/queues/queue.ts";
export { JoinableQueue } from "./lib/queues/joinable_queue.ts";
export {
  SimpleQueue,
  type SimpleQueueOptions,
} from "./lib/queues/simple_queue.ts";
export { Connection, Pipe, type PipeOptions } from "./lib/queues/pipe.ts";
export { Lock } from "./lib/sync/lock.ts";
export { RLock } from "./lib/sync/rlock.ts";
export { BoundedSemaphore, Semaphore } from "./lib/sync/semaphore.ts";
export { Event } from "./lib/sync/event.ts";
export { Condition } from "./lib/sync/condition.ts";
export { Barrier } from "./lib/sync/barrier.ts";
export {
  type ElementOf,
  type SharedMemoryOptions,
  type Typecode,
  type TypedArrayOf,
} from "./lib/sync/typecode.ts";
export { Value } from "./lib/sync/value.ts";
export { SharedArray } from "./lib/sync/shared_array.ts";
export { Manager } from "./lib/managers/manager.ts";
export { BaseProxy } from "./lib/managers/base_proxy.ts";
export { DictProxy } from "./lib/managers/dict_proxy.ts";
export { ListProxy } from "./lib/managers/list_proxy.ts";
export { NamespaceProxy } from "./lib/managers/namespace_proxy.ts";
export { LockProxy } from "./lib/managers/lock_proxy.ts";
export { QueueProxy } from "./lib/managers/queue_proxy.ts";
