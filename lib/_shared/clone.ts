// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Turning a failed structured clone into an error that names the bad value.
// Imported by both sides.

import { messages, quote } from "../_messages.ts";

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
): { path: string; reason: string } | undefined {
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
  for (const key of Object.keys(value)) {
    const step = Array.isArray(value) && /^\d+$/.test(key)
      ? `[${key}]`
      : /^[A-Za-z_$][\w$]*$/.test(key)
      ? `.${key}`
      : `[${JSON.stringify(key)}]`;
    const found = findUncloneable(
      (value as Record<string, unknown>)[key],
      path + step,
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
): { path: string; reason: string } | undefined {
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
    const step = /^[A-Za-z_$][\w$]*$/.test(key)
      ? `.${key}`
      : `[${JSON.stringify(key)}]`;
    const found = findClassInstance(
      (value as Record<string, unknown>)[key],
      path + step,
      seen,
    );
    if (found) return found;
  }
  return undefined;
}

/** A DataCloneError for a class instance found by `findClassInstance`. */
export function classError(
  found: { path: string; reason: string },
  back = false,
): DOMException {
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
  const found = findUncloneable(value, path);
  const detail = found ?? {
    path,
    reason: cause instanceof Error ? cause.message : String(cause),
  };
  const err = new DOMException(
    (back ? messages.dataCloneBack : messages.dataClone)(
      detail.path,
      detail.reason,
    ),
    "DataCloneError",
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

/** A value marked by `transfer()`: its buffers move instead of copying. */
export interface Transfer<T> {
  /** The brand that marks the wrapper. */
  readonly $transfer: true;
  /** The value to send. */
  readonly value: T;
  /** The buffers that move with it. */
  readonly list: Transferable[];
}

function collect(
  value: unknown,
  out: Set<Transferable>,
  seen: Set<unknown>,
): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (value instanceof ArrayBuffer) {
    out.add(value);
    return;
  }
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) out.add(value.buffer);
    return;
  }
  if (value instanceof MessagePort) {
    out.add(value);
    return;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) {
      collect(k, out, seen);
      collect(v, out, seen);
    }
    return;
  }
  if (value instanceof Set) {
    for (const v of value) collect(v, out, seen);
    return;
  }
  for (const v of Object.values(value)) collect(v, out, seen);
}

/** Which of `marked` (a batch's transfer list) `value` holds. */
export function transfersIn(
  value: unknown,
  marked: readonly Transferable[],
): Transferable[] {
  const found = new Set<Transferable>();
  collect(value, found, new Set());
  return marked.filter((t) => found.has(t));
}

/** Marks `value` so that its ArrayBuffers (found in it, or `list`) move. */
export function markTransfer<T>(value: T, list?: Transferable[]): Transfer<T> {
  let buffers = list;
  if (buffers === undefined) {
    const found = new Set<Transferable>();
    collect(value, found, new Set());
    buffers = [...found];
  }
  return { $transfer: true, value, list: buffers };
}

/** If `value` is marked, unwraps it and adds its buffers to `transfer`. */
export function unwrapTransfer(
  value: unknown,
  transfer: Transferable[],
): unknown {
  if (
    value !== null && typeof value === "object" &&
    (value as Partial<Transfer<unknown>>).$transfer === true
  ) {
    const t = value as Transfer<unknown>;
    for (const b of t.list) if (!transfer.includes(b)) transfer.push(b);
    return t.value;
  }
  return value;
}
