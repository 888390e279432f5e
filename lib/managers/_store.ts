// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The objects a manager holds, on its server thread: dicts (and namespaces),
// lists, locks and queues. Values are kept as the bytes their proxies sent
// (lib/queues/_codec.ts encodings) and never decoded here: a key is found by
// its bytes, and list.remove()/index() compare bytes. Imported by the server
// only.
//
// Imports nothing.

/** Encoded bytes of a value; `undefined` for the value `undefined`. */
export type Bytes = Uint8Array | undefined;

/** A stored entry: the key's and the value's bytes. */
export interface Entry {
  readonly k: Bytes;
  v: Bytes;
}

/** Past this many bytes, a key's text is built piecewise. */
const KEY_CHUNK = 8192;

/**
 * The identity of a key: its bytes, one character per byte. Two keys are
 * the same when structured clone gives them the same bytes: equal
 * primitives, or objects with the same contents (Python's tuple keys).
 */
export function keyOf(bytes: Bytes): string {
  if (bytes === undefined) return "";
  if (bytes.length <= KEY_CHUNK) {
    return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  let out = "";
  for (let at = 0; at < bytes.length; at += KEY_CHUNK) {
    out += String.fromCharCode.apply(
      null,
      bytes.subarray(at, at + KEY_CHUNK) as unknown as number[],
    );
  }
  return out;
}

/** Whether two values have the same bytes. */
export function sameBytes(a: Bytes, b: Bytes): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A parked request: the slot (and its ticket) to answer later. */
export interface Waiter {
  readonly slot: number;
  readonly ticket: number;
  /** `performance.now()` time at which it times out (Infinity: never). */
  readonly deadline: number;
  /** The timeout it was given, ms (for the message). */
  readonly timeout: number;
  /** The pid that asked (a lock's next holder). */
  readonly pid: number;
  /** The value a put waits to place. */
  readonly value?: Bytes;
}

/** A dict, or a namespace (a dict of names). */
export interface DictObject {
  readonly kind: "dict" | "namespace";
  readonly map: Map<string, Entry>;
}

/** A list. */
export interface ListObject {
  readonly kind: "list";
  readonly items: Bytes[];
}

/** A lock. */
export interface LockObject {
  readonly kind: "lock";
  held: boolean;
  /** The pid that holds it (as it said). */
  holder: number;
  /** The pid of a holder that ended holding it, not yet reported. */
  abandonedBy: number;
  readonly waiters: Waiter[];
}

/** A FIFO queue. */
export interface QueueObject {
  readonly kind: "queue";
  /** 0: no limit. */
  readonly maxsize: number;
  readonly items: Deque<Bytes>;
  readonly getters: Waiter[];
  readonly putters: Waiter[];
}

/** Any object. */
export type Stored = DictObject | ListObject | LockObject | QueueObject;

/** When the consumed head of a Deque is compacted away. */
const COMPACT_AT = 1024;

/** A FIFO of values with O(1) amortised push and shift. */
export class Deque<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(value: T): void {
    this.#items.push(value);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const value = this.#items[this.#head];
    this.#items[this.#head++] = undefined as T;
    if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return value;
  }
}

/**
 * The index `i` of a Python sequence of `length`: a negative index counts
 * from the end. Returns -1 when it is out of range.
 */
export function pyIndex(i: number, length: number): number {
  const at = i < 0 ? i + length : i;
  return at >= 0 && at < length ? at : -1;
}

/** Python's list.insert() position: clamped into 0..length. */
export function insertAt(i: number, length: number): number {
  const at = i < 0 ? i + length : i;
  return Math.max(0, Math.min(length, at));
}

/** A slice bound as Python (and Array.prototype.slice) take it; NaN:
 * `fallback`. */
export function sliceBound(
  i: number,
  length: number,
  fallback: number,
): number {
  if (Number.isNaN(i)) return fallback;
  const at = i < 0 ? i + length : i;
  return Math.max(0, Math.min(length, at));
}
