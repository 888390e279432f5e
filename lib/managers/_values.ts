// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Values to and from a manager: the queues' codec (structured-clone
// semantics, JSON when exact) plus the refusals that make a value that
// would not come back as it went fail loudly, with a DataCloneError that
// names the argument. Imported by the client side only.
//
// Imports lib/queues/_codec.ts, lib/_shared/clone.ts, lib/_shared/manager_link.ts
// and the message table.

import { decode, encode, extract } from "../queues/_codec.ts";
import {
  type CloneFailure,
  findClassInstance,
  findUncloneable,
} from "../_shared/clone.ts";
import { BRAND } from "../_shared/shareable.ts";
import { messages } from "../_messages.ts";

/** How deep `findShared` looks for shared objects inside a value. */
const SHARED_DEPTH = 8;

/** Finds a shared object (a proxy, Lock, Queue…) inside `value`. */
function findShared(
  value: unknown,
  path: string,
  depth = 0,
): CloneFailure | undefined {
  if (value === null || typeof value !== "object" || depth > SHARED_DEPTH) {
    return undefined;
  }
  const brand = (value as Record<string, unknown>)[BRAND];
  if (typeof brand === "string") {
    return { path, reason: messages.managerNested(brand) };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findShared(value[i], `${path}[${i}]`, depth + 1);
      if (found) return found;
    }
  } else if (value instanceof Map) {
    let i = 0;
    for (const [k, v] of value) {
      const found = findShared(k, `${path}.keys()[${i}]`, depth + 1) ??
        findShared(v, `${path}.values()[${i}]`, depth + 1);
      if (found) return found;
      i++;
    }
  } else if (value instanceof Set) {
    let i = 0;
    for (const v of value) {
      const found = findShared(v, `${path}.values()[${i++}]`, depth + 1);
      if (found) return found;
    }
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const key of Object.keys(value)) {
      const found = findShared(
        (value as Record<string, unknown>)[key],
        `${path}.${key}`,
        depth + 1,
      );
      if (found) return found;
    }
  }
  return undefined;
}

function refuse(found: CloneFailure, cause?: unknown): DOMException {
  const err = new DOMException(
    messages.managerClone(found.path, found.reason),
    "DataCloneError",
  );
  if (cause !== undefined) {
    Object.defineProperty(err, "cause", { value: cause, configurable: true });
  }
  return err;
}

/**
 * The bytes of `value` for the manager: a view that the next encoding
 * reuses (copy it first). `what` names it in errors, such as `"the value of
 * dict.set()"`.
 *
 * @throws {DOMException} named `DataCloneError` when the manager could not
 * give `value` back as it is: structured clone cannot copy it (a function,
 * a symbol), or it would lose its methods (a class instance) or its sharing
 * (a proxy, Lock or Queue).
 */
export function encodeValue(value: unknown, what: string): Uint8Array {
  if (value !== null && typeof value === "object") {
    const found = findShared(value, what) ?? findClassInstance(value, what);
    if (found !== undefined) throw refuse(found);
  }
  try {
    return encode(value, what);
  } catch (err) {
    throw refuse(
      findUncloneable(value, what) ?? {
        path: what,
        reason: err instanceof Error ? err.message : String(err),
      },
      err instanceof DOMException && err.cause !== undefined ? err.cause : err,
    );
  }
}

/** The bytes of a key: as `encodeValue`, with -0 taken as 0 (one key,
 * as in a Map and in Python). */
export function encodeKey(key: unknown, what: string): Uint8Array {
  return encodeValue(Object.is(key, -0) ? 0 : key, what);
}

/** The value of bytes the manager sent (`undefined` stands for itself). */
export function decodeValue(bytes: Uint8Array | undefined): unknown {
  if (bytes === undefined) return undefined;
  return decode(extract(bytes, 0, bytes.length));
}
