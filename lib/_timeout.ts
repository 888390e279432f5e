// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The one check for every `timeout` argument.

import { messages } from "./_messages.ts";

/** Beyond this, setTimeout fires at once: such timeouts mean "no limit". */
export const MAX_TIMER = 2 ** 31 - 1;

/**
 * Checks a timeout in ms: `undefined` (or `null`, where `allowNull`) means no
 * limit; otherwise a number ≥ 0.
 *
 * @throws {TypeError} when it is not a number.
 * @throws {RangeError} when it is negative.
 */
export function checkTimeout(
  timeout: unknown,
  what: string,
  allowNull = false,
): number | undefined {
  if (timeout === undefined || (allowNull && timeout === null)) {
    return undefined;
  }
  if (typeof timeout !== "number" || Number.isNaN(timeout)) {
    throw new TypeError(
      messages.badOption(what, "a number of milliseconds", timeout),
    );
  }
  if (timeout < 0) {
    throw new RangeError(
      messages.badOption(what, "zero or more milliseconds", timeout),
    );
  }
  return timeout;
}
