// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { messages } from "../_messages.ts";
import { setStandby, standbyOn } from "../_engine/standby.ts";

/**
 * How a new worker starts, by the names of Python's start methods:
 * - `"forkserver"` (the default): after a program's first worker of a kind
 *   starts, a few more of that kind are started in the background and wait
 *   to be taken by the next {@linkcode Process} or pool worker, which then
 *   starts in a few ms. Only thread workers (`permissions: "inherit"`,
 *   `isolation: "thread"`) wait ahead; they never keep the program alive,
 *   and end after 10 s without a start of their kind.
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
