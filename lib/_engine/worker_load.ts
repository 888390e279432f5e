// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// How loaded each Worker of the local engine is, and so which one takes the
// next chunk: the chunks in flight to it, against the window of the
// in-flight rule (inflight.ts), and the bytes of binary data they copy. Also
// how a worker's outgoing chunks are cut into messages.

import type { Chunk } from "./job.ts";
import { inFlight, LOCAL_MAX_BYTES, LOCAL_WINDOW } from "./inflight.ts";
import type { PoolWorker } from "./pool_worker.ts";

/** A chunk of this many items or more goes in a message of its own: the
 * worker runs it from the array it came in, and starts on it while the
 * next is being sent. Smaller ones share messages. */
const SOLO_ITEMS = 64;

/** Whether `chunk` goes alone (many items, or a big copy). */
function solo(chunk: Chunk): boolean {
  return chunk.items.length >= SOLO_ITEMS || chunk.bytes >= LOCAL_MAX_BYTES;
}

/** The end of the message that starts with `chunks[from]`: a chunk that
 * goes alone ends it; small ones run on to the next one that goes alone. */
export function messageEnd(chunks: readonly Chunk[], from: number): number {
  let to = from + 1;
  if (solo(chunks[from]!)) return to;
  while (to < chunks.length && !solo(chunks[to]!)) to++;
  return to;
}

/** The load of a local engine's workers. */
export class WorkerLoad {
  /** Chunks that may be in flight to one worker. */
  #window = LOCAL_WINDOW.min;
  /** Bytes of copied binary data in flight to each worker that has some. */
  readonly #bytes = new Map<PoolWorker, number>();

  /** Sets the window for chunks that run `meanMs` on average. */
  timed(meanMs: number | undefined): void {
    this.#window = inFlight(meanMs, LOCAL_WINDOW);
  }

  /** `chunk` was sent to `w`. */
  sent(w: PoolWorker, chunk: Chunk): void {
    if (chunk.bytes > 0) {
      this.#bytes.set(w, (this.#bytes.get(w) ?? 0) + chunk.bytes);
    }
  }

  /** `chunk` is no longer in flight to `w` (its result came, or it was
   * never sent). */
  left(w: PoolWorker, chunk: Chunk): void {
    if (chunk.bytes === 0) return;
    const bytes = (this.#bytes.get(w) ?? 0) - chunk.bytes;
    if (bytes > 0 && w.inflight.length > 0) this.#bytes.set(w, bytes);
    else this.#bytes.delete(w);
  }

  /** Nothing is in flight to `w` any more (re-queued, or it ended). */
  cleared(w: PoolWorker): void {
    this.#bytes.delete(w);
  }

  #room(w: PoolWorker, maxTasks: number): boolean {
    return w.alive && w.tasks < maxTasks &&
      w.inflight.length < this.#window &&
      (this.#bytes.get(w) ?? 0) < LOCAL_MAX_BYTES;
  }

  /** An idle worker, else "spawn" while there are fewer than `size`, else
   * the one with room that has the fewest chunks in flight. */
  pick(
    workers: readonly PoolWorker[],
    size: number,
    maxTasks: number,
  ): PoolWorker | "spawn" | undefined {
    let best: PoolWorker | undefined;
    for (const w of workers) {
      if (!w.alive || w.tasks >= maxTasks) continue;
      if (best === undefined || w.inflight.length < best.inflight.length) {
        best = w;
      }
    }
    if (best !== undefined && best.inflight.length === 0) return best;
    if (workers.length < size) return "spawn";
    if (best === undefined || best.inflight.length >= this.#window) {
      return undefined;
    }
    if (this.#bytes.size === 0 || this.#room(best, maxTasks)) return best;
    // Past the byte bound: another with room, if any.
    for (const w of workers) if (this.#room(w, maxTasks)) return w;
    return undefined;
  }
}
