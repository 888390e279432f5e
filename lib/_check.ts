// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The one module that checks numbers and timeouts: numeric options of the
// pool, the Redis backend and the worker command, and every `timeout`
// argument.

import { messages } from "./_messages.ts";

/** `value` if it is a positive integer; else a TypeError (not a number) or
 * RangeError with the message `make` gives. */
export function positiveInt(
  value: unknown,
  make: (v: unknown) => string,
): number {
  if (typeof value !== "number") throw new TypeError(make(value));
  if (!Number.isInteger(value) || value < 1) throw new RangeError(make(value));
  return value;
}

/** Option `name`: `fallback` when absent, else a positive integer. */
export function intOption(
  value: unknown,
  name: string,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  return positiveInt(
    value,
    (v) => messages.badOption(`"${name}"`, "a positive integer", v),
  );
}

/** Option `name` in milliseconds: `fallback` when absent, else a positive
 * number (`Infinity` too when `infinite`). */
export function msOption(
  value: unknown,
  name: string,
  fallback: number,
  infinite = false,
): number {
  if (value === undefined) return fallback;
  const expected = `a positive number of milliseconds${
    infinite ? " (or Infinity)" : ""
  }`;
  if (typeof value !== "number") {
    throw new TypeError(messages.badOption(`"${name}"`, expected, value));
  }
  if (
    Number.isNaN(value) || value <= 0 || (!infinite && !Number.isFinite(value))
  ) {
    throw new RangeError(messages.badOption(`"${name}"`, expected, value));
  }
  return value;
}

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
