// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// A pool's options, checked and filled in once, from one frozen table of
// defaults: what users pass (`PoolOptions`) becomes what the engine runs
// with (`ResolvedPoolOptions`).

import { MAX_TIMER, positiveInt } from "../_check.ts";
import { messages } from "../_messages.ts";
import { context } from "../_shared/context.ts";
import { backendFactory, type BackendInit } from "../_engine/backend.ts";
import type { PoolEngine } from "../_engine/dispatcher.ts";
import type { EngineOptions } from "../_engine/local_engine.ts";
import {
  assertReadable,
  checkCombination,
  checkIsolation,
  checkLimits,
  checkPermissions,
} from "../_engine/permissions.ts";
import { assertCanSpawn, childCommand } from "../_engine/flags.ts";
import { checkIpc } from "../_shared/ipc.ts";
import { checkExported, fnRef, resolveModule } from "../_engine/target.ts";
import { assertWorkerOptions } from "../_engine/unstable_flag.ts";
import { canUnref } from "../_engine/web_spawn.ts";
import { cpuCount } from "../process/cpu_count.ts";
import type { CallOptions, PoolOptions } from "./types.ts";

/** The defaults of a pool's options; `processes` defaults to `cpuCount()`
 * and `module` to the module that makes the pool. */
export const POOL_DEFAULTS = Object.freeze(
  {
    permissions: "inherit",
    resourceLimits: undefined,
    isolation: "thread",
    command: undefined,
    initializer: undefined,
    initargs: Object.freeze([]) as readonly unknown[],
    maxTasksPerChild: Infinity,
    /** ms an idle "inherit" worker lives: for ever, as it never keeps the
     * program alive. */
    idleTimeout: Infinity,
    /** ms an idle thread with scoped permissions lives where Deno cannot
     * unreference it (see lib/_engine/web_spawn.ts), so that it does not
     * keep the program alive. (An idle OS process never does: it lives for
     * ever.) */
    scopedIdleTimeout: 1000,
  } as const,
);

/** The options that configure local workers, so not a remote backend's. */
const WORKER_OPTIONS = [
  "processes",
  "initializer",
  "initargs",
  "maxTasksPerChild",
  "permissions",
  "resourceLimits",
  "idleTimeout",
  "isolation",
] as const;

/** A pool's options with every default filled in. With a backend, the
 * worker settings are the defaults: the worker command owns them. */
export interface ResolvedPoolOptions extends EngineOptions {
  /** Makes the engine of a remote backend; undefined for local Workers. */
  readonly backend: ((init: BackendInit) => PoolEngine) | undefined;
  /** The "module" option, resolved; undefined when not given (targets are
   * then found from each call site). */
  readonly given: string | undefined;
}

/**
 * Checks a pool's options (a number of processes, or the options object)
 * and fills in the defaults.
 *
 * @throws {RangeError} when a number is out of range.
 * @throws {TypeError} when an option has the wrong type, or a worker
 * setting is given with a backend.
 * @throws {Error} when called while a worker imports its module (an
 * unguarded top level), or scoped permissions lack the unstable flag.
 * @throws {Deno.errors.NotCapable} with isolation "process", when this
 * program may not start a child, or the permissions ask for more than it
 * holds.
 */
export function resolvePoolOptions<I extends unknown[]>(
  options: number | PoolOptions<I> | undefined,
): ResolvedPoolOptions {
  const opts: PoolOptions<I> =
    typeof options === "number" || options === undefined
      ? { processes: options as number }
      : options;
  if (opts === null || typeof opts !== "object") {
    throw new TypeError(
      messages.badOption("Pool options", "a number or an object", options),
    );
  }
  let backend: ResolvedPoolOptions["backend"];
  if (opts.backend !== undefined) {
    backend = backendFactory(opts.backend);
    if (backend === undefined) {
      throw new TypeError(messages.badBackend(opts.backend));
    }
    for (const name of WORKER_OPTIONS) {
      if (opts[name] !== undefined) {
        throw new TypeError(messages.backendOption(name));
      }
    }
  }
  const processes = opts.processes === undefined
    ? cpuCount()
    : positiveInt(opts.processes, messages.badProcesses);
  const module = resolveModule(opts.module);
  if (context().importing) throw new Error(messages.unguarded(module));
  const given = opts.module === undefined ? undefined : module;
  if (backend !== undefined) {
    return { ...POOL_DEFAULTS, processes, module, backend, given };
  }
  const permissions = checkPermissions(opts.permissions);
  const resourceLimits = checkLimits(opts.resourceLimits);
  const isolation = checkIsolation(opts.isolation);
  const child = isolation === "process";
  checkCombination(permissions, resourceLimits, isolation);
  const maxTasksPerChild = opts.maxTasksPerChild === undefined
    ? POOL_DEFAULTS.maxTasksPerChild
    : positiveInt(
      opts.maxTasksPerChild,
      (v) => messages.badOption('"maxTasksPerChild"', "a positive integer", v),
    );
  const idleTimeout = checkIdle(
    opts.idleTimeout,
    permissions === "inherit" || child || canUnref(),
  );
  let initializer: EngineOptions["initializer"] = POOL_DEFAULTS.initializer;
  if (opts.initializer !== undefined) {
    const fn = fnRef(opts.initializer, '"initializer"');
    checkExported(fn, module);
    const args = opts.initargs ?? POOL_DEFAULTS.initargs;
    if (!Array.isArray(args)) {
      throw new TypeError(messages.badOption('"initargs"', "an array", args));
    }
    // A child gets them over its IPC channel: refused now, not when the
    // first worker starts.
    if (child) checkIpc(args, "initargs", true);
    initializer = { fn, args };
  }
  assertReadable(module);
  let command: ResolvedPoolOptions["command"];
  if (child) {
    assertCanSpawn();
    command = childCommand(permissions, resourceLimits);
  } else if (permissions !== "inherit") assertWorkerOptions();
  return {
    processes,
    module,
    permissions,
    resourceLimits,
    initializer,
    maxTasksPerChild,
    idleTimeout,
    isolation,
    command,
    backend,
    given,
  };
}

/** The "idleTimeout" option in ms, `Infinity` for no limit. */
function checkIdle(value: unknown, inherit: boolean): number {
  if (value === undefined) {
    return inherit
      ? POOL_DEFAULTS.idleTimeout
      : POOL_DEFAULTS.scopedIdleTimeout;
  }
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new (typeof value === "number" ? RangeError : TypeError)(
      messages.badOption('"idleTimeout"', "zero or more milliseconds", value),
    );
  }
  // Beyond setTimeout's 32-bit range a timer would fire at once.
  return value > MAX_TIMER ? Infinity : value;
}

/** Whether a call's chunk-size argument holds its options instead, as in
 * `map(fn, input, { signal })`. */
export function isOptions(chunksize: unknown): boolean {
  return chunksize !== null && typeof chunksize === "object";
}

const NO_CALL_OPTIONS: CallOptions = Object.freeze({});

/**
 * Checks a call's options: `signal` and `onProgress`.
 *
 * @throws {TypeError} when they are not an object, or one has the wrong type.
 */
export function checkCallOptions(value: unknown): CallOptions {
  if (value === undefined) return NO_CALL_OPTIONS;
  if (value === null || typeof value !== "object") {
    throw new TypeError(
      messages.badOption("call options", "an object", value),
    );
  }
  const o = value as CallOptions;
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(
      messages.badOption('"signal"', "an AbortSignal", o.signal),
    );
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== "function") {
    throw new TypeError(
      messages.badOption('"onProgress"', "a function", o.onProgress),
    );
  }
  return o;
}
