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

/** Built-in classes that structured clone copies as themselves (binary
 * data is `binaryBytes`'). */
function builtIn(value: object): boolean {
  return value instanceof Date || value instanceof RegExp ||
    value instanceof Error ||
    value instanceof DOMException || value instanceof Blob ||
    value instanceof MessagePort || value instanceof Boolean ||
    value instanceof Number || value instanceof String;
}

/** Adds up the bytes of the binary data that a walk passes. */
export interface ByteCount {
  /** Bytes of ArrayBuffers and views that a postMessage would copy. */
  bytes: number;
}

/** The bytes a postMessage copies for `value` if it is binary data (an
 * ArrayBuffer or a view on one; shared memory is not copied); -1 when it is
 * not binary data. */
function binaryBytes(value: object): number {
  if (ArrayBuffer.isView(value)) {
    return value.buffer instanceof ArrayBuffer ? value.byteLength : 0;
  }
  if (value instanceof ArrayBuffer) return value.byteLength;
  if (value instanceof SharedArrayBuffer) return 0;
  return -1;
}

/** A class instance found by `classIn`: the steps to it from the value
 * walked (".a[2]"), and why it cannot cross. */
interface Found {
  steps: string;
  readonly reason: string;
}

/** `found`, one step further from the value walked. */
function stepped(step: string, found: Found): Found {
  found.steps = step + found.steps;
  return found;
}

/** `seen`, made (holding `value`) when a walk first goes into `value`: a
 * value without objects inside needs none. */
function entered(seen: Set<unknown> | undefined, value: object): Set<unknown> {
  if (seen !== undefined) return seen;
  const made = new Set<unknown>();
  made.add(value);
  return made;
}

/** The walk of `findClassInstance`; it builds no path unless it finds. */
function classIn(
  value: object,
  seen: Set<unknown> | undefined,
  count: ByteCount | undefined,
): Found | undefined {
  if (Object.hasOwn(value, "$mp")) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (v === null || typeof v !== "object") continue;
      seen = entered(seen, value);
      if (seen.has(v)) continue;
      seen.add(v);
      const found = classIn(v, seen, count);
      if (found) return stepped(`[${i}]`, found);
    }
    return undefined;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const bytes = binaryBytes(value);
    if (bytes >= 0) {
      if (count !== undefined) count.bytes += bytes;
      return undefined;
    }
    if (value instanceof Map || value instanceof Set) {
      const entries = value instanceof Map ? [...value] : [...value];
      seen = entered(seen, value);
      seen.add(entries);
      const found = classIn(entries, seen, count);
      return found && stepped(".entries()", found);
    }
    if (builtIn(value)) return undefined;
    if (hasMethods(proto)) {
      const name = (proto.constructor as { name?: string })?.name ||
        "(anonymous)";
      return {
        steps: "",
        reason:
          `it is an instance of class ${name}, whose methods structured clone would drop (it copies only own data)`,
      };
    }
  }
  for (const key of Object.keys(value)) {
    const v: unknown = (value as Record<string, unknown>)[key];
    if (v === null || typeof v !== "object") continue;
    seen = entered(seen, value);
    if (seen.has(v)) continue;
    seen.add(v);
    const found = classIn(v, seen, count);
    if (found) return stepped(stepTo(key, false), found);
  }
  return undefined;
}

/**
 * Finds a class instance with methods in `value`: structured clone would
 * send it as a plain object, its methods silently lost. Shareables (objects
 * with an own `$mp` brand) are made to cross, and are not reported. Binary
 * data (ArrayBuffers, typed arrays, DataViews) is neither checked nor
 * walked; `count`, if given, adds up its bytes. `path` names `value` in the
 * failure; the walk allocates nothing for a value without objects inside.
 */
export function findClassInstance(
  value: unknown,
  path: string,
  seen?: Set<unknown>,
  count?: ByteCount,
): CloneFailure | undefined {
  if (value === null || typeof value !== "object") return undefined;
  if (seen !== undefined) {
    if (seen.has(value)) return undefined;
    seen.add(value);
  }
  const found = classIn(value, seen, count);
  return found === undefined
    ? undefined
    : { path: path + found.steps, reason: found.reason };
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
 * value at `path` of `value`. `checked`: the caller has looked for class
 * instances in `value` already. */
export function post(
  port: MessagePort,
  msg: unknown,
  value: unknown,
  path: string,
  transfer?: Transferable[],
  checked = false,
): void {
  if (!checked) {
    const found = findClassInstance(value, path);
    if (found) throw classError(found);
  }
  try {
    port.postMessage(msg, transfer ?? []);
  } catch (err) {
    if (err instanceof DOMException && err.name === "DataCloneError") {
      throw cloneError(value, path, err);
    }
    throw err;
  }
}
