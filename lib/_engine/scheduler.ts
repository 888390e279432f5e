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
import { ProcessError } from "../errors.ts";
import { messages } from "../_messages.ts";
import { post, unwrapTransfer } from "../_clone.ts";
import {
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
  readonly handle: WorkerHandle;
  readonly inflight: Chunk[] = [];
  readonly fns = new Set<number>();
  tasks = 0;
  alive = true;
  idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(name: string, port: Port, handle: WorkerHandle) {
    this.name = name;
    this.port = port;
    this.handle = handle;
  }
}

let workerNames = 0;
let chunkIds = 0;

/** The engine behind a `Pool`. */
export class Engine {
  readonly options: EngineOptions;
  readonly #workers: PoolWorker[] = [];
  readonly #jobs: Job[] = [];
  readonly #retry: Chunk[] = [];
  readonly #fnKeys = new Map<string, number>();
  readonly #run = new Samples();
  readonly #wait = new Samples();
  readonly #started = performance.now();
  #window = 1;
  #completed = 0;
  #failed = 0;
  #closed = false;
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
    this.#jobs.push(job);
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
    for (const w of [...this.#workers]) {
      if (w.inflight.some((c) => c.job === job)) {
        this.#requeue(w, job);
        this.#retire(w);
      }
    }
    this.pump();
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
      if (chunk === undefined) return;
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
    for (const job of this.#jobs) {
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

  #pullSync(job: Job): Chunk | undefined {
    const it = job.source as Iterator<unknown>;
    const items: unknown[] = [];
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
    if (items.length === 0) {
      this.#check(job);
      return undefined;
    }
    return this.#makeChunk(job, items);
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
    if (items.length > 0) this.#retry.push(this.#makeChunk(job, items));
    else this.#check(job);
    this.pump();
  }

  #spawn(): PoolWorker {
    const ctx = context();
    const name = `PoolWorker-${++workerNames}`;
    const { port1, port2 } = new MessageChannel();
    const init: InitMessage = {
      t: "init",
      pids: pidCounter(),
      module: this.options.module,
    };
    port1.postMessage(init);
    const pool: PoolMessage = this.options.initializer === undefined
      ? { t: "pool" }
      : { t: "pool", init: this.options.initializer };
    port1.postMessage(pool);
    let worker!: PoolWorker;
    const handle = spawnWorker(
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
    worker = new PoolWorker(name, port1 as Port, handle);
    worker.port.unref();
    port1.onmessage = (e: MessageEvent<FromWorker>) =>
      this.#onMessage(worker, e.data);
    this.#workers.push(worker);
    return worker;
  }

  #keyOf(job: Job): number {
    const id = `${job.module}\0${job.fn.name}\0${job.fn.src}`;
    let key = this.#fnKeys.get(id);
    if (key === undefined) {
      key = this.#fnKeys.size + 1;
      this.#fnKeys.set(id, key);
    }
    return key;
  }

  #send(w: PoolWorker, chunk: Chunk): void {
    const job = chunk.job;
    const k = this.#keyOf(job);
    if (!w.fns.has(k)) {
      w.port.postMessage({ t: "f", k, fn: job.fn, m: job.module });
      w.fns.add(k);
    }
    const transfer: Transferable[] = [];
    const items = chunk.items;
    for (let i = 0; i < items.length; i++) {
      const item = unwrapTransfer(items[i], transfer);
      if (job.star && Array.isArray(item)) {
        for (let j = 0; j < item.length; j++) {
          item[j] = unwrapTransfer(item[j], transfer);
        }
      }
      items[i] = item;
    }
    try {
      post(
        w.port,
        { t: "x", c: chunk.id, k, s: job.star ? 1 : 0, a: items },
        items.length === 1 ? items[0] : items,
        job.sink.kind === "collect" && job.total === 1 && job.star
          ? "args"
          : `iterable[${chunk.start}${items.length === 1 ? "" : "…"}]`,
        transfer,
      );
    } catch (err) {
      job.outstanding--;
      this.#fail(job, err);
      return;
    }
    chunk.sentAt = performance.now();
    w.tasks++;
    if (w.inflight.length === 0) {
      clearTimeout(w.idleTimer);
      w.port.ref();
    }
    w.inflight.push(chunk);
  }

  #onMessage(w: PoolWorker, msg: FromWorker): void {
    switch (msg.t) {
      case "r":
      case "e": {
        const i = w.inflight.findIndex((c) => c.id === msg.c);
        if (i === -1) return;
        const chunk = w.inflight.splice(i, 1)[0]!;
        this.#timing(chunk, msg.d);
        if (msg.t === "r") this.#deliver(chunk, msg.v);
        else {
          this.#failed += chunk.items.length - msg.i;
          chunk.job.outstanding--;
          this.#fail(chunk.job, decodeError(msg.e), chunk);
        }
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

  #timing(chunk: Chunk, d: number): void {
    const rtt = performance.now() - chunk.sentAt;
    this.#run.add(d);
    this.#wait.add(Math.max(0, rtt - d));
    // Pipeline deeper when tasks are short: ~2 ms of work in flight.
    const mean = this.#run.timing().mean;
    this.#window = Math.max(
      1,
      Math.min(32, Math.floor(2 / Math.max(mean, 0.05))),
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

  #deliver(chunk: Chunk, values: unknown[]): void {
    const job = chunk.job;
    job.outstanding--;
    this.#completed += values.length;
    if (job.settled) return;
    job.done += values.length;
    if (job.sink.kind === "collect") {
      const out = job.results;
      for (let i = 0; i < values.length; i++) out[chunk.start + i] = values[i];
    } else if (!job.sink.ordered) {
      for (const v of values) job.results.push(v);
    } else {
      job.parked.set(chunk.seq, values);
      this.#flushOrdered(job);
    }
    this.#progress(job);
    this.#check(job);
    if (job.sink.kind === "stream") job.sink.wake();
  }

  #flushOrdered(job: Job): void {
    let next = job.parked.get(job.nextSeq);
    while (next !== undefined) {
      job.parked.delete(job.nextSeq++);
      if (!Array.isArray(next)) {
        job.error = { value: next.error };
        job.settled = true;
        job.cleanup();
        this.#drop(job);
        return;
      }
      for (const v of next) job.results.push(v);
      next = job.parked.get(job.nextSeq);
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
    if (job.sink.kind === "collect") job.sink.resolve(job.results);
    else job.sink.wake();
  }

  #fail(job: Job, error: unknown, chunk?: Chunk): void {
    if (job.settled) return;
    if (
      job.sink.kind === "stream" && job.sink.ordered && chunk !== undefined
    ) {
      // The error takes its place in the output order.
      job.parked.set(chunk.seq, { error });
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
    const i = this.#jobs.indexOf(job);
    if (i !== -1) this.#jobs.splice(i, 1);
    this.#maybeFinish();
  }

  /** A stream consumer stopped early (break / return()). */
  cancel(job: Job): void {
    if (job.settled) return;
    job.settled = true;
    job.cleanup();
    this.#drop(job);
    this.#closeSource(job);
  }

  #requeue(w: PoolWorker, except?: Job): void {
    const keep = w.inflight.filter((c) => c.job !== except && !c.job.settled);
    w.inflight.length = 0;
    this.#retry.unshift(...keep);
  }

  #retire(w: PoolWorker): void {
    if (!w.alive) return;
    w.alive = false;
    clearTimeout(w.idleTimer);
    w.handle.kill();
    w.port.close();
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
    if (this.#jobs.length === 0 && this.#retry.length === 0) {
      for (const w of [...this.#workers]) {
        if (w.inflight.length === 0) this.#retire(w);
      }
    }
    if (this.#workers.length === 0 && this.#jobs.length === 0) {
      const waiting = this.#joined;
      this.#joined = [];
      for (const resolve of waiting) resolve();
    }
  }
}
