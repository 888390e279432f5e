// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// A call on a pool as its engine receives it (what `Pool` and the Redis
// worker command describe), and how it becomes a job: the input opened, its
// length found, and the chunk size chosen.

import { positiveInt } from "../_check.ts";
import { messages } from "../_messages.ts";
import type { FnRef } from "../_shared/wire.ts";
import type { CallOptions } from "../pool/types.ts";
import { Job, type Sink } from "./job.ts";

/** One call on a pool (map, imap, apply, ...), described for its engine. */
export interface Call {
  /** The method, for messages: "map", "imap", "apply", ... */
  readonly what: string;
  /** The target: its export name and source. */
  readonly fn: FnRef;
  /** One object per target function: the engine keys the function's wire
   * key by it, so that a function is looked up once. */
  readonly target: object;
  /** The module that exports the target. */
  readonly module: string;
  /** Spread each item as the target's arguments (starmap, apply). */
  readonly star: boolean;
  /** Items per chunk, as the caller gave it (checked when the job is
   * opened); `undefined` for the default rule. */
  readonly chunksize: unknown;
  /** A sync or async iterable of items. */
  readonly input: unknown;
  /** The call's signal and progress callback. */
  readonly options: CallOptions;
}

/** The default chunk size splits an input of known length into this many
 * chunks per process, as Python's `ceil(n / (4 * processes))`. */
const CHUNKS_PER_PROCESS = 4;
/** A stream stops reading input while this many of its results are in
 * flight or unconsumed... */
const STREAM_MIN_BACKLOG = 256;
/** ...or this many chunks per process, when that is more. */
const STREAM_CHUNKS_PER_PROCESS = 64;

function sizeOf(input: unknown): number | undefined {
  if (Array.isArray(input)) return input.length;
  if (ArrayBuffer.isView(input)) {
    return (input as unknown as ArrayLike<unknown>).length;
  }
  if (input instanceof Set || input instanceof Map) return input.size;
  return undefined;
}

/** The source of an array input, whose chunks are sliced from the array
 * (Job.array): never read, so no iterator is made for it. */
const ARRAY_SOURCE: Iterator<unknown> = Object.freeze({
  next: (): IteratorResult<unknown> => ({ done: true, value: undefined }),
});

function iterate(
  input: unknown,
): { it: Iterator<unknown> | AsyncIterator<unknown>; isAsync: boolean } {
  if (input !== null && input !== undefined) {
    const o = input as Record<symbol, unknown>;
    if (typeof o[Symbol.iterator] === "function") {
      if (Array.isArray(input)) return { it: ARRAY_SOURCE, isAsync: false };
      return {
        it: (o[Symbol.iterator] as () => Iterator<unknown>).call(input),
        isAsync: false,
      };
    }
    if (typeof o[Symbol.asyncIterator] === "function") {
      return {
        it: (o[Symbol.asyncIterator] as () => AsyncIterator<unknown>).call(
          input,
        ),
        isAsync: true,
      };
    }
  }
  throw new TypeError(messages.notIterable(input));
}

/**
 * The job of `call`, its results going to `sink`, on an engine of
 * `processes` workers (which the default chunk size and a stream's backlog
 * scale with).
 *
 * @throws {TypeError} when the input is not iterable or the chunk size not
 * a number.
 * @throws {RangeError} when the chunk size is not a positive integer.
 * @throws the signal's reason when it is aborted already.
 */
export function openJob(call: Call, sink: Sink, processes: number): Job {
  const { it, isAsync } = iterate(call.input);
  const total = sizeOf(call.input);
  const chunksize = call.chunksize === undefined
    ? total === undefined
      ? 1
      : Math.max(1, Math.ceil(total / (CHUNKS_PER_PROCESS * processes)))
    : positiveInt(call.chunksize, messages.badChunksize);
  call.options.signal?.throwIfAborted();
  const bound = sink.kind === "stream"
    ? Math.max(
      STREAM_MIN_BACKLOG,
      processes * STREAM_CHUNKS_PER_PROCESS * chunksize,
    )
    : Infinity;
  return new Job(call, sink, it, isAsync, total, chunksize, bound);
}
