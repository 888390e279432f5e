// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The consumer's side of a streaming call (imap, imapUnordered): an async
// iterator that takes results as the engine delivers them. Taking one lets
// the engine pull more input, so the input is read only as fast as results
// are consumed.

import { messages } from "../_messages.ts";
import type { Job, Sink } from "./job.ts";

/** What a stream needs of its engine. */
export interface StreamEngine {
  readonly closed: boolean;
  /** Adds a job and starts feeding it to workers. */
  start(job: Job): void;
  /** Sends chunks while there is room. */
  pump(): void;
  /** Stops a job whose consumer left early. */
  cancel(job: Job): void;
}

/**
 * The iterator of a stream: `open` makes its job for the stream sink given;
 * the job starts on the first `next()`, so that an iterator never read
 * reads no input. `what` names the call in errors.
 */
export function streamResults(
  engine: StreamEngine,
  open: (sink: Sink) => Job,
  what: string,
  ordered: boolean,
): AsyncIterableIterator<unknown> {
  let wake: (() => void) | null = null;
  const job = open({
    kind: "stream",
    ordered,
    wake: () => {
      const w = wake;
      wake = null;
      w?.();
    },
  });
  let started = false;
  const iterator: AsyncIterableIterator<unknown> = {
    async next(): Promise<IteratorResult<unknown>> {
      if (!started) {
        started = true;
        if (engine.closed) {
          job.settled = true;
          throw new Error(messages.poolClosed(what));
        }
        engine.start(job);
      }
      while (true) {
        const next = job.take();
        if (next !== undefined) {
          engine.pump();
          return next;
        }
        if (job.error !== null) {
          const e = job.error.value;
          job.error = null;
          job.source = null;
          throw e;
        }
        if (job.settled) return { value: undefined, done: true };
        await new Promise<void>((resolve) => wake = resolve);
      }
    },
    return(): Promise<IteratorResult<unknown>> {
      engine.cancel(job);
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
