// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The manager's messages: what a proxy asks and what the server answers, as
// bytes. The same bytes go through a slot of the shared table (_table.ts) or,
// from an OS child process, over its channel to the parent
// (lib/_shared/manager_link.ts). Imported by the client and the server.
//
// A request: REQUEST_HEADER bytes (op, object id, two numbers, the caller's
// pid, the item count), then the items. A reply: REPLY_HEADER bytes
// (status, item count, one number), then the items. An item is a length
// word (NO_VALUE for `undefined`) and that many bytes: a value as
// lib/queues/_codec.ts encodes it. The server keeps values as these bytes
// and never decodes them; numbers it needs (indices, timeouts) travel in
// the header.
//
// Imports nothing.

// ---- operations --------------------------------------------------------------
export const CREATE_DICT = 1;
export const CREATE_LIST = 2;
export const CREATE_NAMESPACE = 3;
export const CREATE_LOCK = 4;
export const CREATE_QUEUE = 5;

export const DICT_GET = 10;
export const DICT_SET = 11;
export const DICT_HAS = 12;
export const DICT_DELETE = 13;
export const DICT_POP = 14;
export const DICT_SET_DEFAULT = 15;
export const DICT_UPDATE = 16;
export const DICT_KEYS = 17;
export const DICT_VALUES = 18;
export const DICT_ENTRIES = 19;
export const DICT_SIZE = 20;
export const DICT_CLEAR = 21;

export const LIST_GET = 30;
export const LIST_SET = 31;
export const LIST_APPEND = 32;
export const LIST_EXTEND = 33;
export const LIST_INSERT = 34;
export const LIST_POP = 35;
export const LIST_REMOVE = 36;
export const LIST_INDEX = 37;
export const LIST_LENGTH = 38;
export const LIST_SLICE = 39;

export const NAMESPACE_GET = 50;
export const NAMESPACE_SET = 51;
export const NAMESPACE_ENTRIES = 52;

export const LOCK_ACQUIRE = 60;
export const LOCK_RELEASE = 61;

export const QUEUE_PUT = 70;
export const QUEUE_GET = 71;
export const QUEUE_SIZE = 72;

// ---- reply statuses ------------------------------------------------------------
export const OK = 0;
/** No such key (dict, namespace). */
export const MISSING = 1;
/** Index out of range; `num` is the list's length. */
export const OUT_OF_RANGE = 2;
/** No such value in the list. */
export const NOT_FOUND = 3;
/** The queue stayed empty (get). */
export const EMPTY = 4;
/** The queue stayed full (put). */
export const FULL = 5;
/** release() of a lock nobody holds. */
export const NOT_HELD = 6;
/** The lock's holder ended holding it; `num` is its pid. */
export const ABANDONED = 7;
/** The request was malformed; item 0 says why (UTF-8 text). */
export const BAD_REQUEST = 8;
/** The manager is down. */
export const MANAGER_DOWN = 9;
/** The manager cannot be reached from this process. */
export const UNREACHABLE = 10;

/** A number field that holds nothing (a missing index or timeout). */
export const NONE = NaN;
/** The length word of an `undefined` item. */
export const NO_VALUE = -1;

/** Request header: op u8 @0, id u32 @4, a f64 @8, b f64 @16, pid i32 @24,
 * item count u32 @28. */
export const REQUEST_HEADER = 32;
/** Reply header: status u8 @0, item count u32 @4, num f64 @8. */
export const REPLY_HEADER = 16;
const ITEM_HEADER = 4;

/** A request, as the server reads it. */
export interface Request {
  readonly op: number;
  readonly id: number;
  readonly a: number;
  readonly b: number;
  readonly pid: number;
  /** The items' bytes (`undefined` for an undefined value). */
  readonly items: (Uint8Array | undefined)[];
}

/** A reply, as the client reads it. */
export interface Reply {
  readonly status: number;
  readonly num: number;
  readonly items: (Uint8Array | undefined)[];
}

/** Appends bytes to a growing buffer. */
export class Writer {
  #buf: Uint8Array;
  #view: DataView;
  #at = 0;

  constructor(size = 256) {
    this.#buf = new Uint8Array(size);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Starts a new message, reusing the buffer. */
  reset(): this {
    this.#at = 0;
    return this;
  }

  #room(n: number): void {
    const need = this.#at + n;
    if (need <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(need, this.#buf.length * 2));
    next.set(this.#buf.subarray(0, this.#at));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** A request header. */
  request(
    op: number,
    id: number,
    a: number,
    b: number,
    pid: number,
    count: number,
  ): this {
    this.#room(REQUEST_HEADER);
    const v = this.#view;
    const at = this.#at;
    v.setUint32(at, op, true);
    v.setUint32(at + 4, id, true);
    v.setFloat64(at + 8, a, true);
    v.setFloat64(at + 16, b, true);
    v.setInt32(at + 24, pid, true);
    v.setUint32(at + 28, count, true);
    this.#at += REQUEST_HEADER;
    return this;
  }

  /** A reply header. */
  reply(status: number, count: number, num: number): this {
    this.#room(REPLY_HEADER);
    const v = this.#view;
    v.setUint32(this.#at, status, true);
    v.setUint32(this.#at + 4, count, true);
    v.setFloat64(this.#at + 8, num, true);
    this.#at += REPLY_HEADER;
    return this;
  }

  /** An item: `bytes`, or an undefined value. */
  item(bytes: Uint8Array | undefined): this {
    if (bytes === undefined) {
      this.#room(ITEM_HEADER);
      this.#view.setInt32(this.#at, NO_VALUE, true);
      this.#at += ITEM_HEADER;
      return this;
    }
    this.#room(ITEM_HEADER + bytes.length);
    this.#view.setInt32(this.#at, bytes.length, true);
    this.#buf.set(bytes, this.#at + ITEM_HEADER);
    this.#at += ITEM_HEADER + bytes.length;
    return this;
  }

  /** The bytes written since `reset()`: a view that the next message
   * reuses. */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#at);
  }
}

/** Reads `count` items from `bytes` at `at`; throws a RangeError saying
 * what is wrong when they do not fit exactly. Items are views of `bytes`. */
function readItems(
  bytes: Uint8Array,
  at: number,
  count: number,
): (Uint8Array | undefined)[] {
  // Each item takes at least its length word: a count beyond that is a lie,
  // and must not size an allocation.
  if (count > (bytes.length - at) / ITEM_HEADER) {
    throw new RangeError(`${count} items cannot fit in ${bytes.length} bytes`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const items: (Uint8Array | undefined)[] = [];
  for (let i = 0; i < count; i++) {
    if (at + ITEM_HEADER > bytes.length) {
      throw new RangeError(`item ${i} runs past the end`);
    }
    const len = v.getInt32(at, true);
    at += ITEM_HEADER;
    if (len === NO_VALUE) {
      items.push(undefined);
      continue;
    }
    if (len < 0 || at + len > bytes.length) {
      throw new RangeError(`item ${i} has a bad length ${len}`);
    }
    items.push(bytes.subarray(at, at + len));
    at += len;
  }
  if (at !== bytes.length) {
    throw new RangeError(`${bytes.length - at} bytes after the last item`);
  }
  return items;
}

/** Parses a request; throws a RangeError when it is malformed. */
export function readRequest(bytes: Uint8Array): Request {
  if (bytes.length < REQUEST_HEADER) {
    throw new RangeError(`a request of ${bytes.length} bytes is too short`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    op: v.getUint32(0, true),
    id: v.getUint32(4, true),
    a: v.getFloat64(8, true),
    b: v.getFloat64(16, true),
    pid: v.getInt32(24, true),
    items: readItems(bytes, REQUEST_HEADER, v.getUint32(28, true)),
  };
}

/** Parses a reply; throws a RangeError when it is malformed. */
export function readReply(bytes: Uint8Array): Reply {
  if (bytes.length < REPLY_HEADER) {
    throw new RangeError(`a reply of ${bytes.length} bytes is too short`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    status: v.getUint32(0, true),
    num: v.getFloat64(8, true),
    items: readItems(bytes, REPLY_HEADER, v.getUint32(4, true)),
  };
}

/** A reply of one status and number, without items. */
export function statusReply(status: number, num = NONE): Uint8Array {
  return new Writer(REPLY_HEADER).reply(status, 0, num).view();
}
