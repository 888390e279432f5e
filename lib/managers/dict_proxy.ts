// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import {
  registerProcessSafe,
  registerShareable,
} from "../_shared/shareable.ts";
import * as P from "./_protocol.ts";
import {
  all,
  ask,
  bool,
  call,
  first,
  type Items,
  none,
  num,
  pairs,
} from "./_proxy.ts";
import { BaseProxy } from "./base_proxy.ts";
import { KeyError } from "../errors.ts";
import { messages } from "../_messages.ts";

const KIND = "dict";

/** A key as the manager takes it: -0 and 0 are one key, as in a Map. */
export function keyArg(k: unknown): unknown {
  return Object.is(k, -0) ? 0 : k;
}

/** The entries of `update()`'s argument, as [key, value] pairs. */
export function entriesOf(
  source: unknown,
  what: string,
): [unknown, unknown][] {
  if (source instanceof Map) return [...source];
  if (source !== null && typeof source === "object") {
    if (Symbol.iterator in source) {
      const out: [unknown, unknown][] = [];
      let i = 0;
      for (const pair of source as Iterable<unknown>) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new TypeError(
            messages.badOption(
              `${what} entry ${i}`,
              "a [key, value] pair",
              pair,
            ),
          );
        }
        out.push([pair[0], pair[1]]);
        i++;
      }
      return out;
    }
    return Object.entries(source);
  }
  throw new TypeError(
    messages.badOption(
      what,
      "a Map, an iterable of [key, value] pairs or an object",
      source,
    ),
  );
}

/** The items of a set of entries, each named for a DataCloneError. */
export function entryItems(
  entries: [unknown, unknown][],
  what: string,
): Items {
  const items: (readonly [unknown, string])[] = [];
  for (let i = 0; i < entries.length; i++) {
    const [k, v] = entries[i]!;
    items.push([keyArg(k), `the key of ${what} entry ${i}`]);
    items.push([v, `the value of ${what} entry ${i}`]);
  }
  return items;
}

/**
 * A dict that lives in a {@linkcode Manager}, as Python's `manager.dict()`:
 * every process holding this proxy sees and changes the same entries.
 * Made by `manager.dict()`; pass it in `Process` args or pool task
 * arguments.
 *
 * Each method is one request to the manager, served whole before the next
 * (atomic), and returns a promise. Keys and values are structured-clone
 * values, copied in and out: change a value you read, then `set()` it back.
 * Keys are the same key when they are equal primitives (as in a `Map`:
 * `1` and `"1"` differ) or objects with the same contents (as Python's
 * tuple keys: `["a", 1]` finds an entry set with another `["a", 1]`).
 * Entries keep the order they were first set in.
 *
 * @typeParam K The keys' type.
 * @typeParam V The values' type.
 *
 * @example Count words from several processes
 * ```ts no-eval
 * import { type DictProxy, Manager, Process } from "@parallel/multiprocessing";
 *
 * export async function count(counts: DictProxy<string, number>, word: string) {
 *   await counts.set(word, (await counts.get(word, 0)) + 1);
 * }
 *
 * if (import.meta.main) {
 *   await using manager = new Manager();
 *   const counts = manager.dict<string, number>();
 *   const p = new Process({ target: count, args: [counts, "spam"] });
 *   p.start();
 *   await p.join();
 *   console.log(await counts.toMap()); // Map(1) { "spam" => 1 }
 * }
 * ```
 */
export class DictProxy<K = unknown, V = unknown> extends BaseProxy {
  /**
   * The value of `key`, or `undefined` when it has none (Python's
   * `d.get(key)`).
   *
   * @param key The key.
   * @returns A promise of the value, or `undefined`.
   * @throws {DOMException} (as a rejection) named `DataCloneError` when
   * `key` is not a structured-clone value.
   * @throws {Error} (as a rejection) when the manager was shut down.
   *
   * @example Get with and without a default
   * ```ts
   * import { Manager } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * await using manager = new Manager();
   * const d = manager.dict<string, number>();
   * await d.set("a", 1);
   * assert.equal(await d.get("a"), 1);
   * assert.equal(await d.get("b"), undefined);
   * assert.equal(await d.get("b", 0), 0);
   * ```
   */
  get(key: K): Promise<V | undefined>;
  /**
   * The value of `key`, or `fallback` when it has none (Python's
   * `d.get(key, default)`).
   *
   * @param key The key.
   * @param fallback What to resolve with when `key` has no value.
   * @returns A promise of the value, or `fallback`.
   */
  get<D>(key: K, fallback: D): Promise<V | D>;
  get(key: K, ...fallback: unknown[]): Promise<unknown> {
    return call(
      this,
      KIND,
      P.DICT_GET,
      P.NONE,
      P.NONE,
      [[keyArg(key), "the key of dict.get()"]],
      false,
      (r) => r.status === P.MISSING ? fallback[0] : first(r),
    );
  }

  /**
   * Sets the value of `key` (Python's `d[key] = value`).
   *
   * @param key The key.
   * @param value The value, copied into the manager.
   * @returns A promise that resolves once the manager holds it.
   * @throws {DOMException} (as a rejection) named `DataCloneError`, naming
   * the key or the value, when it is not a structured-clone value (or is
   * a class instance, or a proxy).
   */
  set(key: K, value: V): Promise<void> {
    return call(
      this,
      KIND,
      P.DICT_SET,
      P.NONE,
      P.NONE,
      [[keyArg(key), "the key of dict.set()"], [
        value,
        "the value of dict.set()",
      ]],
      false,
      none,
    );
  }

  /**
   * Whether `key` has a value (Python's `key in d`).
   *
   * @param key The key.
   * @returns A promise of `true` when it has one.
   */
  has(key: K): Promise<boolean> {
    return call(
      this,
      KIND,
      P.DICT_HAS,
      P.NONE,
      P.NONE,
      [[keyArg(key), "the key of dict.has()"]],
      false,
      bool,
    );
  }

  /**
   * Removes `key` and its value, as `Map.prototype.delete` does (Python's
   * `del d[key]`, which raises a `KeyError` for a missing key: use
   * {@linkcode DictProxy.pop} for that).
   *
   * @param key The key.
   * @returns A promise of `true` when it was there, `false` when not.
   */
  delete(key: K): Promise<boolean> {
    return call(
      this,
      KIND,
      P.DICT_DELETE,
      P.NONE,
      P.NONE,
      [[keyArg(key), "the key of dict.delete()"]],
      false,
      bool,
    );
  }

  /**
   * Removes `key` and resolves with its value (Python's `d.pop(key)`).
   *
   * @param key The key.
   * @returns A promise of the value it had.
   * @throws {KeyError} (as a rejection) when `key` has no value.
   *
   * @example Pop a missing key
   * ```ts
   * import { KeyError, Manager } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * await using manager = new Manager();
   * const d = manager.dict<string, number>([["a", 1]]);
   * assert.equal(await d.pop("a"), 1);
   * await assert.rejects(d.pop("a"), KeyError);
   * assert.equal(await d.pop("a", 0), 0);
   * ```
   */
  pop(key: K): Promise<V>;
  /**
   * Removes `key` and resolves with its value, or with `fallback` when it
   * has none (Python's `d.pop(key, default)`).
   *
   * @param key The key.
   * @param fallback What to resolve with when `key` has no value.
   * @returns A promise of the value it had, or `fallback`.
   */
  pop<D>(key: K, fallback: D): Promise<V | D>;
  pop(key: K, ...fallback: unknown[]): Promise<unknown> {
    return call(
      this,
      KIND,
      P.DICT_POP,
      P.NONE,
      P.NONE,
      [[keyArg(key), "the key of dict.pop()"]],
      false,
      (r) => {
        if (r.status !== P.MISSING) return first(r);
        if (fallback.length > 0) return fallback[0];
        throw new KeyError(messages.keyError(key), key);
      },
    );
  }

  /**
   * The value of `key`; when it has none, sets it to `value` first
   * (Python's `d.setdefault(key, value)`), in one atomic step.
   *
   * @param key The key.
   * @param value The value to set when `key` has none.
   * @returns A promise of the value `key` has now.
   */
  setDefault(key: K, value: V): Promise<V> {
    return call(
      this,
      KIND,
      P.DICT_SET_DEFAULT,
      P.NONE,
      P.NONE,
      [
        [keyArg(key), "the key of dict.setDefault()"],
        [value, "the value of dict.setDefault()"],
      ],
      false,
      first<V>,
    );
  }

  /**
   * Sets many keys in one atomic step (Python's `d.update(...)`).
   *
   * @param entries A `Map`, an iterable of `[key, value]` pairs, or an
   * object whose own properties are the entries.
   * @returns A promise that resolves once the manager holds them.
   * @throws {TypeError} (as a rejection) when `entries` is none of those.
   */
  update(
    entries:
      | Iterable<readonly [K, V]>
      | (string extends K ? Record<string, V> : never),
  ): Promise<void> {
    let items: Items;
    try {
      items = entryItems(entriesOf(entries, "dict.update()"), "dict.update()");
    } catch (err) {
      return Promise.reject(err);
    }
    return call(this, KIND, P.DICT_UPDATE, P.NONE, P.NONE, items, false, none);
  }

  /**
   * The keys, in insertion order (Python's `list(d.keys())`).
   *
   * @returns A promise of an array of copies of the keys.
   */
  keys(): Promise<K[]> {
    return ask(this, KIND, P.DICT_KEYS, all<K>);
  }

  /**
   * The values, in insertion order (Python's `list(d.values())`).
   *
   * @returns A promise of an array of copies of the values.
   */
  values(): Promise<V[]> {
    return ask(this, KIND, P.DICT_VALUES, all<V>);
  }

  /**
   * The `[key, value]` pairs, in insertion order (Python's
   * `list(d.items())`).
   *
   * @returns A promise of an array of pairs.
   */
  entries(): Promise<[K, V][]> {
    return ask(this, KIND, P.DICT_ENTRIES, pairs<K, V>);
  }

  /**
   * How many entries the dict has (Python's `len(d)`).
   *
   * @returns A promise of the count.
   */
  size(): Promise<number> {
    return ask(this, KIND, P.DICT_SIZE, num);
  }

  /**
   * Removes every entry (Python's `d.clear()`).
   *
   * @returns A promise that resolves once the dict is empty.
   */
  clear(): Promise<void> {
    return ask(this, KIND, P.DICT_CLEAR, none);
  }

  /**
   * A copy of the whole dict as a `Map` (Python's `d.copy()`), taken in one
   * atomic step.
   *
   * @returns A promise of a new Map.
   */
  toMap(): Promise<Map<K, V>> {
    return ask(this, KIND, P.DICT_ENTRIES, (r) => new Map(pairs<K, V>(r)));
  }
}

registerShareable("DictProxy", DictProxy.prototype);
// It crosses to an OS child process as a token (manager_link.ts).
registerProcessSafe("DictProxy");
