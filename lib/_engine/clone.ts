// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Turning a failed structured clone into an error that names the bad value.

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

/** A `DataCloneError` naming the part of `value` (at `path`) that failed. */
export function cloneError(
  value: unknown,
  path: string,
  cause: unknown,
): DOMException {
  const found = findUncloneable(value, path);
  const detail = found ?? {
    path,
    reason: cause instanceof Error ? cause.message : String(cause),
  };
  const err = new DOMException(
    messages.dataClone(detail.path, detail.reason),
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
  try {
    port.postMessage(msg, transfer ?? []);
  } catch (err) {
    if (err instanceof DOMException && err.name === "DataCloneError") {
      throw cloneError(value, path, err);
    }
    throw err;
  }
}
