// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import {
  registerProcessSafe,
  registerShareable,
} from "../_shared/shareable.ts";
import * as P from "./_protocol.ts";
import { ask, call, first, none, pairs } from "./_proxy.ts";
import { BaseProxy } from "./base_proxy.ts";
import { messages } from "../_messages.ts";

const KIND = "namespace";

/** A namespace attribute name: a string. */
export function nameArg(name: unknown, what: string): string {
  if (typeof name !== "string") {
    throw new TypeError(messages.badOption(what, "a string", name));
  }
  return name;
}

/**
 * A set of named values that lives in a {@linkcode Manager}, as Python's
 * `manager.Namespace()`: Python's `ns.count` is `await ns.get("count")`,
 * and `ns.count = 1` is `await ns.set("count", 1)`. Made by
 * `manager.namespace(init?)`; pass it in `Process` args or pool task
 * arguments.
 *
 * Each method is one request to the manager, served whole before the next
 * (atomic), and returns a promise. Values are structured-clone values,
 * copied in and out. A name never set reads as `undefined`, as a missing
 * property of an object does; the type parameter lets TypeScript catch a
 * misspelt name.
 *
 * @typeParam T The names and the types of their values.
 *
 * @example Share settings
 * ```ts
 * import { Manager } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * const ns = manager.namespace({ name: "Bob", job: "Builder" });
 * await ns.set("job", "Plumber");
 * assert.equal(await ns.get("job"), "Plumber");
 * assert.deepEqual(await ns.toObject(), { name: "Bob", job: "Plumber" });
 * ```
 */
export class NamespaceProxy<
  T extends Record<string, unknown> = Record<string, unknown>,
> extends BaseProxy {
  /**
   * The value of `name` (Python's `ns.name`), or `undefined` when it was
   * never set.
   *
   * @param name The name.
   * @returns A promise of a copy of its value.
   * @throws {TypeError} (as a rejection) when `name` is not a string.
   */
  get<N extends keyof T & string>(name: N): Promise<T[N]> {
    try {
      const n = nameArg(name, "namespace.get() name");
      return call(
        this,
        KIND,
        P.NAMESPACE_GET,
        P.NONE,
        P.NONE,
        [[n, "the name of namespace.get()"]],
        false,
        (r) => (r.status === P.MISSING ? undefined : first(r)) as T[N],
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Sets the value of `name` (Python's `ns.name = value`).
   *
   * @param name The name.
   * @param value Its value, copied into the manager.
   * @returns A promise that resolves once the manager holds it.
   * @throws {TypeError} (as a rejection) when `name` is not a string.
   */
  set<N extends keyof T & string>(name: N, value: T[N]): Promise<void> {
    try {
      const n = nameArg(name, "namespace.set() name");
      return call(
        this,
        KIND,
        P.NAMESPACE_SET,
        P.NONE,
        P.NONE,
        [[n, "the name of namespace.set()"], [
          value,
          `the value of namespace.set(${JSON.stringify(n)})`,
        ]],
        false,
        none,
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * A copy of every name and value, as a plain object (Python's
   * `vars(ns)`), taken in one atomic step.
   *
   * @returns A promise of a new object.
   */
  toObject(): Promise<T> {
    return ask(
      this,
      KIND,
      P.NAMESPACE_ENTRIES,
      (r) => Object.fromEntries(pairs<string, unknown>(r)) as T,
    );
  }
}

registerShareable("NamespaceProxy", NamespaceProxy.prototype);
// It crosses to an OS child process as a token (manager_link.ts).
registerProcessSafe("NamespaceProxy");
