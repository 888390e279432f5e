// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The port of a worker that is an OS process (isolation: "process"): it
// carries the same wire messages (wire.ts) as the MessagePort of a thread,
// over the IPC channel of node:child_process with V8 serialization
// ("advanced"). The main side wraps a ChildProcess (../_engine/child.ts), the
// child wraps node:process (../_worker/process_entry.ts).
//
// Every message is checked here first, synchronously, as postMessage checks
// it: Deno 2.9's IPC writes a value it cannot serialize in a later turn and
// then ends the whole program ("Missing promise"), and it copies some values
// that structured clone refuses or treats specially (a MessagePort, a Blob)
// as empty objects. So only plain data goes: primitives, plain objects and
// class instances (their own data, as structured clone copies them), arrays,
// Map, Set, Date, RegExp, errors, ArrayBuffers and their views, boxed
// primitives. Shared memory (a SharedArrayBuffer, and the library's queues,
// locks and values built on it) cannot reach another process and is refused.
//
// Imports lib/_messages.ts, shareable.ts and manager_link.ts only.

import * as types from "node:util/types";
import { messages } from "../_messages.ts";
import { BRAND, isProcessSafe } from "./shareable.ts";
import {
  forChildProcess,
  handleManagerMessage,
  MANAGER_REPLY,
} from "./manager_link.ts";

/** How deeply nested a value may be: V8's serializer would fail on a much
 * deeper one in a later turn, which Deno turns into the end of the program. */
const IPC_MAX_DEPTH = 1_000;

/** The control message a child sends first, before any wire message: it
 * runs, so a later end is not a failure to start. */
export const IPC_UP = "up";

/** What carries the messages: a ChildProcess, or node:process in a child. */
export interface IpcEndpoint {
  /** Writes `msg` (already checked); calls `done` once it is written, with
   * the error when it could not be. May throw when the channel is closed. */
  send(msg: unknown, done: (err: unknown) => void): void;
  /** Keeps the program alive while messages are expected. */
  ref(): void;
  /** Lets the program end while nothing is expected. */
  unref(): void;
}

/** An array index key. */
const INDEX = /^(?:0|[1-9]\d*)$/;

/** Top-level fields named as the user knows them, in messages. */
const FIELD_NAMES: Readonly<Record<string, string>> = {
  args: "args",
  a: "items",
  v: "results",
};

/** Where a value fails, and the error to throw for it. */
class Refusal {
  constructor(
    readonly path: string,
    readonly reason: string,
    readonly shared: string | undefined,
  ) {}
}

/** Walks a value as V8's serializer will, refusing what it must not get. */
class Checker {
  #seen: Set<object> | null = null;
  /** The value is a whole wire message, made by the library. */
  readonly #wire: boolean;

  constructor(wire: boolean) {
    this.#wire = wire;
  }

  value(v: unknown, path: string, depth: number): Refusal | undefined {
    switch (typeof v) {
      case "function":
        return new Refusal(path, messages.ipcFunction(), undefined);
      case "symbol":
        return new Refusal(path, messages.ipcSymbol(), undefined);
      case "object":
        return v === null ? undefined : this.#object(v, path, depth);
      default:
        return undefined;
    }
  }

  #object(o: object, path: string, depth: number): Refusal | undefined {
    if (depth > IPC_MAX_DEPTH) {
      return new Refusal(path, messages.ipcDepth(IPC_MAX_DEPTH), undefined);
    }
    const seen = this.#seen ??= new Set();
    if (seen.has(o)) return undefined;
    seen.add(o);
    if (types.isProxy(o)) {
      return new Refusal(path, messages.ipcKind("Proxy"), undefined);
    }
    if (Array.isArray(o)) return this.#array(o, path, depth);
    const proto = Object.getPrototypeOf(o);
    if (proto === Object.prototype || proto === null) {
      return this.#brand(o, path) ?? this.#props(o, path, depth);
    }
    if (types.isDate(o) || types.isRegExp(o) || types.isBoxedPrimitive(o)) {
      return undefined;
    }
    if (types.isMap(o)) {
      let i = 0;
      for (const [k, v] of o as Map<unknown, unknown>) {
        const r = this.value(k, `${path}.keys()[${i}]`, depth + 1) ??
          this.value(v, `${path}.values()[${i}]`, depth + 1);
        if (r) return r;
        i++;
      }
      return undefined;
    }
    if (types.isSet(o)) {
      let i = 0;
      for (const v of o as Set<unknown>) {
        const r = this.value(v, `${path}.values()[${i++}]`, depth + 1);
        if (r) return r;
      }
      return undefined;
    }
    if (types.isArrayBufferView(o)) {
      return this.#buffer((o as ArrayBufferView).buffer, path);
    }
    if (types.isAnyArrayBuffer(o)) return this.#buffer(o as ArrayBuffer, path);
    if (types.isNativeError(o)) {
      // V8 copies name, message, stack and cause; own fields are dropped, as
      // structured clone drops them.
      const cause = Object.getOwnPropertyDescriptor(o, "cause");
      return cause === undefined || !("value" in cause)
        ? undefined
        : this.value(cause.value, `${path}.cause`, depth + 1);
    }
    const shared = this.#brand(o, path);
    if (shared) return shared;
    // A class instance goes as its own data, as structured clone sends it;
    // anything with a tag of its own (a platform object such as a
    // MessagePort or Blob, a Promise, a WeakMap) would not arrive as itself.
    const tag = Object.prototype.toString.call(o).slice(8, -1);
    if (tag !== "Object" && tag !== "Error") {
      return new Refusal(path, messages.ipcKind(tag), undefined);
    }
    return this.#props(o, path, depth);
  }

  #array(a: unknown[], path: string, depth: number): Refusal | undefined {
    const n = a.length;
    for (let i = 0; i < n; i++) {
      const v = a[i];
      if (v === null || (typeof v !== "object" && typeof v !== "function")) {
        if (typeof v === "symbol") return this.value(v, `${path}[${i}]`, depth);
        continue;
      }
      const r = this.value(v, `${path}[${i}]`, depth + 1);
      if (r) return r;
    }
    // Named fields of an array go too. The wire message's own arrays (its
    // top-level fields) have none, and listing a long array's keys costs
    // more than sending it.
    if (depth === 1 && this.#wire) return undefined;
    const keys = Object.keys(a);
    // Index keys come first, in order: the named ones are at the end.
    for (let j = keys.length - 1; j >= 0; j--) {
      const key = keys[j]!;
      if (INDEX.test(key)) break;
      const r = this.value(
        (a as unknown as Record<string, unknown>)[key],
        `${path}.${key}`,
        depth + 1,
      );
      if (r) return r;
    }
    return undefined;
  }

  #props(o: object, path: string, depth: number): Refusal | undefined {
    for (const key of Object.keys(o)) {
      const name = depth === 0 && path === "" ? FIELD_NAMES[key] ?? key : key;
      const r = this.value(
        (o as Record<string, unknown>)[key],
        path === "" ? name : `${path}.${name}`,
        depth + 1,
      );
      if (r) return r;
    }
    return undefined;
  }

  #buffer(
    b: ArrayBuffer | SharedArrayBuffer,
    path: string,
  ): Refusal | undefined {
    if (types.isSharedArrayBuffer(b)) {
      return new Refusal(path, messages.ipcSharedMemory(), "SharedArrayBuffer");
    }
    if ((b as ArrayBuffer).detached) {
      return new Refusal(path, messages.ipcDetached(), undefined);
    }
    return undefined;
  }

  #brand(o: object, path: string): Refusal | undefined {
    if (!Object.hasOwn(o, BRAND)) return undefined;
    const brand = (o as Record<string, unknown>)[BRAND];
    if (typeof brand !== "string" || isProcessSafe(brand)) return undefined;
    return new Refusal(path, messages.ipcSharedMemory(), brand);
  }
}

/**
 * Checks that `value` may go over an IPC channel and arrive as structured
 * clone would deliver it.
 *
 * @param value What to send.
 * @param path How messages name it (such as `"args"`); "" for a whole wire
 * message, whose fields are then named as users know them.
 * @param sharedAsTypeError Shared memory is refused with a `TypeError` (on
 * the main side, where it is the caller's mistake) rather than a
 * `DataCloneError` (in a child, whose task runner reports one).
 * @throws {DOMException} named `DataCloneError` for what cannot be copied.
 * @throws {TypeError} for shared memory, when `sharedAsTypeError`.
 */
export function checkIpc(
  value: unknown,
  path: string,
  sharedAsTypeError: boolean,
): void {
  const r = new Checker(path === "").value(value, path, 0);
  if (r === undefined) return;
  const where = r.path === "" ? "the message" : r.path;
  if (r.shared !== undefined && sharedAsTypeError) {
    throw new TypeError(messages.ipcShared(where, r.shared));
  }
  throw new DOMException(
    r.shared !== undefined
      ? messages.ipcShared(where, r.shared)
      : messages.ipcCannotCopy(where, r.reason),
    "DataCloneError",
  );
}

/**
 * A MessagePort-like port over an IPC channel: `postMessage`, `onmessage`,
 * `ref`, `unref`, `close`. Messages posted before the channel is attached
 * wait, in order, and go when it is.
 */
export class IpcPort {
  /** Called with each message that arrives, as `{ data }`. */
  onmessage: ((e: { data: unknown }) => void) | null = null;
  /** Called once when the channel could not carry a message. */
  onerror: ((err: unknown) => void) | null = null;
  #endpoint: IpcEndpoint | null = null;
  #queue: unknown[] = [];
  #closed = false;
  #refd = false;
  #up = false;
  readonly #sharedAsTypeError: boolean;
  readonly #done = (err: unknown) => {
    if (err != null && !this.#closed) this.onerror?.(err);
  };

  /**
   * Makes a port; messages wait until {@linkcode IpcPort.attach}.
   *
   * @param sharedAsTypeError See {@linkcode checkIpc}: true on the main
   * side, for the port to a child process (which may run hostile code).
   */
  constructor(sharedAsTypeError: boolean) {
    this.#sharedAsTypeError = sharedAsTypeError;
  }

  /** Whether the other side has said it runs (its first message). */
  get up(): boolean {
    return this.#up;
  }

  /** Connects the channel and sends what waited. */
  attach(endpoint: IpcEndpoint): void {
    this.#endpoint = endpoint;
    if (this.#refd) endpoint.ref();
    else endpoint.unref();
    const queue = this.#queue;
    this.#queue = [];
    for (const msg of queue) this.#write(msg);
  }

  /**
   * Sends `msg` as `MessagePort.postMessage` would: checked now, copied,
   * and the ArrayBuffers in `transfer` detached here (moved).
   *
   * @throws {DOMException} named `DataCloneError` for a value that cannot
   * go to another process (and a transferable that is not an ArrayBuffer).
   * @throws {TypeError} for shared memory, on the main side.
   */
  postMessage(
    msg: unknown,
    transfer?: Transferable[] | StructuredSerializeOptions,
  ): void {
    if (this.#closed) return;
    const list = Array.isArray(transfer) ? transfer : transfer?.transfer ?? [];
    for (const t of list) {
      if (!(t instanceof ArrayBuffer)) {
        throw new DOMException(
          messages.ipcCannotCopy(
            "a transfer list",
            messages.ipcKind(
              Object.prototype.toString.call(t).slice(8, -1),
            ),
          ),
          "DataCloneError",
        );
      }
    }
    // A Manager's proxies cross as tokens (manager_link.ts).
    msg = forChildProcess(msg);
    checkIpc(msg, "", this.#sharedAsTypeError);
    if (this.#endpoint === null) {
      // It waits for attach(), which comes in the same turn (spawnChild), so
      // the caller cannot change it before it goes; but the buffers it moves
      // are detached below, so it waits as a copy of them.
      this.#queue.push(list.length === 0 ? msg : structuredClone(msg));
    } else this.#write(msg);
    for (const t of list) {
      if (!(t as ArrayBuffer).detached) (t as ArrayBuffer).transfer();
    }
  }

  /** Sends a control message (no check: the caller made it). */
  control(kind: string): void {
    const msg = { $ipc: kind };
    if (this.#endpoint === null) this.#queue.push(msg);
    else this.#write(msg);
  }

  #write(msg: unknown): void {
    try {
      this.#endpoint!.send(msg, this.#done);
    } catch (err) {
      this.#done(err);
    }
  }

  /** Hands a message that arrived to `onmessage` (a control message is
   * taken here). */
  deliver(msg: unknown): void {
    if (this.#closed) return;
    if (
      msg !== null && typeof msg === "object" &&
      (msg as { $ipc?: unknown }).$ipc === IPC_UP
    ) {
      this.#up = true;
      return;
    }
    // A Manager's requests and replies (manager_link.ts). Only a parent
    // replies: a reply from a child (hostile code writing on its channel)
    // would answer this process's own requests to its parent, so it goes on
    // to `onmessage`, whose check refuses it as a malformed message.
    if (
      !(this.#sharedAsTypeError &&
        (msg as { $ipc?: unknown } | null)?.$ipc === MANAGER_REPLY) &&
      handleManagerMessage(msg, (m) => this.postMessage(m))
    ) return;
    this.onmessage?.({ data: msg });
  }

  /** Keeps the program alive while a reply is expected. */
  ref(): void {
    this.#refd = true;
    if (!this.#closed) this.#endpoint?.ref();
  }

  /** Lets the program end while nothing is expected. */
  unref(): void {
    this.#refd = false;
    this.#endpoint?.unref();
  }

  /** Stops sending and delivering. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.onmessage = null;
    this.#endpoint?.unref();
  }
}
