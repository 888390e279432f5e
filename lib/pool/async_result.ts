// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { TimeoutError } from "../errors.ts";
import { messages } from "../_messages.ts";
import { checkTimeout, MAX_TIMER } from "../_check.ts";

/** The callbacks of the `*Async` pool methods. */
export interface AsyncResultCallbacks<T> {
  /** Called with the value when the work succeeds. */
  callback?: ((value: T) => void) | undefined;
  /** Called with the error when the work fails. */
  errorCallback?: ((error: unknown) => void) | undefined;
}

// A throwing callback must not become an unhandled rejection that ends the
// program: it is reported on stderr, as Python's pool reports it.
function guard<V>(cb: (v: V) => void, value: V, what: string): void {
  try {
    cb(value);
  } catch (err) {
    console.error(`AsyncResult ${what} threw:`, err);
  }
}

/** Throws a TypeError unless the callbacks are functions (or absent). */
export function checkCallbacks(callbacks: unknown): void {
  if (callbacks === null || typeof callbacks !== "object") return;
  for (const key of ["callback", "errorCallback"] as const) {
    const cb = (callbacks as Record<string, unknown>)[key];
    if (cb !== undefined && typeof cb !== "function") {
      throw new TypeError(messages.badOption(`"${key}"`, "a function", cb));
    }
  }
}

/**
 * The handle of work started by `Pool.applyAsync`, `mapAsync` or
 * `starmapAsync`, as Python's `AsyncResult`. It is `PromiseLike`, so
 * `await pool.applyAsync(f, [1])` gives the value. A failure that nobody
 * awaits is not reported as an unhandled rejection.
 *
 * @typeParam T The value the work gives.
 *
 * @example Wait with a timeout
 * ```ts
 * import { AsyncResult } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const result = new AsyncResult(Promise.resolve(42));
 * assert.equal(await result.get(1000), 42);
 * assert.ok(result.ready());
 * assert.ok(result.successful());
 * ```
 */
export class AsyncResult<T> implements PromiseLike<T> {
  #promise: Promise<T>;
  #state: "pending" | "fulfilled" | "rejected" = "pending";

  /**
   * Wraps `promise`; the pool makes these, and so may tests.
   *
   * @param promise The work's promise.
   * @param callbacks Called once the work settles.
   */
  constructor(promise: Promise<T>, callbacks: AsyncResultCallbacks<T> = {}) {
    checkCallbacks(callbacks);
    // One reaction marks the state and runs the callbacks; it also marks a
    // rejection as handled, so nobody has to await an AsyncResult.
    this.#promise = promise;
    promise.then(
      (value) => {
        this.#state = "fulfilled";
        if (callbacks.callback) guard(callbacks.callback, value, "callback");
      },
      (error) => {
        this.#state = "rejected";
        const cb = callbacks.errorCallback;
        if (cb) guard(cb, error, "errorCallback");
      },
    );
  }

  /** Whether the work has finished. */
  ready(): boolean {
    return this.#state !== "pending";
  }

  /**
   * Whether the work finished without error.
   *
   * @throws {Error} when the work has not finished yet.
   */
  successful(): boolean {
    if (this.#state === "pending") {
      throw new Error(messages.resultNotReady());
    }
    return this.#state === "fulfilled";
  }

  /**
   * The value, once ready.
   *
   * @param timeout The most milliseconds to wait; by default no limit.
   * @returns The value; rejects with the work's error, or with a
   * `TimeoutError` after `timeout` ms (the work goes on).
   */
  get(timeout?: number): Promise<T> {
    let ms: number | undefined;
    try {
      ms = checkTimeout(timeout, "get() timeout");
    } catch (err) {
      return Promise.reject(err);
    }
    if (
      ms === undefined || ms > MAX_TIMER || this.#state !== "pending"
    ) {
      // Beyond setTimeout's 32-bit range (Infinity too): no time limit.
      return this.#promise;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      this.#promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new TimeoutError(messages.resultTimeout(ms)),
            ),
          ms,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /**
   * Waits until the work is finished or `timeout` ms have passed.
   *
   * @param timeout The most milliseconds to wait; by default no limit.
   * @returns A promise that resolves either way, never rejects for the work.
   */
  async wait(timeout?: number): Promise<void> {
    checkTimeout(timeout, "wait() timeout");
    try {
      await this.get(timeout);
    } catch {
      // the work's own error, or the timeout: wait() resolves either way
    }
  }

  /**
   * Attaches callbacks, as a promise's `then`.
   *
   * @param onfulfilled Called with the value.
   * @param onrejected Called with the error.
   * @returns A promise for the callback's result.
   */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#promise.then(onfulfilled, onrejected);
  }
}
