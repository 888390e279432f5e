// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The wire protocol between the main side and a worker (and the hub thread
// that owns scoped workers), and the error codec. Imported by both sides.
//
// Imports only types, from lib/process/ (where the public `ProcessInfo` and
// `Permissions` are defined): nothing at run time.

import type { ProcessInfo } from "../process/current_process.ts";
import type { Permissions } from "../process/worker_options.ts";

/** How deep nested `cause`s and `errors` of an error are encoded; deeper
 * ones (or a cycle) are dropped. */
const MAX_ERROR_DEPTH = 16;

/** What a worker is told about itself when it starts. */
export interface WorkerIdentity extends ProcessInfo {
  readonly parent: ProcessInfo;
}

/** A function reference: the export name and, to find aliases, its source. */
export interface FnRef {
  readonly name: string;
  readonly src: string;
}

/** main → worker: set-up, sent once as the first message on the port. */
export interface InitMessage {
  readonly t: "init";
  readonly pids: Int32Array;
  /** The liveness table, and a word where the worker writes its pid. */
  readonly liveness: { readonly table: Int32Array; readonly self: Int32Array };
  readonly module: string;
}

/** main → worker: run one target, then report its exit (a Process). */
export interface RunMessage {
  readonly t: "run";
  readonly fn: FnRef;
  readonly args: readonly unknown[];
}

/** main → worker: become a pool worker; run `init` before the first task. */
export interface PoolMessage {
  readonly t: "pool";
  readonly init?: { readonly fn: FnRef; readonly args: readonly unknown[] };
}

/** main → worker: `k` names function `fn` of module `m` from now on. */
export interface FnMessage {
  readonly t: "f";
  readonly k: number;
  readonly fn: FnRef;
  readonly m: string;
}

/** main → worker: a batch of chunks. Chunk `j` has id `c[j]`, runs function
 * `k[j]` (spread, `fn(...item)`, when `s[j]` is 1) over the next `n[j]`
 * items of the flat list `a`. Chunks run one at a time, in order. */
export interface ChunkMessage {
  readonly t: "x";
  readonly c: number[];
  readonly k: number[];
  readonly s: number[];
  readonly n: number[];
  readonly a: unknown[];
}

/** worker → main: a batch of results. Chunk `c[j]` gave the next `n[j]`
 * values of the flat list `v`, taking `d[j]` ms. */
export interface ResultMessage {
  readonly t: "r";
  readonly c: number[];
  readonly n: number[];
  readonly v: unknown[];
  readonly d: number[];
}

/** worker → main: item `i` of chunk `c` threw `e` (the chunk stops there). */
export interface FailMessage {
  readonly t: "e";
  readonly c: number;
  readonly i: number;
  readonly e: WireError | WireThrown;
  readonly d: number;
}

/** worker → main: the pool initializer threw `e`. */
export interface InitFailMessage {
  readonly t: "i";
  readonly e: WireError | WireThrown;
}

/** Any message a worker sends. */
export type FromWorker =
  | ExitMessage
  | ResultMessage
  | FailMessage
  | InitFailMessage;

/** Any message the main side sends. */
export type ToWorker =
  | InitMessage
  | RunMessage
  | PoolMessage
  | FnMessage
  | ChunkMessage;

/** worker → main: the worker is ending with this code. */
export interface ExitMessage {
  readonly t: "exit";
  readonly code: number;
  readonly error?: WireError;
}

/** main → hub: start a scoped worker, or end one. */
export type HubRequest =
  | {
    readonly op: "spawn";
    readonly id: number;
    readonly entry: string;
    readonly name: string;
    readonly permissions: Permissions;
    readonly port: MessagePort;
  }
  | { readonly op: "kill"; readonly id: number };

/** hub → main: a worker ended without its port saying so. */
export interface HubDeath {
  readonly op: "dead";
  readonly id: number;
  readonly code: number;
  readonly error?: unknown;
}

/** An error as it crosses the wire. */
export interface WireError {
  readonly $error: true;
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly ctor: string;
  readonly cause?: unknown;
  readonly props?: Record<string, unknown>;
  readonly errors?: unknown[];
  /** Set when `ctor` is a class registered with `registerErrors`. */
  readonly lib?: true;
}

/** A thrown value that is not an Error, as it crosses the wire. */
export interface WireThrown {
  readonly $thrown: unknown;
}

const SKIP = new Set(["name", "message", "stack", "cause", "errors"]);

// deno-lint-ignore no-explicit-any
type ErrorClass = abstract new (...args: any[]) => Error;
const LIBRARY = new Map<string, ErrorClass>();

/** Makes errors of these classes (the library's own) decode as instances of
 * them, with their own properties, instead of as a plain `Error`. */
export function registerErrors(classes: ErrorClass[]): void {
  for (const c of classes) LIBRARY.set(c.name, c);
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

function makeError(w: WireError, cause: unknown, hasCause: boolean): Error {
  const opts = hasCause ? { cause } : undefined;
  if (w.ctor === "DOMException") return new DOMException(w.message, w.name);
  const Library = w.lib ? LIBRARY.get(w.ctor) : undefined;
  if (Library !== undefined) {
    // Its own properties come back from `props`, its name below.
    const err = new Error(w.message, opts);
    Object.setPrototypeOf(err, Library.prototype);
    return err;
  }
  if (w.ctor === "AggregateError") {
    const errors = (w.errors ?? []).map((e) => decodeError(e));
    return new AggregateError(errors, w.message, opts);
  }
  const denoErrors = Deno.errors as unknown as Record<string, ErrorConstructor>;
  const Ctor = BUILTIN[w.ctor] ??
    (Object.hasOwn(denoErrors, w.ctor) ? denoErrors[w.ctor] : undefined) ??
    Error;
  return new Ctor(w.message, opts);
}

/** Rebuilds what `encodeError` encoded: class for built-in and Deno errors,
 * `name`, `message`, remote `stack`, `cause`, own properties, `errors`. */
export function decodeError(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if ("$thrown" in value) return (value as WireThrown).$thrown;
  if (!("$error" in value)) return value;
  const w = value as WireError;
  const hasCause = "cause" in w;
  const err = makeError(
    w,
    hasCause ? decodeError(w.cause) : undefined,
    hasCause,
  );
  if (err.name !== w.name) {
    Object.defineProperty(err, "name", {
      value: w.name,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  if (w.stack !== undefined) {
    Object.defineProperty(err, "stack", {
      value: w.stack,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  if (w.props) Object.assign(err, w.props);
  return err;
}
