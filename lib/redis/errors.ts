// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { causeOf } from "../errors.ts";
import { registerErrors } from "../_shared/error_codec.ts";

/**
 * A worker refused a task because its copy of the task's module is not the
 * one the coordinator has (or it has none). The call rejects with it; deploy
 * the same code to every worker machine.
 *
 * @example Tell a stale deployment from a failing task
 * ```ts
 * import { ModuleMismatchError } from "@parallel/multiprocessing/redis";
 * import assert from "node:assert/strict";
 *
 * const err = new ModuleMismatchError("examples/cube.ts differs", {
 *   module: "examples/cube.ts",
 *   workerName: "host-a:1234",
 * });
 * assert.equal(err.name, "ModuleMismatchError");
 * assert.equal(err.module, "examples/cube.ts");
 * ```
 */
export class ModuleMismatchError extends Error {
  /** The module, as a path relative to the project root. */
  readonly module: string;
  /** The worker that refused it. */
  readonly workerName: string;

  /**
   * Makes a `ModuleMismatchError`.
   *
   * @param message What differs, and what to do.
   * @param options The module and the worker.
   */
  constructor(
    message: string,
    options: { module: string; workerName: string } & ErrorOptions,
  ) {
    super(message, causeOf(options));
    this.name = "ModuleMismatchError";
    this.module = options.module;
    this.workerName = options.workerName;
  }
}

/**
 * Redis could not be reached, or went away and did not come back in time.
 * Every unfinished call of the pool rejects with it; the pool stays usable
 * and tries again on the next call. `cause` holds the client's error.
 *
 * @example Report an unreachable server
 * ```ts
 * import { RedisUnavailableError } from "@parallel/multiprocessing/redis";
 * import assert from "node:assert/strict";
 *
 * const err = new RedisUnavailableError("Redis is unreachable", {
 *   url: "redis://127.0.0.1:6379",
 * });
 * assert.equal(err.name, "RedisUnavailableError");
 * assert.equal(err.url, "redis://127.0.0.1:6379");
 * ```
 */
export class RedisUnavailableError extends Error {
  /** The server's URL, without a password. */
  readonly url: string;

  /**
   * Makes a `RedisUnavailableError`.
   *
   * @param message What failed, and what to do.
   * @param options The URL and the client's error as `cause`.
   */
  constructor(message: string, options: { url: string } & ErrorOptions) {
    super(message, causeOf(options));
    this.name = "RedisUnavailableError";
    this.url = options.url;
  }
}

/**
 * No worker served the queue for as long as the backend's `workerTimeout`
 * while calls waited. The calls reject with it; start a worker command.
 *
 * @example Catch it
 * ```ts
 * import { NoWorkersError } from "@parallel/multiprocessing/redis";
 * import assert from "node:assert/strict";
 *
 * const err = new NoWorkersError("No worker serves queue \"jobs\"", {
 *   queue: "jobs",
 * });
 * assert.equal(err.name, "NoWorkersError");
 * assert.equal(err.queue, "jobs");
 * ```
 */
export class NoWorkersError extends Error {
  /** The queue that no worker served. */
  readonly queue: string;

  /**
   * Makes a `NoWorkersError`.
   *
   * @param message What happened, and what to do.
   * @param options The queue.
   */
  constructor(message: string, options: { queue: string } & ErrorOptions) {
    super(message, causeOf(options));
    this.name = "NoWorkersError";
    this.queue = options.queue;
  }
}

registerErrors([ModuleMismatchError, RedisUnavailableError, NoWorkersError]);
