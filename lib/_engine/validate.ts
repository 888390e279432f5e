// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The shape of every message a worker sends, checked before the main side
// acts on it. A worker with scoped permissions runs code that may be hostile,
// and that code can reach the library's channel (by patching
// MessagePort.prototype.postMessage, say): what arrives may be anything that
// structured clone can carry. One check per message kind of
// ../_shared/wire.ts; each returns undefined for a well-formed message, else
// what is wrong with it, for the error. They read only the message's own
// fields, never the user values it carries, so a results message costs a few
// typeof checks per chunk. What the engine knows and the message cannot say
// (is this chunk in flight, does its count match) the engine checks itself.
//
// A malformed message ends its worker with `protocolError`: the worker's
// task fails with that ProcessError, and a pool replaces the worker.
//
// Imports lib/errors.ts, lib/_messages.ts and types from ../_shared/wire.ts.

import { ProcessError } from "../errors.ts";
import { messages } from "../_messages.ts";
import type {
  ExitMessage,
  FailMessage,
  FromWorker,
  HubDeath,
  InitFailMessage,
  ResultMessage,
} from "../_shared/wire.ts";

/** The `code` of the ProcessError that ends a worker for a malformed
 * message. */
export const PROTOCOL_ERROR_CODE = "ERR_WORKER_PROTOCOL";
/** The exit code reported for a worker ended for a malformed message. */
export const PROTOCOL_EXIT_CODE = 1;

/** What a handler of `messageerror` passes on: a message arrived that could
 * not be deserialized (nested too deep for this thread's stack, say). Deno
 * then delivers the port's next messages late (only when something else
 * wakes the event loop), so such a message ends the worker like any other
 * malformed one. */
export const UNREADABLE_MESSAGE: object = Object.freeze({ t: "unreadable" });
const UNREADABLE_PROBLEM =
  "one this side could not deserialize, such as a value nested too deep";

/** A short description of `value` for an error: its kind, never its
 * contents (which may be huge). */
function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value === "object" ? "an object" : typeof value;
}

/** True for a number that is a whole count or index: 0, 1, 2, ... */
function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) &&
    value >= 0;
}

/** True for a time in ms as a worker measures it: finite, not negative. */
function isDuration(value: unknown): value is number {
  return typeof value === "number" && value >= 0 && value !== Infinity;
}

/** An encoded error (or thrown value) must at least be an object; its
 * contents are decoded defensively by `decodeError`. */
function errorProblem(e: unknown, where: string): string | undefined {
  if (e === null || typeof e !== "object" || Array.isArray(e)) {
    return `${where} is ${kind(e)}, not an encoded error`;
  }
  if (!("$error" in e) && !("$thrown" in e)) {
    return `${where} is an object that is not an encoded error`;
  }
  return undefined;
}

/**
 * What is wrong with a results message ("r"), if anything: `c`, `n`, `d`
 * are arrays of one length, each `n[j]` a count, each `d[j]` a duration,
 * each `c[j]` a number, and `v` holds exactly the values they count.
 */
export function resultProblem(msg: ResultMessage): string | undefined {
  const { c, n, v, d } = msg;
  if (
    !Array.isArray(c) || !Array.isArray(n) || !Array.isArray(v) ||
    !Array.isArray(d)
  ) {
    return `a results message whose c, n, v, d are ${kind(c)}, ${kind(n)}, ${
      kind(v)
    }, ${kind(d)}`;
  }
  const chunks = c.length;
  if (n.length !== chunks || d.length !== chunks) {
    return `a results message for ${chunks} chunks with ${n.length} counts and ${d.length} times`;
  }
  let total = 0;
  for (let j = 0; j < chunks; j++) {
    const nj = n[j];
    if (!isCount(nj) || typeof c[j] !== "number" || !isDuration(d[j])) {
      return `a results message whose entry ${j} is not a chunk id, a count and a time`;
    }
    total += nj;
  }
  if (total !== v.length) {
    return `a results message counting ${total} values but holding ${v.length}`;
  }
  return undefined;
}

/** What is wrong with a task failure message ("e"), if anything. */
export function failProblem(msg: FailMessage): string | undefined {
  if (typeof msg.c !== "number" || !isCount(msg.i) || !isDuration(msg.d)) {
    return "a failure message without a chunk id, an item index and a time";
  }
  return errorProblem(msg.e, "the error of a failure message");
}

/** What is wrong with an initializer failure message ("i"), if anything. */
export function initFailProblem(msg: InitFailMessage): string | undefined {
  return errorProblem(msg.e, "the error of an initializer failure message");
}

/** What is wrong with an exit message ("exit"), if anything: the code is a
 * whole number, and the error, if any, an encoded error. */
export function exitProblem(msg: unknown): string | undefined {
  if (msg === UNREADABLE_MESSAGE) return UNREADABLE_PROBLEM;
  if (msg === null || typeof msg !== "object") {
    return `${kind(msg)} instead of an exit message`;
  }
  const m = msg as Partial<Record<keyof ExitMessage, unknown>>;
  if (m.t !== "exit") return "a message that is not an exit message";
  if (typeof m.code !== "number" || !Number.isSafeInteger(m.code)) {
    return `an exit message whose code is ${kind(m.code)}`;
  }
  if (m.error !== undefined) {
    return errorProblem(m.error, "the error of an exit message");
  }
  return undefined;
}

/** What is wrong with any message from a pool worker, if anything. */
export function fromWorkerProblem(msg: unknown): string | undefined {
  if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
    return `${kind(msg)} instead of a message`;
  }
  if (msg === UNREADABLE_MESSAGE) return UNREADABLE_PROBLEM;
  const m = msg as FromWorker;
  switch (m.t) {
    case "r":
      return resultProblem(m);
    case "e":
      return failProblem(m);
    case "i":
      return initFailProblem(m);
    case "exit":
      return exitProblem(m);
  }
  return "a message of no known kind";
}

/** What is wrong with a message from the hub thread, if anything. The hub
 * passes on what a worker sent it before its port arrived, unchecked, so
 * `code` may be anything: `undefined` for a well-formed report. */
export function hubDeathProblem(msg: unknown): string | undefined {
  if (msg === UNREADABLE_MESSAGE) return UNREADABLE_PROBLEM;
  if (msg === null || typeof msg !== "object") {
    return `${kind(msg)} instead of a hub report`;
  }
  const m = msg as Partial<Record<keyof HubDeath, unknown>>;
  if (m.op !== "dead" || !isCount(m.id)) {
    return "a hub report without a worker id";
  }
  if (typeof m.code !== "number" || !Number.isSafeInteger(m.code)) {
    return `an exit report whose code is ${kind(m.code)}`;
  }
  if (
    m.error !== undefined && m.error !== null && typeof m.error !== "object"
  ) {
    return `an exit report whose error is ${kind(m.error)}`;
  }
  return undefined;
}

/** The error that ends worker `name` for sending a malformed message
 * (`problem` says what was wrong). */
export function protocolError(name: string, problem: string): ProcessError {
  return new ProcessError(messages.workerProtocol(name, problem), {
    processName: name,
    exitCode: PROTOCOL_EXIT_CODE,
    code: PROTOCOL_ERROR_CODE,
  });
}
