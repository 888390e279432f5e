// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The input side of every engine: the calls being fed, and the next chunk
// to send, pulled lazily from their inputs (sync inputs when a worker has
// room, async ones ahead of it) so that an endless input works.

import type { Chunk, Job } from "./job.ts";

/** Finished jobs at the head of the feeding list are cut off once there are
 * more than this many (and they are half the list). */
const FEED_COMPACT = 256;

let chunkIds = 0;

/** The unfinished jobs of an engine, oldest first: a list through the
 * jobs themselves, as a Set would be used (`add`, `delete`, `size`,
 * iteration), but with no hashing, which costs more than the rest of a
 * small call when a loop makes thousands of them. */
export class JobList implements Iterable<Job> {
  #head: Job | null = null;
  #tail: Job | null = null;
  #size = 0;

  /** How many jobs are listed. */
  get size(): number {
    return this.#size;
  }

  /** Lists `job` last, unless it is listed. */
  add(job: Job): void {
    if (job.listed) return;
    job.listed = true;
    job.prev = this.#tail;
    job.next = null;
    if (this.#tail === null) this.#head = job;
    else this.#tail.next = job;
    this.#tail = job;
    this.#size++;
  }

  /** Drops `job`; false if it was not listed. */
  delete(job: Job): boolean {
    if (!job.listed) return false;
    job.listed = false;
    const { prev, next } = job;
    if (prev === null) this.#head = next;
    else prev.next = next;
    if (next === null) this.#tail = prev;
    else next.prev = prev;
    job.prev = job.next = null;
    this.#size--;
    return true;
  }

  /** The listed jobs, oldest first. */
  *[Symbol.iterator](): Iterator<Job> {
    for (let job = this.#head; job !== null;) {
      const next: Job | null = job.next;
      yield job;
      job = next;
    }
  }
}

/** The calls of an engine and their input. */
export abstract class Feeder {
  protected readonly jobs: JobList = new JobList();
  /** Jobs that may still have input, oldest first, from `#feedHead`. */
  #feeding: Job[] = [];
  #feedHead = 0;
  /** Chunks to send before new input: re-queued or pulled asynchronously. */
  protected readonly retry: Chunk[] = [];

  /** Sends chunks while there is room. */
  abstract pump(): void;
  /** Fails `job` with `error`. */
  protected abstract fail(job: Job, error: unknown): void;
  /** Settles `job` if it has every result. */
  protected abstract check(job: Job): void;

  /** Adds a job whose input is to be read. */
  protected feed(job: Job): void {
    this.jobs.add(job);
    this.#feeding.push(job);
  }

  /** Items not yet sent, where the input's length is known. */
  protected queuedItems(): number {
    let queued = 0;
    for (const c of this.retry) queued += c.items.length;
    for (const job of this.jobs) {
      if (job.total !== undefined) queued += job.total - job.pulled;
    }
    return queued;
  }

  /** The next chunk to send: a re-queued one, else one from new input. */
  protected nextChunk(): Chunk | undefined {
    while (this.retry.length > 0) {
      const c = this.retry.shift()!;
      if (!c.job.settled) return c;
    }
    for (let i = this.#feedHead; i < this.#feeding.length; i++) {
      const job = this.#feeding[i]!;
      if (job.settled || job.source === null) {
        if (i === this.#feedHead && !job.pulling) this.#feedHead++;
        continue;
      }
      if (!job.wantsInput()) continue;
      if (job.isAsync) {
        this.#pullAsync(job);
        continue;
      }
      const chunk = this.#pullSync(job);
      if (chunk !== undefined) return chunk;
    }
    return undefined;
  }

  /** Drops the finished jobs at the head of the feeding list. */
  protected compactFeeding(): void {
    if (
      this.#feedHead > FEED_COMPACT && this.#feedHead * 2 > this.#feeding.length
    ) {
      this.#feeding = this.#feeding.slice(this.#feedHead);
      this.#feedHead = 0;
    }
  }

  /** A chunk of `items`, or, when there are none, settles a finished job. */
  #chunkOrFinish(job: Job, items: unknown[]): Chunk | undefined {
    if (items.length === 0) {
      this.check(job);
      return undefined;
    }
    const chunk: Chunk = {
      job,
      seq: job.chunks++,
      start: job.pulled,
      items,
      id: ++chunkIds,
      sentAt: 0,
      bytes: 0,
    };
    job.pulled += items.length;
    job.outstanding++;
    return chunk;
  }

  /** The input ended or failed: no more is read from it. */
  #inputFailed(job: Job, err: unknown): undefined {
    job.source = null;
    job.pulling = false;
    this.fail(job, err);
    return undefined;
  }

  #pullSync(job: Job): Chunk | undefined {
    let items: unknown[];
    if (job.array !== null) {
      try {
        items = job.array.slice(job.pulled, job.pulled + job.chunksize);
      } catch (err) {
        // An array Proxy whose reads throw, say.
        return this.#inputFailed(job, err);
      }
    } else {
      const it = job.source as Iterator<unknown>;
      items = [];
      let done = false;
      try {
        while (items.length < job.chunksize) {
          const r = it.next();
          if (r.done) {
            done = true;
            break;
          }
          items.push(r.value);
        }
      } catch (err) {
        return this.#inputFailed(job, err);
      }
      if (done) job.source = null;
    }
    // Known length: done without asking the iterator once more.
    if (job.total !== undefined && job.pulled + items.length >= job.total) {
      job.source = null;
    }
    return this.#chunkOrFinish(job, items);
  }

  async #pullAsync(job: Job): Promise<void> {
    job.pulling = true;
    const it = job.source as AsyncIterator<unknown>;
    const items: unknown[] = [];
    let done = false;
    try {
      while (items.length < job.chunksize) {
        const r = await it.next();
        if (r.done) {
          done = true;
          break;
        }
        items.push(r.value);
      }
    } catch (err) {
      return this.#inputFailed(job, err);
    }
    if (done) job.source = null;
    job.pulling = false;
    if (job.settled) return;
    const chunk = this.#chunkOrFinish(job, items);
    if (chunk !== undefined) this.retry.push(chunk);
    this.pump();
  }
}
