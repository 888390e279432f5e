// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

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
  /** The name of the process that ended. */
  readonly processName: string;
  /** Its exit code. */
  readonly exitCode: number;
  /** A machine-readable reason, when there is one. */
  readonly code: string | undefined;

  /**
   * Makes a `ProcessError`.
   *
   * @param message What happened, and what to do.
   * @param options The process name, exit code and optional reason and cause.
   */
  constructor(message: string, options: ProcessErrorOptions) {
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "ProcessError";
    this.processName = options.processName;
    this.exitCode = options.exitCode;
    this.code = options.code;
  }
}
