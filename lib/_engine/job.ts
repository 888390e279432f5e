// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// One call on a pool (map, imap, apply, ...): its input, its chunks in
// flight, and where its results go.

import type { FnRef } from "../_wire.ts";

/** Where a job's results go. */
export type Sink =
  | {
    readonly kind: "collect";
    readonly resolve: (values: unknown[]) => void;
    readonly reject: (error: unknown) => void;
  }
  | {
    readonly kind: "stream";
    readonly ordered: boolean;
    /** Wakes the consumer. */
    readonly wake: () => void;
  };

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
}

/** The progress and cancellation options of a call. */
export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((done: number, total?: number) => void) | undefined;
}

/** A call's state. */
export class Job {
  readonly fn: FnRef;
  readonly module: string;
  readonly star: boolean;
  readonly chunksize: number;
  readonly total: number | undefined;
  readonly sink: Sink;
  readonly options: CallOptions;
  /** Sync or async iterator over the input; null once exhausted. */
  source: Iterator<unknown> | AsyncIterator<unknown> | null;
  readonly isAsync: boolean;
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
  /** collect: the results; stream: results ready for the consumer. */
  results: unknown[] = [];
  /** stream, ordered: finished chunks waiting for earlier ones. */
  parked: Map<number, unknown[] | { error: unknown }> = new Map();
  /** stream, ordered: the next chunk seq to deliver. */
  nextSeq = 0;
  /** stream: the error to throw after `results` drain. */
  error: { value: unknown } | null = null;
  /** stream: most results that may wait unconsumed before input stops. */
  readonly bound: number;
  /** Removes the abort listener. */
  cleanup: () => void = () => {};

  constructor(init: {
    fn: FnRef;
    module: string;
    star: boolean;
    chunksize: number;
    total: number | undefined;
    source: Iterator<unknown> | AsyncIterator<unknown>;
    isAsync: boolean;
    sink: Sink;
    options: CallOptions;
    bound: number;
  }) {
    this.fn = init.fn;
    this.module = init.module;
    this.star = init.star;
    this.chunksize = init.chunksize;
    this.total = init.total;
    this.source = init.source;
    this.isAsync = init.isAsync;
    this.sink = init.sink;
    this.options = init.options;
    this.bound = init.bound;
  }

  /** Whether more input may be pulled now (streams respect their bound). */
  wantsInput(): boolean {
    if (this.settled || this.source === null || this.pulling) return false;
    if (this.sink.kind === "collect") return true;
    const waiting = this.results.length + this.parked.size * this.chunksize;
    return waiting + this.outstanding * this.chunksize < this.bound;
  }

  /** Whether every item is done. */
  finished(): boolean {
    return this.source === null && this.outstanding === 0 && !this.pulling;
  }
}
