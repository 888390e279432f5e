// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import { TimeoutError } from "../errors.ts";
import { messages } from "../_messages.ts";
import { checkTimeout, MAX_TIMER } from "../_check.ts";
import type { CollectSink } from "../_engine/job.ts";

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

function ignore(): void {}

/** The callbacks as an AsyncResult keeps them, without its type parameter
 * (which a field would make invariant). */
interface StoredCallbacks {
  callback?(value: unknown): void;
  errorCallback?(error: unknown): void;
}

/** Given for the promise, it makes an AsyncResult that an engine settles
 * through `resultSink` (no promise is made unless one is asked for). */
const BY_ENGINE: object = Object.freeze({});

let settleResult: (
  result: AsyncResult<unknown>,
  ok: boolean,
  value: unknown,
) => void;

/** The sink of a call whose outcome goes to an AsyncResult. */
class ResultSink {
  readonly kind = "collect";
  readonly single: boolean;
  readonly #result: AsyncResult<unknown>;

  constructor(result: AsyncResult<unknown>, single: boolean) {
    this.#result = result;
    this.single = single;
  }

  resolve(value: unknown): void {
    settleResult(this.#result, true, value);
  }

  reject(error: unknown): void {
    settleResult(this.#result, false, error);
  }
}

/**
 * An AsyncResult for work that an engine will run, and the sink that
 * settles it (`single`: with the first value only, as `apply`).
 *
 * @param callbacks Checked already.
 */
export function engineResult<T>(
  callbacks: AsyncResultCallbacks<T>,
  single: boolean,
): { result: AsyncResult<T>; sink: CollectSink } {
  const result = new AsyncResult<T>(
    BY_ENGINE as Promise<T>,
    callbacks,
  );
  return {
    result,
    sink: new ResultSink(result as unknown as AsyncResult<unknown>, single),
  };
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
  /** The work's promise: the one given, or, for work that a pool's engine
   * settles, made when first asked for. */
  #promise: Promise<T> | undefined;
  /** Settles `#promise` when it was made before the work settled. */
  #settle: ((ok: boolean, value: unknown) => void) | undefined;
  #state: "pending" | "fulfilled" | "rejected" = "pending";
  /** The value or error, once settled by an engine. */
  #value: unknown;
  #callbacks: StoredCallbacks;

  /**
   * Wraps `promise`; the pool makes these, and so may tests.
   *
   * @param promise The work's promise.
   * @param callbacks Called once the work settles.
   */
  constructor(promise: Promise<T>, callbacks: AsyncResultCallbacks<T> = {}) {
    checkCallbacks(callbacks);
    this.#callbacks = callbacks as StoredCallbacks;
    if ((promise as unknown) === BY_ENGINE) return;
    // One reaction marks the state and runs the callbacks; it also marks a
    // rejection as handled, so nobody has to await an AsyncResult.
    this.#promise = promise;
    promise.then(
      (value) => {
        this.#state = "fulfilled";
        this.#callback(true, value);
      },
      (error) => {
        this.#state = "rejected";
        this.#callback(false, error);
      },
    );
  }

  static {
    settleResult = (result, ok, value) => result.#settled(ok, value);
  }

  /** Runs the callback for the outcome, if there is one. */
  #callback(ok: boolean, value: unknown): void {
    const callbacks = this.#callbacks;
    if (ok) {
      if (callbacks.callback) {
        guard(callbacks.callback, value, "callback");
      }
    } else if (callbacks.errorCallback) {
      guard(callbacks.errorCallback, value, "errorCallback");
    }
  }

  /** The engine settled the work: its callback runs in a microtask, ahead
   * of the reactions of anyone who awaits it, as a promise reaction would. */
  #settled(ok: boolean, value: unknown): void {
    if (this.#state !== "pending") return;
    this.#state = ok ? "fulfilled" : "rejected";
    this.#value = value;
    const callbacks = this.#callbacks;
    if (ok ? callbacks.callback : callbacks.errorCallback) {
      queueMicrotask(() => this.#callback(ok, value));
    }
    this.#settle?.(ok, value);
    this.#settle = undefined;
  }

  /** The work's promise (made now, if an engine settles the work). Its
   * rejection counts as handled, so nobody has to await it. */
  #promiseOf(): Promise<T> {
    if (this.#promise !== undefined) return this.#promise;
    let promise: Promise<T>;
    if (this.#state === "fulfilled") {
      promise = Promise.resolve(this.#value as T);
    } else if (this.#state === "rejected") {
      promise = Promise.reject(this.#value);
    } else {
      promise = new Promise<T>((resolve, reject) => {
        this.#settle = (ok, value) => ok ? resolve(value as T) : reject(value);
      });
    }
    promise.catch(ignore);
    return this.#promise = promise;
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
      return this.#promiseOf();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      this.#promiseOf(),
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
    return this.#promiseOf().then(onfulfilled, onrejected);
  }
}
