// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Pipe() and its ends, Connection. The checks of an end and of the bytes of
// sendBytes()/recvBytes() are in _pipe_checks.ts.

import { decode } from "./_codec.ts";
import { DEFAULT_CAPACITY_BYTES, encodeFor, ringFrom } from "./_queue_util.ts";
import {
  CLOSED_CODE,
  closeReader,
  closeWriters,
  put,
  READER_GONE,
  type Ring,
  take,
  waitReadable,
} from "./_ring.ts";
import * as check from "./_pipe_checks.ts";
import { registerShareable } from "../_shared/shareable.ts";
import { messages } from "../_messages.ts";
import { deadlineOf } from "../_shared/wait.ts";
import { EOFError } from "../errors.ts";

/** The options of {@linkcode Pipe}. */
export interface PipeOptions {
  /**
   * The size in bytes of each direction's shared buffer: how many bytes of
   * serialized values may be sent and not yet received. An integer from 64
   * to 2 ** 30 (1 GiB). A duplex pipe takes this much memory twice.
   *
   * `send()` waits while the buffer is full, until the other end receives.
   * A value whose serialized form (plus a few bytes of framing) does not
   * fit can never be sent: its `send()` rejects with a `RangeError`.
   *
   * @default {1048576}
   */
  capacityBytes?: number;
}

/**
 * One end of a {@linkcode Pipe}, as Python's
 * `multiprocessing.connection.Connection`. Pass it in `Process` args or pool
 * task arguments; whichever process has it sends and receives on it.
 *
 * There is one of each end, whichever processes hold it: `close()` closes
 * the end for all of them (unlike Python, where each process closes its own
 * handle, so do not close an end that you passed to another process). The
 * other end then receives what was sent before, then gets
 * {@linkcode EOFError}; its `send()` throws `Deno.errors.BrokenPipe`.
 *
 * Not lock-free: each direction is a ring buffer whose guard word is held
 * while a value's bytes are copied; waiting is an `Atomics.waitAsync`.
 *
 * @typeParam T The type of the values sent.
 *
 * @example Send and receive
 * ```ts
 * import { Pipe } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const [left, right] = Pipe<string>();
 * await left.send("ping");
 * assert.equal(await right.recv(), "ping");
 * await right.send("pong");
 * assert.equal(await left.poll(100), true);
 * assert.equal(await left.recv(), "pong");
 * left.close();
 * right.close();
 * ```
 */
export class Connection<T = unknown> {
  /**
   * The class name, for workers to restore the prototype.
   *
   * @ignore
   */
  readonly $mp: string = "Connection";
  /**
   * The ring this end reads, if any.
   *
   * @ignore
   */
  readonly $in: Ring | null;
  /**
   * The ring this end writes, if any.
   *
   * @ignore
   */
  readonly $out: Ring | null;
  /**
   * One word: 1 once this end is closed.
   *
   * @ignore
   */
  readonly $closed: Int32Array;

  /**
   * Use {@linkcode Pipe} to make connections.
   *
   * @param input The ring this end reads, or `null`.
   * @param output The ring this end writes, or `null`.
   * @ignore
   */
  constructor(input: Ring | null, output: Ring | null) {
    this.$in = input;
    this.$out = output;
    this.$closed = new Int32Array(new SharedArrayBuffer(4));
  }

  /**
   * Whether this end is closed: by `close()` (or the end of a `using`
   * scope) in any process that holds it, since there is one of each end
   * whichever processes hold it. Once `true` it stays `true`, and `send()`,
   * `recv()` and `poll()` on this end reject. It says nothing of the other
   * end: when that one closes, this end receives what was sent before, then
   * {@linkcode EOFError}.
   *
   * @example Closing one end
   * ```ts
   * import { Pipe } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * const [left, right] = Pipe();
   * assert.equal(left.closed, false);
   * left.close();
   * assert.equal(left.closed, true);
   * assert.equal(right.closed, false);
   * right.close();
   * ```
   */
  get closed(): boolean {
    return Atomics.load(this.$closed, 0) !== 0;
  }

  /**
   * Whether this end can receive: `true` for both ends of a duplex pipe and
   * for the first end of a one-way pipe (`Pipe(false)`), `false` for the
   * second end of a one-way pipe, whose `recv()` and `poll()` reject. Set
   * when the pipe is made; closing the end does not change it.
   *
   * @example The ends of a one-way pipe
   * ```ts
   * import { Pipe } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * const [receiver, sender] = Pipe(false);
   * assert.equal(receiver.readable, true);
   * assert.equal(receiver.writable, false);
   * assert.equal(sender.readable, false);
   * assert.equal(sender.writable, true);
   * receiver.close();
   * sender.close();
   * ```
   */
  get readable(): boolean {
    return this.$in !== null;
  }

  /**
   * Whether this end can send: `true` for both ends of a duplex pipe and
   * for the second end of a one-way pipe (`Pipe(false)`), `false` for the
   * first end of a one-way pipe, whose `send()` rejects. Set when the pipe
   * is made; closing the end does not change it. See
   * {@linkcode Connection.readable} for an example.
   */
  get writable(): boolean {
    return this.$out !== null;
  }

  /**
   * Sends `value` to the other end, waiting while the pipe's bytes in this
   * direction are used up.
   *
   * @param value A structured-clone value.
   * @returns A promise that resolves when the value is in the pipe.
   * @throws {Error} (as a rejection) when this end is closed or can only
   * receive.
   * @throws {Deno.errors.BrokenPipe} (as a rejection) when the other end is
   * closed.
   * @throws {RangeError} (as a rejection) when the value is larger than the
   * pipe's capacity.
   * @throws {DOMException} (as a rejection) named `DataCloneError` when
   * structured clone cannot carry the value.
   */
  async send(value: T): Promise<void> {
    const out = check.writer(this, "send");
    const bytes = encodeFor(out, value, "pipe");
    const code = await put(out, bytes, Infinity, "pipe");
    if (code === READER_GONE) {
      throw new Deno.errors.BrokenPipe(messages.peerClosed());
    }
    // This end was closed while the send waited.
    if (code === CLOSED_CODE) {
      throw new Error(messages.connectionClosed("send"));
    }
  }

  /**
   * Receives the next value from the other end, waiting until one comes.
   *
   * @returns A promise of the value.
   * @throws {EOFError} (as a rejection) when the other end is closed and
   * everything it sent was received.
   * @throws {Error} (as a rejection) when this end is closed or can only
   * send.
   */
  async recv(): Promise<T> {
    const input = check.reader(this, "receive");
    const got = await take(input, Infinity, "pipe");
    if (typeof got !== "number") return decode(got) as T;
    // This end was closed while the recv waited.
    if (got === READER_GONE) {
      throw new Error(messages.connectionClosed("receive"));
    }
    throw new EOFError(messages.pipeEnded());
  }

  /**
   * Sends bytes to the other end, as Python's `send_bytes()`: the `size`
   * bytes of `data` from byte `offset` (default: all of them), copied when
   * called, so later changes to `data` are not sent. The other end receives
   * them as one `Uint8Array` with {@linkcode Connection.recvBytes} (or
   * `recv()`). Waits, as `send()` does, while the pipe's bytes in this
   * direction are used up.
   *
   * @param data The bytes: a `Uint8Array`, an `ArrayBuffer` or
   * `SharedArrayBuffer`, or any other typed array or `DataView` (its bytes,
   * in the platform's byte order).
   * @param offset The first byte of `data` to send; default 0.
   * @param size How many bytes to send; default all from `offset` on.
   * @returns A promise that resolves when the bytes are in the pipe.
   * @throws {TypeError} (as a rejection) when `data` is not bytes, or
   * `offset` or `size` is not a number.
   * @throws {RangeError} (as a rejection) when `offset` or `size` is not an
   * integer, or the range they give is not inside `data`, or when the bytes
   * are more than the pipe's capacity.
   * @throws {Error} (as a rejection) when this end is closed or can only
   * receive.
   * @throws {Deno.errors.BrokenPipe} (as a rejection) when the other end is
   * closed.
   *
   * @example Send part of a buffer
   * ```ts
   * import { Pipe } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * const [left, right] = Pipe();
   * await left.sendBytes(new Uint8Array([1, 2, 3, 4, 5]), 1, 3);
   * assert.deepEqual(await right.recvBytes(), new Uint8Array([2, 3, 4]));
   * left.close();
   * right.close();
   * ```
   */
  async sendBytes(
    data: ArrayBufferLike | ArrayBufferView,
    offset?: number,
    size?: number,
  ): Promise<void> {
    await this.send(check.bytesToSend(data, offset, size) as T);
  }

  /**
   * Receives the next message as bytes, waiting until one comes: what the
   * other end sent with {@linkcode Connection.sendBytes} (or a `Uint8Array`
   * it sent with `send()`), as Python's `recv_bytes()`.
   *
   * A message longer than `maxLength` bytes rejects with a `RangeError`
   * naming both lengths, and a message that is not bytes (sent with
   * `send()`) with a `TypeError`. Either way the message is taken out of the
   * pipe and dropped (never delivered in part), and the connection stays
   * usable: the next call gets the next message. Python instead leaves the
   * connection unreadable after a too-long message.
   *
   * @param maxLength The most bytes to accept; default no limit.
   * @returns A promise of the bytes, in a buffer of their own.
   * @throws {TypeError} (as a rejection) when `maxLength` is not a number,
   * or the message is not bytes.
   * @throws {RangeError} (as a rejection) when `maxLength` is not an integer
   * of 0 or more, or the message is longer.
   * @throws {EOFError} (as a rejection) when the other end is closed and
   * everything it sent was received.
   * @throws {Error} (as a rejection) when this end is closed or can only
   * send.
   *
   * @example A limit on the length
   * ```ts
   * import { Pipe } from "@parallel/multiprocessing";
   * import assert from "node:assert/strict";
   *
   * const [left, right] = Pipe();
   * await left.sendBytes(new TextEncoder().encode("too long"));
   * await left.sendBytes(new TextEncoder().encode("ok"));
   * await assert.rejects(right.recvBytes(4), RangeError); // dropped
   * assert.equal(new TextDecoder().decode(await right.recvBytes(4)), "ok");
   * left.close();
   * right.close();
   * ```
   */
  async recvBytes(maxLength?: number): Promise<Uint8Array> {
    const max = check.maxLengthOf(maxLength);
    return check.receivedBytes(await this.recv(), max);
  }

  /**
   * Whether `recv()` would not wait: a value is ready, or the other end is
   * closed. As Python's `poll()`, without `timeout` it answers at once.
   *
   * @param timeout The most milliseconds to wait for a value; default 0,
   * `Infinity` for no limit.
   * @returns A promise of `true` when a value (or the end) is ready.
   * @throws {Error} (as a rejection) when this end is closed or can only
   * send.
   */
  async poll(timeout = 0): Promise<boolean> {
    const deadline = deadlineOf(timeout, "poll() timeout");
    const input = check.reader(this, "poll");
    return await waitReadable(input, deadline, "pipe");
  }

  /**
   * Closes this end for every process that holds it. The other end
   * receives what was sent, then gets {@linkcode EOFError}. Closing twice
   * is harmless.
   */
  close(): void {
    if (Atomics.exchange(this.$closed, 0, 1) !== 0) return;
    if (this.$out !== null) closeWriters(this.$out, "pipe");
    if (this.$in !== null) closeReader(this.$in, "pipe");
  }

  /**
   * Closes this end at the end of a `using` scope, as `close()` does: for
   * every process that holds it, not only this one. So declare with `using`
   * only an end that no other process still needs.
   */
  [Symbol.dispose](): void {
    this.close();
  }
}

registerShareable("Connection", Connection.prototype);

/**
 * Makes a pipe: two connected ends, as Python's `multiprocessing.Pipe()`.
 * With `duplex` (the default) each end sends to and receives from the
 * other; with `duplex` false the first end only receives and the second
 * only sends. Values arrive in the order they were sent.
 *
 * Each direction is a ring buffer on a `SharedArrayBuffer` of
 * `capacityBytes` (default 1 MiB); see {@linkcode Connection}.
 *
 * @typeParam T The type of the values sent.
 * @param duplex Whether both ends send; default `true`.
 * @param options `{ capacityBytes }`, per direction.
 * @returns The two ends, `[receiver, sender]` when one-way.
 * @throws {RangeError} when `capacityBytes` is out of range.
 *
 * @example Ping-pong with a process
 * ```ts no-eval
 * import { type Connection, Pipe, Process } from "@parallel/multiprocessing";
 *
 * export async function echo(conn: Connection<string>) {
 *   await conn.send(`${await conn.recv()} pong`);
 * }
 *
 * if (import.meta.main) {
 *   const [mine, theirs] = Pipe<string>();
 *   const p = new Process({ target: echo, args: [theirs] });
 *   p.start();
 *   await mine.send("ping");
 *   console.log(await mine.recv()); // "ping pong"
 *   await p.join();
 * }
 * ```
 *
 * @example One way
 * ```ts
 * import { Pipe } from "@parallel/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const [reader, writer] = Pipe<number[]>(false);
 * await writer.send([1, 2, 3]);
 * assert.deepEqual(await reader.recv(), [1, 2, 3]);
 * await assert.rejects(reader.send([4]));
 * ```
 */
export function Pipe<T = unknown>(
  duplex = true,
  options?: PipeOptions,
): [Connection<T>, Connection<T>] {
  const cap = {
    capacityBytes: options?.capacityBytes ?? DEFAULT_CAPACITY_BYTES,
  };
  const ab = ringFrom(cap, "Pipe");
  if (!duplex) return [new Connection(ab, null), new Connection(null, ab)];
  const ba = ringFrom(cap, "Pipe");
  return [new Connection(ba, ab), new Connection(ab, ba)];
}
