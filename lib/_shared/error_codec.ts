// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The error codec of the wire protocol: `encodeError` turns any thrown value
// into a `WireError`/`WireThrown` that survives structured clone whole, and
// `decodeError` rebuilds it (reviving library classes registered with
// `registerErrors`, and classes a worker's target module exports, through
// `ErrorClasses`). The message types themselves are in wire.ts.
//
// Imports only types, from wire.ts: nothing at run time.

import type { ClassRef, WireError, WireThrown } from "./wire.ts";

/** How deep nested `cause`s and `errors` of an error are encoded (and
 * decoded: the other side may send deeper ones); deeper ones are dropped. */
const MAX_ERROR_DEPTH = 16;
/** How many exports of an error's class one error names (a class exported
 * under several names, or by several of the worker's modules). */
const MAX_CLASS_REFS = 4;
/** The most `errors` of one AggregateError decoded: a sparse array from a
 * hostile worker may claim billions. */
const MAX_AGGREGATE_ERRORS = 1 << 20;

/** A `ClassRef` module that stands for the module of the failed task: a
 * relay (a Redis worker machine, whose copy of the module has a URL of its
 * own) names the task's module so. */
const TASK_MODULE = "";

const SKIP = new Set(["name", "message", "stack", "cause", "errors"]);

// deno-lint-ignore no-explicit-any
type ErrorClass = abstract new (...args: any[]) => Error;
const LIBRARY = new Map<string, ErrorClass>();

/** Makes errors of these classes (the library's own) decode as instances of
 * them, with their own properties, instead of as a plain `Error`. */
export function registerErrors(classes: ErrorClass[]): void {
  for (const c of classes) LIBRARY.set(c.name, c);
}

/** The target modules this worker imported, by URL: where `encodeError`
 * looks for the export of an error's class. */
const TARGET_MODULES = new Map<string, object>();

/** Tells the encoder that this worker imported `module` as a target
 * module, with namespace `ns`: errors of classes it exports name them. */
export function noteTargetModule(module: string, ns: object): void {
  if (!TARGET_MODULES.has(module)) TARGET_MODULES.set(module, ns);
}

/** What a decoded error's class was exported as in the failed task's
 * module: a relay (a Redis worker machine) encodes it again with that. */
const RELAYED = new WeakMap<object, ClassRef[]>();

/** The exports of class `ctor` in the target modules, in the order they
 * were imported; undefined when none. */
function exportsOf(ctor: unknown): ClassRef[] | undefined {
  if (typeof ctor !== "function" || BUILTIN_CLASSES.has(ctor)) return undefined;
  let out: ClassRef[] | undefined;
  for (const [module, ns] of TARGET_MODULES) {
    for (const key of Reflect.ownKeys(ns)) {
      if (typeof key !== "string") continue;
      let value: unknown;
      try {
        value = (ns as Record<string, unknown>)[key];
      } catch {
        continue; // an export not initialized yet
      }
      if (value !== ctor) continue;
      (out ??= []).push({ module, name: key });
      if (out.length === MAX_CLASS_REFS) return out;
    }
  }
  return out;
}

function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** Encodes any thrown value so that it survives structured clone whole. */
export function encodeError(value: unknown, depth = 0): WireError | WireThrown {
  if (!(value instanceof Error) && !(value instanceof DOMException)) {
    return { $thrown: cloneable(value) ? value : String(value) };
  }
  const err = value as Error & { errors?: unknown };
  let props: Record<string, unknown> | undefined;
  for (const key of Object.keys(err)) {
    if (SKIP.has(key)) continue;
    const v = (err as unknown as Record<string, unknown>)[key];
    props ??= {};
    props[key] = cloneable(v) ? v : String(v);
  }
  const out: {
    -readonly [K in keyof WireError]: WireError[K];
  } = {
    $error: true,
    name: String(err.name),
    message: String(err.message),
    ctor: value instanceof DOMException
      ? "DOMException"
      : err.constructor?.name ?? "Error",
  };
  if (typeof err.stack === "string") out.stack = err.stack;
  if (props) out.props = props;
  if (LIBRARY.get(out.ctor) === err.constructor) out.lib = true;
  else {
    const exported = RELAYED.get(err) ?? exportsOf(err.constructor);
    if (exported !== undefined) out.exported = exported;
  }
  const own = Object.getOwnPropertyDescriptor(err, "name");
  if (own !== undefined) out.ownName = own.enumerable === true;
  if ("cause" in err && depth < MAX_ERROR_DEPTH) {
    out.cause = encodeError(err.cause, depth + 1);
  }
  if (Array.isArray(err.errors) && depth < MAX_ERROR_DEPTH) {
    out.errors = err.errors.map((e) => encodeError(e, depth + 1));
  }
  return out;
}

const BUILTIN: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};
/** The built-in error classes, which no module's export stands for. */
const BUILTIN_CLASSES = new Set<unknown>([
  ...Object.values(BUILTIN),
  AggregateError,
  DOMException,
  ...Object.values(Deno.errors),
]);

/**
 * The error classes one module exports, as the decoding side finds them:
 * an error whose class the worker found exported there (`exported`) comes
 * back as an instance of the decoding side's own class, as Python unpickles
 * an exception by reference to its module and class.
 */
export interface ErrorClasses {
  /** The module: only exports of this module are revived. */
  readonly module: string;
  /**
   * The prototype of the `Error` subclass that the module exports as
   * `name`, or undefined when that export is no such class. It must run no
   * code (no getter, proxy trap or constructor): `name` is hostile input.
   */
  prototypeOf(name: string): object | undefined;
}

/** The prototype `w` is revived with: its class as exported by
 * `classes.module`, if the worker named one. */
function revivedPrototype(
  w: Record<string, unknown>,
  classes: ErrorClasses | undefined,
): object | undefined {
  const refs = w.exported;
  if (classes === undefined || !Array.isArray(refs)) return undefined;
  const n = Math.min(refs.length, MAX_CLASS_REFS);
  for (let i = 0; i < n; i++) {
    const ref = refs[i] as Partial<ClassRef> | null;
    if (ref === null || typeof ref !== "object") continue;
    if (ref.module !== classes.module && ref.module !== TASK_MODULE) continue;
    if (typeof ref.name !== "string") continue;
    const proto = classes.prototypeOf(ref.name);
    if (proto !== undefined) return proto;
  }
  return undefined;
}

/** The references to exports of `task` (the failed task's module) among
 * `refs`, to pass on as exports of `TASK_MODULE`; else undefined. */
function taskRefs(refs: unknown, task: string): ClassRef[] | undefined {
  if (!Array.isArray(refs)) return undefined;
  const out: ClassRef[] = [];
  for (const ref of refs.slice(0, MAX_CLASS_REFS)) {
    if (ref === null || typeof ref !== "object") continue;
    const { module, name } = ref as Partial<ClassRef>;
    if (
      (module === task || module === TASK_MODULE) && typeof name === "string"
    ) {
      out.push({ module: TASK_MODULE, name });
    }
  }
  return out.length === 0 ? undefined : out;
}

/** The error of class `ctor`, without `cause` or `errors` (set after). */
function makeError(
  w: Record<string, unknown>,
  message: string,
  name: string,
  proto: object | undefined,
): Error {
  const ctor = typeof w.ctor === "string" ? w.ctor : "Error";
  if (proto !== undefined) {
    // A native error (so that it prints and clones as one, and
    // `Error.isError` holds) given the class's prototype: the class's
    // constructor, its field initializers and its setters never run here.
    const err = Object.prototype.isPrototypeOf.call(
        AggregateError.prototype,
        proto,
      )
      ? new AggregateError([], message)
      : new Error(message);
    Object.setPrototypeOf(err, proto);
    return err;
  }
  if (ctor === "DOMException") return new DOMException(message, name);
  const Library = w.lib === true ? LIBRARY.get(ctor) : undefined;
  if (Library !== undefined) {
    // Its own properties come back from `props`, its name below.
    const err = new Error(message);
    Object.setPrototypeOf(err, Library.prototype);
    return err;
  }
  if (ctor === "AggregateError") return new AggregateError([], message);
  const denoErrors = Deno.errors as unknown as Record<string, ErrorConstructor>;
  const Ctor = (Object.hasOwn(BUILTIN, ctor) ? BUILTIN[ctor] : undefined) ??
    (Object.hasOwn(denoErrors, ctor) ? denoErrors[ctor] : undefined) ??
    Error;
  return new Ctor(message);
}

/** Defines own property `key` of `err` as an error's own data property:
 * never a setter call (as assignment would make), never a throw. */
function define(
  err: Error,
  key: string,
  value: unknown,
  enumerable = false,
): void {
  try {
    Object.defineProperty(err, key, {
      value,
      writable: true,
      configurable: true,
      enumerable,
    });
  } catch {
    // A non-configurable property of a built-in: it keeps its value.
  }
}

/**
 * Rebuilds what `encodeError` encoded: class for built-in and Deno errors
 * (and, with `classes`, for a class that the target's module exports),
 * `name`, `message`, remote `stack`, `cause`, own properties, `errors`.
 *
 * `value` may come from a worker running untrusted code: a malformed one
 * decodes to what it can; the work is linear in its size (shared parts are
 * decoded once, cycles kept), nesting is cut at MAX_ERROR_DEPTH, and no
 * code of the decoded classes runs. Never throws.
 */
export function decodeError(value: unknown, classes?: ErrorClasses): unknown {
  return decode(value, classes, 0, new Map());
}

function decode(
  value: unknown,
  classes: ErrorClasses | undefined,
  depth: number,
  seen: Map<object, unknown>,
): unknown {
  if (value === null || typeof value !== "object") return value;
  if ("$thrown" in value) return (value as WireThrown).$thrown;
  if (!("$error" in value)) return value;
  if (seen.has(value)) return seen.get(value);
  const w = value as Record<string, unknown>;
  const message = typeof w.message === "string" ? w.message : "";
  const name = typeof w.name === "string" ? w.name : "Error";
  const proto = revivedPrototype(w, classes);
  const err = makeError(w, message, name, proto);
  seen.set(value, err);
  if (proto !== undefined) {
    // Its name comes from the class's prototype, unless it was its own.
    if (typeof w.ownName === "boolean") define(err, "name", name, w.ownName);
  } else if (err.name !== name) {
    define(err, "name", name);
  }
  if (classes !== undefined) {
    const refs = taskRefs(w.exported, classes.module);
    if (refs !== undefined) RELAYED.set(err, refs);
  }
  if (typeof w.stack === "string") define(err, "stack", w.stack);
  if ("cause" in w && depth < MAX_ERROR_DEPTH) {
    define(err, "cause", decode(w.cause, classes, depth + 1, seen));
  }
  if (
    Array.isArray(w.errors) && depth < MAX_ERROR_DEPTH &&
    err instanceof AggregateError
  ) {
    const n = Math.min(w.errors.length, MAX_AGGREGATE_ERRORS);
    const errors = new Array<unknown>(n);
    for (let i = 0; i < n; i++) {
      errors[i] = decode(w.errors[i], classes, depth + 1, seen);
    }
    define(err, "errors", errors);
  }
  const props = w.props;
  if (props !== null && typeof props === "object") {
    for (const key of Object.keys(props)) {
      define(err, key, (props as Record<string, unknown>)[key], true);
    }
  }
  return err;
}
