// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { messages } from "../_messages.ts";
import { setStandby, standbyOn } from "../_engine/standby.ts";

/**
 * How a new worker starts, by the names of Python's start methods:
 * - `"forkserver"` (the default): when a worker of some kind ends, new ones
 *   of that kind (as many as were started at once) are started in the
 *   background and wait to be taken by the next {@linkcode Process} or pool
 *   worker, which then starts in a few ms. Thread workers (`permissions: "inherit"`,
 *   `isolation: "thread"`), and OS processes whose permissions include all
 *   of `read` and `env`, wait ahead. They never keep the program alive, are
 *   refilled when a worker taken ends, and end after waiting 10 s untaken.
 * - `"spawn"`: every worker starts when it is asked for.
 *
 * Python's `"fork"` does not exist here: Deno cannot fork a running program.
 */
export type StartMethod = "forkserver" | "spawn";

const METHODS: readonly StartMethod[] = ["forkserver", "spawn"];

/**
 * Sets how new workers start, as Python's
 * `multiprocessing.set_start_method()`; see {@linkcode StartMethod}.
 * `"spawn"` also ends the workers waiting now. It may be called at any time;
 * it applies to the workers started after it.
 *
 * @param method `"forkserver"` (the default) or `"spawn"`.
 * @throws {TypeError} for any other value, `"fork"` included.
 *
 * @example Start every worker on demand
 * ```ts
 * import { getStartMethod, setStartMethod } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * setStartMethod("spawn");
 * assert.equal(getStartMethod(), "spawn");
 * setStartMethod("forkserver");
 * ```
 */
export function setStartMethod(method: StartMethod): void {
  if (!METHODS.includes(method)) {
    throw new TypeError(messages.badStartMethod(method));
  }
  setStandby(method === "forkserver");
}

/**
 * How new workers start now, as Python's
 * `multiprocessing.get_start_method()`.
 *
 * @returns `"forkserver"` (the default) or `"spawn"`.
 *
 * @example Read the start method
 * ```ts
 * import { getStartMethod } from "@parallel/multiprocessing";
 *
 * console.log(getStartMethod()); // "forkserver"
 * ```
 */
export function getStartMethod(): StartMethod {
  return standbyOn() ? "forkserver" : "spawn";
}

/**
 * Every start method this library has, as Python's
 * `multiprocessing.get_all_start_methods()`; the first is the default.
 *
 * @returns `["forkserver", "spawn"]`.
 *
 * @example List the start methods
 * ```ts
 * import { getAllStartMethods } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(getAllStartMethods(), ["forkserver", "spawn"]);
 * ```
 */
export function getAllStartMethods(): StartMethod[] {
  return [...METHODS];
}
