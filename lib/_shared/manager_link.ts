// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// How a Manager's proxy reaches its manager from an OS child process, where
// shared memory cannot go (isolation "process"). Imported by both sides;
// imports nothing.
//
// A proxy normally carries the manager's shared table (a SharedArrayBuffer)
// and talks to the server thread through it (lib/managers/_client.ts). A
// SharedArrayBuffer cannot cross to another OS process, so there a proxy
// travels as a token: the same object without its table (`proxyToken`).
// A token proxy sends each request, already encoded as bytes, through the
// link that the child's bootstrap installed with `setManagerLink`: the
// child's channel to its parent. The parent hands the bytes to
// `relayManagerRequest`, which serves them with the manager of that key
// living in the parent, or, when the parent itself holds only tokens of that
// manager, sends them on through its own link to its parent. The request
// and reply bytes are lib/managers/_protocol.ts's; neither side here looks
// inside them.
//
// The hook for the process engine (three calls, all on its IPC port):
// - sending any message to another OS process: `forChildProcess(msg)`,
//   which returns the message with its manager proxies as tokens (and the
//   message itself when it holds none);
// - a child, once its port is up: `setManagerLink(linkOver(send))`, where
//   `send` posts a message on the port;
// - each message that arrives, on either side: `handleManagerMessage(msg,
//   send)`, which takes the manager's own messages (a request from a child
//   is served with `relayManagerRequest` and answered; a reply goes to the
//   link's waiting request) and returns true for them.
// The messages are `{ $ipc: "mgr", id, key, bytes }` and `{ $ipc:
// "mgr-r", id, bytes }`: plain data. `relayManagerRequest` never rejects:
// when the manager cannot be reached, the reply is empty, which the proxy
// reports as such.

/** A channel to the process that can reach a manager. */
export interface ManagerLink {
  /**
   * Sends the encoded request `bytes` for the manager `key` and resolves
   * with the encoded reply.
   */
  request(key: string, bytes: Uint8Array): Promise<Uint8Array>;
}

/** Serves an encoded request with a manager that lives in this process. */
export type ManagerRelay = (bytes: Uint8Array) => Promise<Uint8Array>;

interface LinkState {
  link: ManagerLink | undefined;
  readonly relays: Map<string, ManagerRelay>;
  /** Requests sent through `linkOver` links, waiting for their replies. */
  readonly waiting: Map<number, (bytes: Uint8Array) => void>;
  nextRequest: number;
}

const KEY = Symbol.for("@parallel/multiprocessing/manager-link");

function state(): LinkState {
  const g = globalThis as unknown as Record<symbol, LinkState | undefined>;
  return g[KEY] ??= {
    link: undefined,
    relays: new Map(),
    waiting: new Map(),
    nextRequest: 1,
  };
}

/** The own field of a proxy that holds its manager's shared table. */
export const TABLE_FIELD = "$table";
/** The own field of a proxy that names its manager. */
export const MANAGER_FIELD = "$manager";

/** Installs the link to the parent process (in a child process). */
export function setManagerLink(link: ManagerLink | undefined): void {
  state().link = link;
}

/** The link to the parent process, if this is a child process. */
export function managerLink(): ManagerLink | undefined {
  return state().link;
}

/** Registers (or, with `undefined`, removes) the relay of manager `key`,
 * which lives in this process. */
export function registerManagerRelay(
  key: string,
  relay: ManagerRelay | undefined,
): void {
  const s = state();
  if (relay === undefined) s.relays.delete(key);
  else s.relays.set(key, relay);
}

/**
 * Serves a request that a child process sent for manager `key`: with the
 * manager reachable here, else through this process's own link. Resolves
 * with the encoded reply, or with no bytes when the manager cannot be
 * reached; never rejects.
 */
export async function relayManagerRequest(
  key: string,
  bytes: Uint8Array,
): Promise<Uint8Array> {
  const s = state();
  const relay = s.relays.get(key);
  try {
    if (relay !== undefined) return await relay(bytes);
    if (s.link !== undefined) return await s.link.request(key, bytes);
  } catch {
    // Fall through: the manager cannot be reached.
  }
  return new Uint8Array(0);
}

/** Whether `value` is a manager proxy (it has a manager field). */
export function isManagerProxy(value: unknown): boolean {
  return value !== null && typeof value === "object" &&
    typeof (value as Record<string, unknown>)[MANAGER_FIELD] === "string";
}

/** A copy of `proxy` without its shared table, for another OS process. */
export function proxyToken<T extends object>(proxy: T): T {
  const token = { ...proxy } as Record<string, unknown>;
  delete token[TABLE_FIELD];
  return token as T;
}

/** How deep `forChildProcess` looks into containers for proxies: deep
 * enough for a pool's task message (message, chunks, chunk, items, item,
 * argument). */
const TOKEN_DEPTH = 8;

/**
 * `value` with each manager proxy in it (up to a few levels of arrays,
 * plain objects, Map values and Set members) replaced by its token, for
 * sending to a child process. Returns `value` itself when it holds none.
 */
export function forChildProcess<T>(value: T, depth = 0): T {
  if (value === null || typeof value !== "object" || depth > TOKEN_DEPTH) {
    return value;
  }
  if (isManagerProxy(value)) return proxyToken(value as object) as T;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = forChildProcess(value[i], depth + 1);
      if (v !== value[i]) (out ??= [...value])[i] = v;
    }
    return (out ?? value) as T;
  }
  if (value instanceof Map) {
    let out: Map<unknown, unknown> | undefined;
    for (const [k, v] of value) {
      const t = forChildProcess(v, depth + 1);
      if (t !== v) (out ??= new Map(value)).set(k, t);
    }
    return (out ?? value) as T;
  }
  if (value instanceof Set) {
    let changed = false;
    const items = [...value].map((v) => {
      const t = forChildProcess(v, depth + 1);
      if (t !== v) changed = true;
      return t;
    });
    return (changed ? new Set(items) : value) as T;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    for (const key of Object.keys(record)) {
      const t = forChildProcess(record[key], depth + 1);
      if (t !== record[key]) (out ??= { ...record })[key] = t;
    }
    return (out ?? value) as T;
  }
  return value;
}

// ---- over an IPC channel -------------------------------------------------------

/** The `$ipc` kind of a request a child sends its parent. */
export const MANAGER_REQUEST = "mgr";
/** The `$ipc` kind of the parent's reply. */
export const MANAGER_REPLY = "mgr-r";

/** A manager message on an IPC channel. */
interface ManagerMessage {
  readonly $ipc: string;
  readonly id: number;
  readonly key?: string;
  readonly bytes: Uint8Array;
}

/**
 * A link that sends each request with `send` (a child's port to its
 * parent), as a `MANAGER_REQUEST` message; `handleManagerMessage` hands it
 * the replies.
 */
export function linkOver(send: (msg: unknown) => void): ManagerLink {
  return {
    request(key, bytes) {
      const { waiting } = state();
      const id = state().nextRequest++;
      return new Promise((resolve, reject) => {
        waiting.set(id, resolve);
        try {
          send({ $ipc: MANAGER_REQUEST, id, key, bytes });
        } catch (err) {
          waiting.delete(id);
          reject(err);
        }
      });
    },
  };
}

/**
 * Takes a manager message that arrived on an IPC port: serves a request
 * (answering with `send`) or delivers a reply. Returns false for any other
 * message, which the port then handles as usual.
 */
export function handleManagerMessage(
  msg: unknown,
  send: (msg: unknown) => void,
): boolean {
  if (msg === null || typeof msg !== "object") return false;
  const m = msg as Partial<ManagerMessage>;
  if (m.$ipc === MANAGER_REPLY) {
    const { waiting } = state();
    const resolve = waiting.get(m.id as number);
    waiting.delete(m.id as number);
    resolve?.(m.bytes instanceof Uint8Array ? m.bytes : new Uint8Array(0));
    return true;
  }
  if (m.$ipc !== MANAGER_REQUEST) return false;
  // From another process: hostile input. A malformed request gets an empty
  // reply ("unreachable"); the server checks the rest.
  const id = m.id;
  const reply = (bytes: Uint8Array) => {
    try {
      send({ $ipc: MANAGER_REPLY, id, bytes });
    } catch {
      // The channel is gone: so is the child.
    }
  };
  if (typeof m.key !== "string" || !(m.bytes instanceof Uint8Array)) {
    reply(new Uint8Array(0));
    return true;
  }
  relayManagerRequest(m.key, m.bytes).then(reply);
  return true;
}
