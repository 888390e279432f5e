// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The wire protocol between the main side and a worker (and the hub thread
// that owns scoped workers): every message type, one file. Imported by both
// sides. The error codec (`encodeError`/`decodeError`, for the `WireError`
// and `WireThrown` defined here) is in error_codec.ts.
//
// Imports only types, from lib/process/ (where the public `ProcessInfo` and
// `Permissions` are defined): nothing at run time.

import type { ProcessInfo } from "../process/current_process.ts";
import type { Permissions } from "../process/worker_options.ts";

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

/** main → a thread worker started idle (its parentPort): its target.
 * A warm standby thread gets it when it is taken. */
export interface AssignMessage {
  readonly t: "assign";
  readonly identity: WorkerIdentity;
  readonly module: string;
  readonly port: MessagePort;
}

/** main → a warm child process (lib/_engine/child.ts), on its channel as
 * `{ $assign }`: its target, and the parent's environment and working
 * folder as they are when it is taken. */
export interface ChildAssign {
  readonly identity: WorkerIdentity;
  readonly module: string;
  readonly env: Record<string, string>;
  readonly cwd: string;
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

/** Where a worker's module exports an error's class: module URL (or
 * `TASK_MODULE`) and the export's name. */
export interface ClassRef {
  readonly module: string;
  readonly name: string;
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
  /** The exports of its class in the worker's target modules, by which
   * the main side revives it as that class (see `ErrorClasses`). */
  readonly exported?: ClassRef[];
  /** `name` is an own property: enumerable (true) or not (false); absent
   * when it comes from the prototype. */
  readonly ownName?: boolean;
}

/** A thrown value that is not an Error, as it crosses the wire. */
export interface WireThrown {
  readonly $thrown: unknown;
}
