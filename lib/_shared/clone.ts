// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Turning a failed structured clone into an error that names the bad value,
// and posting with that check. Imported by both sides; the marks of
// `transfer()` are in transferables.ts.
//
// Imports lib/_messages.ts only.

import { messages, quote } from "../_messages.ts";

/** The path step to property `key` (an index, when `array` is true). */
function stepTo(key: string, array: boolean): string {
  if (array && /^\d+$/.test(key)) return `[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key)
    ? `.${key}`
    : `[${JSON.stringify(key)}]`;
}

function reasonFor(value: unknown): string | undefined {
  switch (typeof value) {
    case "function":
      return `${
        quote(value)
      } is a function, which structured clone cannot copy`;
    case "symbol":
      return `${quote(value)} is a symbol, which structured clone cannot copy`;
  }
  if (
    value instanceof WeakMap || value instanceof WeakSet ||
    value instanceof Promise || value instanceof WeakRef
  ) {
    return `a ${value.constructor.name} cannot be cloned`;
  }
  return undefined;
}

/** Finds the first value in `value` that structured clone rejects. */
export function findUncloneable(
  value: unknown,
  path: string,
  seen: Set<unknown> = new Set(),
): CloneFailure | undefined {
  const reason = reasonFor(value);
  if (reason !== undefined) return { path, reason };
  if (value === null || typeof value !== "object" || seen.has(value)) {
    return undefined;
  }
  seen.add(value);
  if (value instanceof Map) {
    let i = 0;
    for (const [k, v] of value) {
      const found = findUncloneable(k, `${path}.keys()[${i}]`, seen) ??
        findUncloneable(v, `${path}.get(${quote(k)})`, seen);
      if (found) return found;
      i++;
    }
    return undefined;
  }
  if (value instanceof Set) {
    let i = 0;
    for (const v of value) {
      const found = findUncloneable(v, `${path}.values()[${i++}]`, seen);
      if (found) return found;
    }
    return undefined;
  }
  const array = Array.isArray(value);
  for (const key of Object.keys(value)) {
    const found = findUncloneable(
      (value as Record<string, unknown>)[key],
      path + stepTo(key, array),
      seen,
    );
    if (found) return found;
  }
  return undefined;
}

function hasMethods(proto: object | null): boolean {
  while (proto !== null && proto !== Object.prototype) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === "constructor") continue;
      const d = Object.getOwnPropertyDescriptor(proto, key);
      if (d && (typeof d.value === "function" || d.get !== undefined)) {
        return true;
      }
    }
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

function builtIn(value: object): boolean {
  return ArrayBuffer.isView(value) || value instanceof Date ||
    value instanceof RegExp || value instanceof ArrayBuffer ||
    value instanceof SharedArrayBuffer || value instanceof Error ||
    value instanceof DOMException || value instanceof Blob ||
    value instanceof MessagePort || value instanceof Boolean ||
    value instanceof Number || value instanceof String;
}

/**
 * Finds a class instance with methods in `value`: structured clone would
 * send it as a plain object, its methods silently lost. Shareables (objects
 * with an own `$mp` brand) are made to cross, and are not reported.
 */
export function findClassInstance(
  value: unknown,
  path: string,
  seen: Set<unknown> = new Set(),
): CloneFailure | undefined {
  if (value === null || typeof value !== "object" || seen.has(value)) {
    return undefined;
  }
  seen.add(value);
  if (Object.hasOwn(value, "$mp")) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findClassInstance(value[i], `${path}[${i}]`, seen);
      if (found) return found;
    }
    return undefined;
  }
  if (value instanceof Map || value instanceof Set) {
    const entries = value instanceof Map ? [...value] : [...value];
    return findClassInstance(entries, `${path}.entries()`, seen);
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    if (builtIn(value)) return undefined;
    if (hasMethods(proto)) {
      const name = (proto.constructor as { name?: string })?.name ||
        "(anonymous)";
      return {
        path,
        reason:
          `it is an instance of class ${name}, whose methods structured clone would drop (it copies only own data)`,
      };
    }
  }
  for (const key of Object.keys(value)) {
    const found = findClassInstance(
      (value as Record<string, unknown>)[key],
      path + stepTo(key, false),
      seen,
    );
    if (found) return found;
  }
  return undefined;
}

/** Where a value fails to clone, and why. */
export interface CloneFailure {
  readonly path: string;
  readonly reason: string;
}

/** A `DataCloneError` for a failure that `findClassInstance` (or
 * `findUncloneable`) found (`back`: in a value a worker sends back). */
export function classError(found: CloneFailure, back = false): DOMException {
  return new DOMException(
    (back ? messages.dataCloneBack : messages.dataClone)(
      found.path,
      found.reason,
    ),
    "DataCloneError",
  );
}

/** A `DataCloneError` naming the part of `value` (at `path`) that failed. */
export function cloneError(
  value: unknown,
  path: string,
  cause: unknown,
  back = false,
): DOMException {
  const err = classError(
    findUncloneable(value, path) ?? {
      path,
      reason: cause instanceof Error ? cause.message : String(cause),
    },
    back,
  );
  Object.defineProperty(err, "cause", { value: cause, configurable: true });
  return err;
}

/** Posts `msg` on `port`; a clone failure becomes a `cloneError` for the
 * value at `path` of `value`. */
export function post(
  port: MessagePort,
  msg: unknown,
  value: unknown,
  path: string,
  transfer?: Transferable[],
): void {
  const found = findClassInstance(value, path);
  if (found) throw classError(found);
  try {
    port.postMessage(msg, transfer ?? []);
  } catch (err) {
    if (err instanceof DOMException && err.name === "DataCloneError") {
      throw cloneError(value, path, err);
    }
    throw err;
  }
}
