// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Objects that keep working on the other side of postMessage (queues, locks,
// shared values). Their state lives in own, cloneable fields (SharedArrayBuffer,
// MessagePort, numbers), and an own `$mp` field names their class; structured
// clone drops the prototype, and `revive` puts it back from a registry that
// each class fills when its module loads. Imported by both sides; imports
// nothing.

/** The own field that names a shareable's class. */
export const BRAND = "$mp";

/** How deep `revive` looks into containers for shareables. */
const REVIVE_DEPTH = 4;

const KEY = Symbol.for("@parallel/multiprocessing/shareables");

function registry(): Map<string, object> {
  const g = globalThis as unknown as Record<symbol, Map<string, object>>;
  return g[KEY] ??= new Map();
}

/** Registers `proto` as the prototype for objects branded `name`. */
export function registerShareable(name: string, proto: object): void {
  registry().set(name, proto);
}

/**
 * Restores the prototypes of branded objects in `value` (up to
 * `REVIVE_DEPTH` levels of arrays, plain objects, Map values and Set
 * members). Cheap for primitives.
 */
export function revive<T>(value: T, depth = 0): T {
  if (value === null || typeof value !== "object" || depth > REVIVE_DEPTH) {
    return value;
  }
  const brand = (value as Record<string, unknown>)[BRAND];
  if (typeof brand === "string") {
    const proto = registry().get(brand);
    if (proto !== undefined && Object.getPrototypeOf(value) !== proto) {
      Object.setPrototypeOf(value, proto);
    }
    return value;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) revive(value[i], depth + 1);
  } else if (value instanceof Map) {
    for (const v of value.values()) revive(v, depth + 1);
  } else if (value instanceof Set) {
    for (const v of value) revive(v, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const key in value) {
      revive((value as Record<string, unknown>)[key], depth + 1);
    }
  }
  return value;
}
