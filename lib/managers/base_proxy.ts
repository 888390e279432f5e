// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

/** The module that defines (and registers) every proxy class, for a worker
 * that meets a proxy without having loaded it (shareable.ts's
 * MODULE_FIELD). */
const PROXIES_MODULE = new URL("./manager.ts", import.meta.url).href;

/**
 * What every proxy of a {@linkcode Manager} is, as Python's `BaseProxy`: a
 * handle on one object of one manager. Its state is a few own fields that
 * cross to a worker by structured clone (and to an OS child process as a
 * token), so a proxy passes in `Process` args and pool task arguments; its
 * methods are those of {@linkcode DictProxy}, {@linkcode ListProxy},
 * {@linkcode NamespaceProxy}, {@linkcode LockProxy} and
 * {@linkcode QueueProxy}. Proxies are made by the manager, not constructed.
 *
 * @example Every proxy is a BaseProxy
 * ```ts
 * import { BaseProxy, Manager } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * assert.ok(manager.dict() instanceof BaseProxy);
 * assert.ok(manager.lock() instanceof BaseProxy);
 * ```
 */
export class BaseProxy {
  /**
   * The class name, for workers to restore the prototype.
   *
   * @ignore
   */
  readonly $mp: string;
  /**
   * The manager's key (manager_link.ts's MANAGER_FIELD).
   *
   * @ignore
   */
  readonly $manager: string;
  /**
   * The manager's shared table, absent in an OS child process
   * (manager_link.ts's TABLE_FIELD).
   *
   * @ignore
   */
  readonly $table?: SharedArrayBuffer;
  /**
   * The object's id in the manager.
   *
   * @ignore
   */
  readonly $id: number;
  /**
   * The module of the proxy classes (shareable.ts's MODULE_FIELD).
   *
   * @ignore
   */
  readonly $module: string = PROXIES_MODULE;
  /** Keeps the manager alive while a proxy of it lives in its thread (not
   * cloned: a worker's copy does not hold it). */
  readonly #manager: object;

  /**
   * Makes the proxy of object `id`: for the Manager only.
   *
   * @ignore
   */
  constructor(
    brand: string,
    manager: object,
    key: string,
    table: SharedArrayBuffer,
    id: number,
  ) {
    this.$mp = brand;
    this.$manager = key;
    this.$table = table;
    this.$id = id;
    this.#manager = manager;
  }
}
