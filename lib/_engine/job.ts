// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// One call on a pool (map, imap, apply, ...) while it runs: its input, its
// chunks in flight, and where its results go.

import type { FnRef } from "../_shared/wire.ts";
import type { CallOptions } from "../pool/types.ts";
import type { Call } from "./call.ts";

/** Where a job's results go. */
export type Sink =
  | {
    readonly kind: "collect";
    /** Resolve with the first value only (apply), not the list. */
    readonly single: boolean;
    readonly resolve: (values: unknown) => void;
    /** `at`: the index in the input of the first item of the failed chunk
     * that gave no result (the item whose task threw; the chunk's first
     * when it failed as a whole, as when its worker died); 0 when the call
     * failed otherwise (aborted, its input threw, a value not sendable). */
    readonly reject: (error: unknown, at: number) => void;
  }
  | {
    readonly kind: "stream";
    readonly ordered: boolean;
    /** Wakes the consumer. */
    readonly wake: () => void;
  };

/** A sink that collects a call's results. */
export type CollectSink = Extract<Sink, { readonly kind: "collect" }>;

/** A slice of a job's input, sent to one worker as one message. */
export interface Chunk {
  readonly job: Job;
  /** The order of this chunk within its job. */
  readonly seq: number;
  /** Index of its first item within the job's input. */
  readonly start: number;
  readonly items: unknown[];
  /** Unique id on the wire. */
  readonly id: number;
  /** When it was sent, for the wait-time statistic. */
  sentAt: number;
  /** The bytes of binary data its items copy when sent (set by
   * `prepare`; buffers that move are not counted). */
  bytes: number;
}

/** Most results a stream's consumer may have taken before the taken ones
 * are cut from the front of its buffer. */
const TAKEN_COMPACT = 1024;

/** A collected call of at most this many chunks joins their results with
 * one `concat`; more are appended one by one (a spread of that many
 * arguments could pass the engine's limit). */
const CONCAT_PARTS = 1024;

/** A collected call whose chunks are smaller than this writes each result
 * into one array at its place: a part per chunk (an array each, joined at
 * the end) costs more than it saves for small chunks (chunksize 1: 2.3 µs
 * an item against 1.0). */
const PARTS_MIN_CHUNK = 64;

function noop(): void {}

/** The `results` of a collect sink, which has none: frozen, so that a
 * write to it would throw rather than go unseen. */
const NO_RESULTS: unknown[] = Object.freeze([]) as unknown as unknown[];

/** A call's state. */
export class Job {
  readonly fn: FnRef;
  /** The call's target record; the engine keys functions by it. */
  readonly target: object;
  readonly module: string;
  readonly star: boolean;
  readonly chunksize: number;
  readonly total: number | undefined;
  readonly sink: Sink;
  readonly options: CallOptions;
  /** Sync or async iterator over the input; null once exhausted. */
  source: Iterator<unknown> | AsyncIterator<unknown> | null;
  readonly isAsync: boolean;
  /** The input when it is an array: chunks are sliced from it. */
  readonly array: readonly unknown[] | null;
  /** The function's key on the wire, set by the engine. */
  key = 0;
  /** An async pull is under way. */
  pulling = false;
  /** Items taken from the source. */
  pulled = 0;
  /** Chunks made. */
  chunks = 0;
  /** Items completed. */
  done = 0;
  /** Chunks made and not yet finished. */
  outstanding = 0;
  settled = false;
  /** stream: results ready for the consumer (none for a collect sink). */
  results: unknown[];
  /** collect: the results of each chunk, by its seq, joined at the end:
   * a chunk's results as they came when they came alone, so that a big
   * chunk's are never copied one by one. Made at the first result. */
  parts: unknown[][] | null = null;
  /** collect, small chunks (see PARTS_MIN_CHUNK): every result at its
   * place; null when the results go in `parts`. */
  flat: unknown[] | null = null;
  /** collect, single: the first result. */
  first: unknown = undefined;
  /** stream: how many of `results` the consumer has taken. */
  taken = 0;
  /** stream, ordered: finished chunks waiting for earlier ones. */
  parked: Map<number, unknown[] | { error: unknown }> | null = null;
  /** stream, ordered: the next chunk seq to deliver. */
  nextSeq = 0;
  /** stream: the error to throw after `results` drain. */
  error: { value: unknown } | null = null;
  /** stream: most results that may wait unconsumed before input stops. */
  readonly bound: number;
  /** Removes the abort listener. */
  cleanup: () => void = noop;
  /** Its place in its engine's list of unfinished jobs (feed.ts). */
  listed = false;
  prev: Job | null = null;
  next: Job | null = null;

  constructor(
    call: Call,
    sink: Sink,
    source: Iterator<unknown> | AsyncIterator<unknown>,
    isAsync: boolean,
    total: number | undefined,
    chunksize: number,
    bound: number,
  ) {
    this.fn = call.fn;
    this.target = call.target;
    this.module = call.module;
    this.star = call.star;
    this.options = call.options;
    this.array = Array.isArray(call.input) ? call.input : null;
    this.source = source;
    this.isAsync = isAsync;
    this.total = total;
    this.chunksize = chunksize;
    this.sink = sink;
    this.results = sink.kind === "stream" ? [] : NO_RESULTS;
    if (
      sink.kind === "collect" && !sink.single && chunksize < PARTS_MIN_CHUNK
    ) {
      this.flat = total === undefined ? [] : new Array(total);
    }
    this.bound = bound;
  }

  /** stream: input is paused until the backlog halves. */
  #paused = false;

  /** Whether more input may be pulled now. A stream stops at `bound` items
   * in flight or unconsumed, and resumes at half, so it refills in batches. */
  wantsInput(): boolean {
    if (this.settled || this.source === null || this.pulling) return false;
    if (this.sink.kind === "collect") return true;
    const level = this.results.length - this.taken +
      ((this.parked?.size ?? 0) + this.outstanding) * this.chunksize;
    if (this.#paused) {
      if (level > this.bound / 2) return false;
      this.#paused = false;
    } else if (level >= this.bound) {
      this.#paused = true;
      return false;
    }
    return true;
  }

  /** collect: every result, in input order (call once, when finished). */
  collected(): unknown[] {
    if (this.flat !== null) return this.flat;
    const parts = this.parts;
    if (parts === null) return [];
    if (parts.length === 1) return parts[0]!;
    if (parts.length <= CONCAT_PARTS) {
      return ([] as unknown[]).concat(...parts);
    }
    const out: unknown[] = [];
    for (const part of parts) for (const v of part) out.push(v);
    return out;
  }

  /** Whether every item is done. */
  finished(): boolean {
    return this.source === null && this.outstanding === 0 && !this.pulling;
  }

  /** stream: the next result for the consumer, if one is ready; the taken
   * ones are dropped from the buffer as it goes. */
  take(): IteratorResult<unknown> | undefined {
    const results = this.results;
    if (this.taken >= results.length) return undefined;
    const value = results[this.taken];
    results[this.taken++] = undefined;
    if (this.taken >= TAKEN_COMPACT && this.taken * 2 >= results.length) {
      results.splice(0, this.taken);
      this.taken = 0;
    }
    return { value, done: false };
  }
}
