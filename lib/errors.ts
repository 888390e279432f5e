// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The library's public error classes (mod.ts re-exports them by name), and
// `causeOf`, which the classes with their own options use. Each class is
// registered with the wire codec, so that it crosses from a worker as itself.
//
// Imports lib/_shared/error_codec.ts only.

import { registerErrors } from "./_shared/error_codec.ts";

/**
 * The standard part of an error's options: `{ cause }` when `options` has a
 * cause, else nothing, so that an error made without one has no `cause`
 * property at all (`cause: undefined` counts as none). For error classes
 * whose options carry fields of their own beside `cause`.
 *
 * @param options The options given to the error's constructor.
 * @returns What to pass to `Error` as its options.
 */
export function causeOf(options?: ErrorOptions): ErrorOptions | undefined {
  return options?.cause === undefined ? undefined : { cause: options.cause };
}

/**
 * Thrown (or rejected with) when a wait runs out of time, such as
 * {@linkcode AsyncResult.get} with a `timeout`. The work itself goes on.
 *
 * @example Catch a timeout
 * ```ts
 * import { TimeoutError } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const err = new TimeoutError("Result not ready after 10 ms");
 * assert.ok(err instanceof Error);
 * assert.equal(err.name, "TimeoutError");
 * ```
 */
export class TimeoutError extends Error {
  /**
   * Makes a `TimeoutError`.
   *
   * @param message What timed out, and after how long.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TimeoutError";
  }
}

/** What a {@linkcode ProcessError} says about the process that ended. */
export interface ProcessErrorOptions extends ErrorOptions {
  /** The name of the process (worker) that ended. */
  processName: string;
  /** Its exit code, as `Process.exitCode` would report it. */
  exitCode: number;
  /** A machine-readable reason, such as `"ERR_WORKER_OUT_OF_MEMORY"`. */
  code?: string;
}

/**
 * A process (worker) ended abnormally: it called `exit()`, ran out of memory,
 * crashed or was terminated while it held work. Pool calls whose tasks that
 * worker held reject with it; `Process.error` holds it for an out-of-memory
 * end.
 *
 * @example Inspect a ProcessError
 * ```ts
 * import { ProcessError } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const err = new ProcessError("Worker ended", {
 *   processName: "PoolWorker-1",
 *   exitCode: 3,
 * });
 * assert.equal(err.name, "ProcessError");
 * assert.equal(err.exitCode, 3);
 * assert.equal(err.processName, "PoolWorker-1");
 * ```
 */
export class ProcessError extends Error {
  /** The name of the process (worker) that ended, such as `"Process-1"` or
   * `"PoolWorker-2"`. */
  readonly processName: string;
  /** Its exit code, as `Process.exitCode` reports it: the code it passed to
   * `exit()`, or 1 when it crashed or ran out of memory; -1 when no one
   * exit is to blame (a Redis chunk whose workers kept dying). */
  readonly exitCode: number;
  /** A machine-readable reason, such as `"ERR_WORKER_OUT_OF_MEMORY"` or
   * `"ERR_TOO_MANY_DELIVERIES"`; `undefined` when there is none. */
  readonly code: string | undefined;

  /**
   * Makes a `ProcessError`.
   *
   * @param message What happened, and what to do.
   * @param options The process name, exit code and optional reason and cause.
   */
  constructor(message: string, options: ProcessErrorOptions) {
    super(message, causeOf(options));
    this.name = "ProcessError";
    this.processName = options.processName;
    this.exitCode = options.exitCode;
    this.code = options.code;
  }
}

/**
 * A queue had no item to give: `getNowait()` on an empty queue, or `get()`
 * whose `timeout` ran out, as Python's `queue.Empty`.
 *
 * @example Catch an empty queue
 * ```ts
 * import { Empty, Queue } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const queue = new Queue<number>();
 * assert.throws(() => queue.getNowait(), Empty);
 * await assert.rejects(queue.get(10), Empty);
 * ```
 */
export class Empty extends Error {
  /**
   * Makes an `Empty` error.
   *
   * @param message What was empty, and for how long.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "Empty";
  }
}

/**
 * A queue had no room: `putNowait()` on a full queue, or `put()` whose
 * `timeout` ran out, as Python's `queue.Full`.
 *
 * @example Catch a full queue
 * ```ts
 * import { Full, Queue } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const queue = new Queue<number>(1);
 * queue.putNowait(1);
 * assert.throws(() => queue.putNowait(2), Full);
 * await assert.rejects(queue.put(2, 10), Full);
 * ```
 */
export class Full extends Error {
  /**
   * Makes a `Full` error.
   *
   * @param message What was full, and for how long.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "Full";
  }
}

/**
 * Nothing more will come: `recv()` on a pipe whose other end is closed and
 * whose sent values were all read, or `get()` on a closed, empty queue. As
 * Python's `EOFError` from `Connection.recv()`.
 *
 * @example End a loop at the end of a pipe
 * ```ts
 * import { EOFError, Pipe } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = Pipe<number>();
 * await a.send(1);
 * a.close();
 * assert.equal(await b.recv(), 1);
 * await assert.rejects(b.recv(), EOFError);
 * b.close();
 * ```
 */
export class EOFError extends Error {
  /**
   * Makes an `EOFError`.
   *
   * @param message What ended.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EOFError";
  }
}

/**
 * A process ended (returned, threw, called `exit()`, was terminated or ran
 * out of memory) while holding a `Lock`, an `RLock` (or the lock of a
 * `Condition`, `Value` or `SharedArray`). The `acquire()` that found it
 * rejects with this error and frees the lock, so the next `acquire()` gets
 * it. Python would wait forever; here the caller can check the state the
 * lock guarded, then acquire again.
 *
 * @example Recover an abandoned lock
 * ```ts no-eval
 * import { AbandonedLockError, Lock } from "@parallel/multiprocessing";
 *
 * const lock = new Lock();
 * try {
 *   await lock.acquire();
 * } catch (err) {
 *   if (!(err instanceof AbandonedLockError)) throw err;
 *   console.log(`process ${err.pid} died holding it`);
 *   await lock.acquire(); // released: this takes it
 * }
 * lock.release();
 * ```
 */
export class AbandonedLockError extends Error {
  /** The pid of the process that ended while holding the lock. */
  readonly pid: number;

  /**
   * Makes an `AbandonedLockError`.
   *
   * @param message What was abandoned, by whom.
   * @param pid The pid of the process that ended holding the lock.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, pid: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "AbandonedLockError";
    this.pid = pid;
  }
}

/**
 * A `Barrier` is broken: a party's `wait()` timed out, `abort()` or
 * `reset()` was called while parties waited, or the action threw. As
 * Python's `threading.BrokenBarrierError`.
 *
 * @example Abort a barrier
 * ```ts
 * import { Barrier, BrokenBarrierError } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const barrier = new Barrier(2);
 * barrier.abort();
 * await assert.rejects(barrier.wait(), BrokenBarrierError);
 * ```
 */
export class BrokenBarrierError extends Error {
  /**
   * Makes a `BrokenBarrierError`.
   *
   * @param message Why the barrier is broken.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BrokenBarrierError";
  }
}

registerErrors([
  TimeoutError,
  ProcessError,
  Empty,
  Full,
  EOFError,
  AbandonedLockError,
  BrokenBarrierError,
]);

/**
 * A key is missing: a Manager dict's `pop(key)` without a default found no
 * value for `key`. As Python's `KeyError`; the key is on `key`.
 *
 * @example Catch a missing key
 * ```ts
 * import { KeyError, Manager } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * const d = manager.dict<string, number>();
 * const err = await d.pop("spam").catch((e) => e);
 * assert.ok(err instanceof KeyError);
 * assert.equal(err.key, "spam");
 * ```
 */
export class KeyError extends Error {
  /** The key that was missing. */
  readonly key: unknown;

  /**
   * Makes a `KeyError`.
   *
   * @param message Which key is missing, and what to do.
   * @param key The key.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, key?: unknown, options?: ErrorOptions) {
    super(message, options);
    this.name = "KeyError";
    this.key = key;
  }
}

/**
 * A value is missing: a Manager list's `remove(value)` or `index(value)`
 * found no item equal to it. As Python's `ValueError` from `list.remove`.
 *
 * @example Catch a missing value
 * ```ts
 * import { Manager, ValueError } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * const l = manager.list([1, 2]);
 * await assert.rejects(l.remove(3), ValueError);
 * ```
 */
export class ValueError extends Error {
  /**
   * Makes a `ValueError`.
   *
   * @param message What was not found, and what to do.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ValueError";
  }
}

registerErrors([KeyError, ValueError]);
