// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The pool engine: workers, the chunk scheduler, crash recovery and abort.
//
// Chunks are made lazily from each job's input when a worker has room, so an
// endless input works and memory stays bounded. A worker runs its chunks one
// at a time in arrival order; several may be in flight to it (a window that
// shrinks as tasks get slower), so the head of its in-flight list is the one
// running. When a worker dies, its head chunk fails with a ProcessError and
// the rest are re-queued for other workers.

import { context } from "../_context.ts";
import { livenessFor, processEnded } from "../_liveness.ts";
import { ProcessError } from "../errors.ts";
import { messages } from "../_messages.ts";
import {
  classError,
  findClassInstance,
  post,
  transfersIn,
  unwrapTransfer,
} from "../_clone.ts";
import {
  type ChunkMessage,
  decodeError,
  type FnRef,
  type FromWorker,
  type InitMessage,
  type PoolMessage,
} from "../_wire.ts";
import type { Chunk, Job } from "./job.ts";
import type { Permissions, ResourceLimits } from "./permissions.ts";
import { nextPid, pidCounter } from "./registry.ts";
import { spawnWorker, type WorkerHandle } from "./spawn.ts";
import { Samples, type Timing } from "./stats.ts";

/** The pool's settings, every default filled in. */
export interface EngineOptions {
  readonly processes: number;
  readonly module: string;
  readonly permissions: Permissions;
  readonly resourceLimits: ResourceLimits | undefined;
  readonly initializer: { fn: FnRef; args: unknown[] } | undefined;
  readonly maxTasksPerChild: number;
  readonly idleTimeout: number;
}

/** What `Pool.stats()` returns. */
export interface PoolStats {
  /** The pool size. */
  readonly processes: number;
  /** Workers running a task now. */
  readonly busy: number;
  /** Items waiting to be sent to a worker (known input only). */
  readonly queued: number;
  /** Items finished. */
  readonly completed: number;
  /** Items that failed. */
  readonly failed: number;
  /** Share of worker time spent running tasks since the pool started, 0-1. */
  readonly utilization: number;
  /** Time a task (chunk) ran in its worker, ms. */
  readonly runTime: Timing;
  /** Time a task waited between being sent and starting, ms. */
  readonly waitTime: Timing;
}

type Port = MessagePort & { ref(): void; unref(): void };

class PoolWorker {
  readonly name: string;
  readonly port: Port;
  handle: WorkerHandle | null = null;
  readonly inflight: Chunk[] = [];
  readonly fns = new Set<number>();
  tasks = 0;
  alive = true;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Chunks to send in the next batch. */
  out: { chunks: Chunk[]; transfer: Transferable[] } | null = null;

  constructor(name: string, port: Port) {
    this.name = name;
    this.port = port;
  }
}

let workerNames = 0;
let chunkIds = 0;

/** The engine behind a `Pool`. */
export class Engine {
  readonly options: EngineOptions;
  readonly #workers: PoolWorker[] = [];
  readonly #jobs = new Set<Job>();
  /** Jobs that may still have input, oldest first, from `#feedHead`. */
  #feeding: Job[] = [];
  #feedHead = 0;
  readonly #retry: Chunk[] = [];
  readonly #fnKeys = new Map<string, number>();
  readonly #targetKeys = new WeakMap<object, number>();
  readonly #run = new Samples();
  readonly #wait = new Samples();
  readonly #started = performance.now();
  #window = 1;
  #completed = 0;
  #failed = 0;
  #closed = false;
  #flushing = false;
  #broken: unknown = undefined;
  #joined: Array<() => void> = [];

  constructor(options: EngineOptions) {
    this.options = options;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The error that broke the pool (a failing initializer), if any. */
  get broken(): unknown {
    return this.#broken;
  }

  /** Adds a call and starts feeding it to workers. */
  submit(job: Job): void {
    this.#jobs.add(job);
    this.#feeding.push(job);
    const signal = job.options.signal;
    if (signal !== undefined) {
      const onAbort = () => this.abort(job, signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      job.cleanup = () => signal.removeEventListener("abort", onAbort);
    }
    this.pump();
  }

  /** No new calls; workers end once the queued work is done. */
  close(): void {
    this.#closed = true;
    this.#maybeFinish();
  }

  /** Ends every worker now; unfinished calls reject with `reason`. */
  terminate(reason: unknown): void {
    this.#closed = true;
    for (const job of [...this.#jobs]) this.#fail(job, reason);
    this.#retry.length = 0;
    for (const w of [...this.#workers]) this.#retire(w);
    this.#maybeFinish();
  }

  /** Resolves when every worker is gone (after close or terminate). */
  joined(): Promise<void> {
    return new Promise((resolve) => {
      this.#joined.push(resolve);
      this.#maybeFinish();
    });
  }

  /** Rejects `job` with `reason`; a worker busy on it is replaced. */
  abort(job: Job, reason: unknown): void {
    if (job.settled) return;
    this.#fail(job, reason);
    let replaced = false;
    for (const w of [...this.#workers]) {
      if (w.inflight.some((c) => c.job === job)) {
        this.#requeue(w, job);
        this.#retire(w);
        replaced = true;
      }
    }
    // Starting replacements blocks for a while: let the rejection go first.
    if (replaced) setTimeout(() => this.pump(), 0);
  }

  stats(): PoolStats {
    let queued = 0;
    for (const c of this.#retry) queued += c.items.length;
    for (const job of this.#jobs) {
      if (job.total !== undefined) queued += job.total - job.pulled;
    }
    const elapsed = performance.now() - this.#started;
    return {
      processes: this.options.processes,
      busy: this.#workers.filter((w) => w.inflight.length > 0).length,
      queued,
      completed: this.#completed,
      failed: this.#failed,
      utilization: elapsed > 0
        ? Math.min(1, this.#run.sum / (elapsed * this.options.processes))
        : 0,
      runTime: this.#run.timing(),
      waitTime: this.#wait.timing(),
    };
  }

  /** Sends chunks to workers while any has room. */
  pump(): void {
    while (true) {
      const worker = this.#pickWorker();
      if (worker === undefined) return;
      const chunk = this.#nextChunk();
      if (chunk === undefined) {
        this.#compactFeeding();
        return;
      }
      this.#send(worker === "spawn" ? this.#spawn() : worker, chunk);
    }
  }

  /** An idle worker, else "spawn" while below size, else one with room. */
  #pickWorker(): PoolWorker | "spawn" | undefined {
    let best: PoolWorker | undefined;
    for (const w of this.#workers) {
      if (!w.alive || w.tasks >= this.options.maxTasksPerChild) continue;
      if (best === undefined || w.inflight.length < best.inflight.length) {
        best = w;
      }
    }
    if (best !== undefined && best.inflight.length === 0) return best;
    if (this.#workers.length < this.options.processes) return "spawn";
    if (best !== undefined && best.inflight.length < this.#window) return best;
    return undefined;
  }

  #nextChunk(): Chunk | undefined {
    while (this.#retry.length > 0) {
      const c = this.#retry.shift()!;
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

  #compactFeeding(): void {
    if (this.#feedHead > 256 && this.#feedHead * 2 > this.#feeding.length) {
      this.#feeding = this.#feeding.slice(this.#feedHead);
      this.#feedHead = 0;
    }
  }

  #makeChunk(job: Job, items: unknown[]): Chunk {
    const chunk: Chunk = {
      job,
      seq: job.chunks++,
      start: job.pulled,
      items,
      id: ++chunkIds,
      sentAt: 0,
    };
    job.pulled += items.length;
    job.outstanding++;
    return chunk;
  }

  /** A chunk of `items`, or, when there are none, settles a finished job. */
  #chunkOrFinish(job: Job, items: unknown[]): Chunk | undefined {
    if (items.length > 0) return this.#makeChunk(job, items);
    this.#check(job);
    return undefined;
  }

  #pullSync(job: Job): Chunk | undefined {
    let items: unknown[];
    if (job.array !== null) {
      items = job.array.slice(job.pulled, job.pulled + job.chunksize);
    } else {
      const it = job.source as Iterator<unknown>;
      items = [];
      try {
        while (items.length < job.chunksize) {
          const r = it.next();
          if (r.done) {
            job.source = null;
            break;
          }
          items.push(r.value);
        }
      } catch (err) {
        job.source = null;
        this.#fail(job, err);
        return undefined;
      }
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
    try {
      while (items.length < job.chunksize) {
        const r = await it.next();
        if (r.done) {
          job.source = null;
          break;
        }
        items.push(r.value);
      }
    } catch (err) {
      job.source = null;
      job.pulling = false;
      this.#fail(job, err);
      return;
    }
    job.pulling = false;
    if (job.settled) return;
    const chunk = this.#chunkOrFinish(job, items);
    if (chunk !== undefined) this.#retry.push(chunk);
    this.pump();
  }

  #spawn(): PoolWorker {
    const ctx = context();
    const name = `PoolWorker-${++workerNames}`;
    const { port1, port2 } = new MessageChannel();
    const init: InitMessage = {
      t: "init",
      pids: pidCounter(),
      liveness: livenessFor(port1),
      module: this.options.module,
    };
    port1.postMessage(init);
    const pool: PoolMessage = this.options.initializer === undefined
      ? { t: "pool" }
      : { t: "pool", init: this.options.initializer };
    port1.postMessage(pool);
    const worker = new PoolWorker(name, port1 as Port);
    worker.port.unref();
    port1.onmessage = (e: MessageEvent<FromWorker>) =>
      this.#onMessage(worker, e.data);
    worker.handle = spawnWorker(
      {
        identity: {
          name,
          pid: nextPid(),
          daemon: true,
          parent: { ...ctx.current },
        },
        module: this.options.module,
        permissions: this.options.permissions,
        resourceLimits: this.options.resourceLimits,
        detached: false,
      },
      port2,
      (code, error) => this.#died(worker, code, error),
    );
    this.#workers.push(worker);
    return worker;
  }

  #keyOf(job: Job): number {
    if (job.key !== 0) return job.key;
    const known = this.#targetKeys.get(job.target);
    if (known !== undefined) return job.key = known;
    const id = `${job.module}\0${job.fn.name}\0${job.fn.src}`;
    let key = this.#fnKeys.get(id);
    if (key === undefined) {
      key = this.#fnKeys.size + 1;
      this.#fnKeys.set(id, key);
    }
    job.key = key;
    this.#targetKeys.set(job.target, key);
    return key;
  }

  /** Adds a chunk to the worker's outgoing batch (sent by `#flush`). */
  #send(w: PoolWorker, chunk: Chunk): void {
    const job = chunk.job;
    const k = this.#keyOf(job);
    if (!w.fns.has(k)) {
      w.port.postMessage({ t: "f", k, fn: job.fn, m: job.module });
      w.fns.add(k);
    }
    const out = w.out ??= { chunks: [], transfer: [] };
    const items = chunk.items;
    for (let i = 0; i < items.length; i++) {
      const item = unwrapTransfer(items[i], out.transfer);
      if (job.star && Array.isArray(item)) {
        for (let j = 0; j < item.length; j++) {
          item[j] = unwrapTransfer(item[j], out.transfer);
        }
      }
      items[i] = item;
      if (item !== null && typeof item === "object") {
        const path = job.sink.kind === "collect" && job.total === 1 && job.star
          ? "args"
          : `iterable[${chunk.start + i}]`;
        const found = findClassInstance(item, path);
        if (found) {
          job.outstanding--;
          this.#fail(job, classError(found));
          return;
        }
      }
    }
    out.chunks.push(chunk);
    w.tasks++;
    if (w.inflight.length === 0) {
      clearTimeout(w.idleTimer);
      w.port.ref();
    }
    w.inflight.push(chunk);
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => this.#flushAll());
    }
  }

  #flushAll(): void {
    this.#flushing = false;
    for (const w of this.#workers) if (w.out !== null) this.#flush(w);
  }

  #batch(chunks: Chunk[]): ChunkMessage {
    const c: number[] = [];
    const k: number[] = [];
    const s: number[] = [];
    const n: number[] = [];
    let a: unknown[];
    if (chunks.length === 1) {
      a = chunks[0]!.items;
    } else {
      a = [];
      for (const chunk of chunks) for (const item of chunk.items) a.push(item);
    }
    const now = performance.now();
    for (const chunk of chunks) {
      c.push(chunk.id);
      k.push(chunk.job.key);
      s.push(chunk.job.star ? 1 : 0);
      n.push(chunk.items.length);
      chunk.sentAt = now;
    }
    return { t: "x", c, k, s, n, a };
  }

  #flush(w: PoolWorker): void {
    const out = w.out!;
    w.out = null;
    if (!w.alive) return;
    // A failed postMessage has already detached the buffers it was to move,
    // so a batch that moves buffers goes chunk by chunk from the start.
    if (out.transfer.length === 0) {
      try {
        w.port.postMessage(this.#batch(out.chunks), out.transfer);
        return;
      } catch {
        // fall through: find the chunk that cannot be sent
      }
    }
    // Chunk by chunk: a value that cannot be sent fails only its call.
    for (const chunk of out.chunks) {
      if (chunk.job.settled) {
        this.#forget(w, chunk);
        continue;
      }
      const job = chunk.job;
      const items = chunk.items;
      try {
        post(
          w.port,
          this.#batch([chunk]),
          items.length === 1 ? items[0] : items,
          job.sink.kind === "collect" && job.total === 1 && job.star
            ? "args"
            : `iterable[${chunk.start}${items.length === 1 ? "" : "…"}]`,
          transfersIn(items, out.transfer),
        );
      } catch (err) {
        this.#forget(w, chunk);
        job.outstanding--;
        this.#fail(job, err);
      }
    }
    if (w.inflight.length === 0) this.#idle(w);
    this.pump();
  }

  /** Removes a chunk that was never sent. */
  #forget(w: PoolWorker, chunk: Chunk): void {
    const i = w.inflight.indexOf(chunk);
    if (i !== -1) w.inflight.splice(i, 1);
    w.tasks--;
  }

  #onMessage(w: PoolWorker, msg: FromWorker): void {
    switch (msg.t) {
      case "r": {
        let at = 0;
        for (let j = 0; j < msg.c.length; j++) {
          const n = msg.n[j]!;
          const chunk = this.#take(w, msg.c[j]!);
          if (chunk !== undefined) {
            this.#timing(chunk, msg.d[j]!);
            this.#deliver(chunk, msg.v, at, n);
          }
          at += n;
        }
        this.#afterTask(w);
        break;
      }
      case "e": {
        const chunk = this.#take(w, msg.c);
        if (chunk === undefined) return;
        this.#timing(chunk, msg.d);
        this.#failed += chunk.items.length - msg.i;
        chunk.job.outstanding--;
        this.#fail(chunk.job, decodeError(msg.e), chunk);
        this.#afterTask(w);
        break;
      }
      case "i":
        this.#breakPool(w, decodeError(msg.e));
        break;
      case "exit":
        this.#died(
          w,
          msg.code,
          msg.error === undefined ? undefined : decodeError(msg.error),
        );
        break;
    }
  }

  #take(w: PoolWorker, id: number): Chunk | undefined {
    const inflight = w.inflight;
    if (inflight.length > 0 && inflight[0]!.id === id) return inflight.shift();
    const i = inflight.findIndex((c) => c.id === id);
    return i === -1 ? undefined : inflight.splice(i, 1)[0];
  }

  #timing(chunk: Chunk, d: number): void {
    const rtt = performance.now() - chunk.sentAt;
    this.#run.add(d);
    this.#wait.add(Math.max(0, rtt - d));
    // Pipeline deeper when tasks are short: ~2 ms of work in flight.
    const mean = this.#run.mean;
    this.#window = Math.max(
      1,
      Math.min(256, Math.floor(2 / Math.max(mean, 0.005))),
    );
  }

  #afterTask(w: PoolWorker): void {
    if (w.inflight.length === 0 && w.alive) {
      if (w.tasks >= this.options.maxTasksPerChild) this.#retire(w);
      else this.#idle(w);
    }
    this.pump();
    this.#maybeFinish();
  }

  #idle(w: PoolWorker): void {
    w.port.unref();
    if (Number.isFinite(this.options.idleTimeout)) {
      w.idleTimer = setTimeout(() => {
        if (w.inflight.length === 0) {
          this.#retire(w);
          this.#maybeFinish();
        }
      }, this.options.idleTimeout);
      Deno.unrefTimer(w.idleTimer as unknown as number);
    }
  }

  #deliver(chunk: Chunk, values: unknown[], at: number, n: number): void {
    const job = chunk.job;
    job.outstanding--;
    this.#completed += n;
    if (job.settled) return;
    job.done += n;
    if (job.sink.kind === "collect") {
      const out = job.results;
      const start = chunk.start;
      for (let i = 0; i < n; i++) out[start + i] = values[at + i];
    } else if (!job.sink.ordered) {
      for (let i = 0; i < n; i++) job.results.push(values[at + i]);
    } else {
      (job.parked ??= new Map()).set(chunk.seq, values.slice(at, at + n));
      this.#flushOrdered(job);
    }
    this.#progress(job);
    this.#check(job);
    if (job.sink.kind === "stream") job.sink.wake();
  }

  #flushOrdered(job: Job): void {
    const parked = job.parked!;
    let next = parked.get(job.nextSeq);
    while (next !== undefined) {
      parked.delete(job.nextSeq++);
      if (!Array.isArray(next)) {
        job.error = { value: next.error };
        job.settled = true;
        job.cleanup();
        this.#drop(job);
        return;
      }
      for (const v of next) job.results.push(v);
      next = parked.get(job.nextSeq);
    }
  }

  #progress(job: Job): void {
    const cb = job.options.onProgress;
    if (cb === undefined) return;
    try {
      cb(job.done, job.total);
    } catch {
      // a failing progress callback must not break the pool
    }
  }

  /** Settles a job that has every result. */
  #check(job: Job): void {
    if (job.settled || !job.finished()) return;
    job.settled = true;
    job.cleanup();
    this.#drop(job);
    if (job.sink.kind === "collect") {
      job.sink.resolve(job.sink.single ? job.results[0] : job.results);
    } else job.sink.wake();
  }

  #fail(job: Job, error: unknown, chunk?: Chunk): void {
    if (job.settled) return;
    if (
      job.sink.kind === "stream" && job.sink.ordered && chunk !== undefined
    ) {
      // The error takes its place in the output order.
      (job.parked ??= new Map()).set(chunk.seq, { error });
      this.#flushOrdered(job);
      job.sink.wake();
      if (job.settled) this.#closeSource(job);
      return;
    }
    job.settled = true;
    job.cleanup();
    this.#drop(job);
    this.#closeSource(job);
    if (job.sink.kind === "collect") job.sink.reject(error);
    else {
      job.error = { value: error };
      job.sink.wake();
    }
  }

  #closeSource(job: Job): void {
    const source = job.source;
    job.source = null;
    try {
      const r = source?.return?.();
      if (r instanceof Promise) r.catch(() => {});
    } catch {
      // ignore
    }
  }

  #drop(job: Job): void {
    this.#jobs.delete(job);
    this.#maybeFinish();
  }

  /** A stream consumer stopped early (break / return()). */
  cancel(job: Job): void {
    if (job.settled) return;
    job.settled = true;
    job.cleanup();
    this.#drop(job);
    this.#closeSource(job);
    if (job.sink.kind === "stream") job.sink.wake();
  }

  #requeue(w: PoolWorker, except?: Job): void {
    const keep = w.inflight.filter((c) => c.job !== except && !c.job.settled);
    w.inflight.length = 0;
    this.#retry.unshift(...keep);
  }

  #retire(w: PoolWorker): void {
    if (!w.alive) return;
    w.alive = false;
    w.out = null;
    clearTimeout(w.idleTimer);
    w.handle?.kill();
    w.port.close();
    processEnded(w.port);
    const i = this.#workers.indexOf(w);
    if (i !== -1) this.#workers.splice(i, 1);
  }

  #died(w: PoolWorker, code: number, error: unknown): void {
    if (!w.alive) return;
    const head = w.inflight.shift();
    this.#requeue(w);
    this.#retire(w);
    if (head !== undefined) {
      head.job.outstanding--;
      this.#failed += head.items.length;
      const cause = error instanceof ProcessError ? error.cause : error;
      const err = error instanceof ProcessError ? error : new ProcessError(
        messages.workerDied(w.name, code, head.job.fn.name),
        cause === undefined
          ? { processName: w.name, exitCode: code }
          : { processName: w.name, exitCode: code, cause },
      );
      this.#fail(head.job, err, head);
    }
    this.pump();
    this.#maybeFinish();
  }

  #breakPool(w: PoolWorker, error: unknown): void {
    const err = new Error(messages.initializerFailed(w.name), {
      cause: error,
    });
    this.#broken = err;
    this.terminate(err);
  }

  #maybeFinish(): void {
    if (!this.#closed) return;
    if (this.#jobs.size === 0 && this.#retry.length === 0) {
      for (const w of [...this.#workers]) {
        if (w.inflight.length === 0) this.#retire(w);
      }
    }
    if (this.#workers.length === 0 && this.#jobs.size === 0) {
      const waiting = this.#joined;
      this.#joined = [];
      for (const resolve of waiting) resolve();
    }
  }
}
