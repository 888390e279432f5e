// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

import {
  registerProcessSafe,
  registerShareable,
} from "../_shared/shareable.ts";
import * as P from "./_protocol.ts";
import {
  all,
  ask,
  call,
  first,
  intArg,
  type Items,
  none,
  num,
  optIntArg,
} from "./_proxy.ts";
import { BaseProxy } from "./base_proxy.ts";
import { ValueError } from "../errors.ts";
import { messages } from "../_messages.ts";

const KIND = "list";

/** The items of `values`, each named for a DataCloneError. */
export function listItems(values: unknown, what: string): Items {
  if (
    values === null || typeof values !== "object" ||
    !(Symbol.iterator in values)
  ) {
    throw new TypeError(messages.badOption(what, "an iterable", values));
  }
  const items: (readonly [unknown, string])[] = [];
  let i = 0;
  for (const v of values as Iterable<unknown>) {
    items.push([v, `${what} item ${i++}`]);
  }
  return items;
}

/** A RangeError for index `i` of a list of `length` items. */
function outOfRange(op: string, i: number, length: number): RangeError {
  return new RangeError(messages.listIndex(op, i, length));
}

/**
 * A list that lives in a {@linkcode Manager}, as Python's `manager.list()`:
 * every process holding this proxy sees and changes the same items. Made by
 * `manager.list(init?)`; pass it in `Process` args or pool task arguments.
 *
 * Each method is one request to the manager, served whole before the next
 * (atomic), and returns a promise. Items are structured-clone values,
 * copied in and out. Indices are Python's: `-1` is the last item, `-2` the
 * one before; an index outside the list rejects with a `RangeError`
 * (Python's `IndexError`). `remove()` and `index()` find an item equal to
 * the value by content: equal primitives, or objects with the same contents.
 *
 * @typeParam T The items' type.
 *
 * @example Collect results from a pool
 * ```ts no-eval
 * import { type ListProxy, Manager, Pool } from "@parallel/multiprocessing";
 *
 * export async function square(out: ListProxy<number>, x: number) {
 *   await out.append(x * x);
 * }
 *
 * if (import.meta.main) {
 *   await using manager = new Manager();
 *   const out = manager.list<number>();
 *   await using pool = new Pool(2);
 *   await pool.starmap(square, [1, 2, 3].map((x) => [out, x] as const));
 *   console.log((await out.toArray()).sort()); // [1, 4, 9]
 * }
 * ```
 */
export class ListProxy<T = unknown> extends BaseProxy {
  /**
   * The item at `index` (Python's `l[index]`; `-1` is the last).
   *
   * @param index An integer from `-length` to `length - 1`.
   * @returns A promise of a copy of the item.
   * @throws {RangeError} (as a rejection) when `index` is out of range.
   * @throws {TypeError} (as a rejection) when `index` is not a number
   * (a `RangeError` when it is a number but not an integer).
   *
   * @example Python's indices
   * ```ts
   * import { Manager } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * await using manager = new Manager();
   * const l = manager.list(["a", "b", "c"]);
   * assert.equal(await l.get(0), "a");
   * assert.equal(await l.get(-1), "c");
   * await assert.rejects(l.get(3), RangeError);
   * ```
   */
  get(index: number): Promise<T> {
    try {
      const i = intArg(index, "list.get() index");
      return call(this, KIND, P.LIST_GET, i, P.NONE, [], false, (r) => {
        if (r.status === P.OUT_OF_RANGE) throw outOfRange("get", i, r.num);
        return first<T>(r);
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Replaces the item at `index` (Python's `l[index] = value`).
   *
   * @param index An integer from `-length` to `length - 1`.
   * @param value The new item.
   * @returns A promise that resolves once it is set.
   * @throws {RangeError} (as a rejection) when `index` is out of range.
   */
  set(index: number, value: T): Promise<void> {
    try {
      const i = intArg(index, "list.set() index");
      return call(
        this,
        KIND,
        P.LIST_SET,
        i,
        P.NONE,
        [[value, "the value of list.set()"]],
        false,
        (r) => {
          if (r.status === P.OUT_OF_RANGE) throw outOfRange("set", i, r.num);
        },
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Adds `value` at the end (Python's `l.append(value)`).
   *
   * @param value The item.
   * @returns A promise that resolves once it is added.
   */
  append(value: T): Promise<void> {
    return call(
      this,
      KIND,
      P.LIST_APPEND,
      P.NONE,
      P.NONE,
      [[value, "the value of list.append()"]],
      false,
      none,
    );
  }

  /**
   * Adds every value of `values` at the end, in one atomic step (Python's
   * `l.extend(values)`).
   *
   * @param values The items.
   * @returns A promise that resolves once they are added.
   * @throws {TypeError} (as a rejection) when `values` is not iterable.
   */
  extend(values: Iterable<T>): Promise<void> {
    try {
      const items = listItems(values, "list.extend()");
      return call(
        this,
        KIND,
        P.LIST_EXTEND,
        P.NONE,
        P.NONE,
        items,
        false,
        none,
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Inserts `value` before position `index` (Python's `l.insert(index,
   * value)`): an index past the end appends, one before the start
   * prepends, as in Python.
   *
   * @param index An integer; negative counts from the end.
   * @param value The item.
   * @returns A promise that resolves once it is inserted.
   */
  insert(index: number, value: T): Promise<void> {
    try {
      const i = intArg(index, "list.insert() index");
      return call(
        this,
        KIND,
        P.LIST_INSERT,
        i,
        P.NONE,
        [[value, "the value of list.insert()"]],
        false,
        none,
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Removes the item at `index` (default: the last) and resolves with it
   * (Python's `l.pop(index)`).
   *
   * @param index An integer from `-length` to `length - 1`; default `-1`.
   * @returns A promise of the item.
   * @throws {RangeError} (as a rejection) when the list is empty or
   * `index` is out of range.
   */
  pop(index?: number): Promise<T> {
    try {
      const i = optIntArg(index, "list.pop() index");
      return call(this, KIND, P.LIST_POP, i, P.NONE, [], false, (r) => {
        if (r.status !== P.OUT_OF_RANGE) return first<T>(r);
        if (r.num === 0) throw new RangeError(messages.popEmpty());
        throw outOfRange("pop", i, r.num);
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Removes the first item equal to `value` (Python's `l.remove(value)`).
   *
   * @param value The value to find.
   * @returns A promise that resolves once it is removed.
   * @throws {ValueError} (as a rejection) when no item equals `value`.
   */
  remove(value: T): Promise<void> {
    return call(
      this,
      KIND,
      P.LIST_REMOVE,
      P.NONE,
      P.NONE,
      [[value, "the value of list.remove()"]],
      false,
      (r) => {
        if (r.status === P.NOT_FOUND) {
          throw new ValueError(messages.notInList("remove", value));
        }
      },
    );
  }

  /**
   * The position of the first item equal to `value`, looking from `start`
   * up to (not including) `end` (Python's `l.index(value, start, end)`).
   *
   * @param value The value to find.
   * @param start Where to start; default 0; negative counts from the end.
   * @param end Where to stop; default the end.
   * @returns A promise of the index.
   * @throws {ValueError} (as a rejection) when no item there equals
   * `value`.
   */
  index(value: T, start?: number, end?: number): Promise<number> {
    try {
      const a = optIntArg(start, "list.index() start");
      const b = optIntArg(end, "list.index() end");
      return call(
        this,
        KIND,
        P.LIST_INDEX,
        a,
        b,
        [[value, "the value of list.index()"]],
        false,
        (r) => {
          if (r.status === P.NOT_FOUND) {
            throw new ValueError(messages.notInList("index", value));
          }
          return r.num;
        },
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * How many items the list has (Python's `len(l)`).
   *
   * @returns A promise of the count.
   */
  length(): Promise<number> {
    return ask(this, KIND, P.LIST_LENGTH, num);
  }

  /**
   * A copy of the items from `start` up to (not including) `end`, as
   * Python's `l[start:end]` and `Array.prototype.slice` take them:
   * negative bounds count from the end, bounds past either end are
   * clamped.
   *
   * @param start Where to start; default 0.
   * @param end Where to stop; default the end.
   * @returns A promise of a new array.
   */
  slice(start?: number, end?: number): Promise<T[]> {
    try {
      const a = optIntArg(start, "list.slice() start");
      const b = optIntArg(end, "list.slice() end");
      return call(this, KIND, P.LIST_SLICE, a, b, [], false, all<T>);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * A copy of the whole list (Python's `l[:]`), taken in one atomic step.
   *
   * @returns A promise of a new array.
   */
  toArray(): Promise<T[]> {
    return ask(this, KIND, P.LIST_SLICE, all<T>);
  }
}

registerShareable("ListProxy", ListProxy.prototype);
// It crosses to an OS child process as a token (manager_link.ts).
registerProcessSafe("ListProxy");
