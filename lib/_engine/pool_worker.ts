// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// One Worker of the local engine: how it is started, the chunks in flight
// to it (the head one runs; the others wait in its port, in order), and the
// message that carries a batch of chunks to it. A worker is a thread, or an
// OS process (isolation: "process") whose port is an IpcPort over its IPC
// channel: the engine sees no difference.

import { context } from "../_shared/context.ts";
import { processEnded } from "../_shared/liveness.ts";
import type { ChunkMessage, FromWorker, PoolMessage } from "../_shared/wire.ts";
import type { Chunk } from "./job.ts";
import type { EngineOptions } from "./local_engine.ts";
import { UNREADABLE_MESSAGE } from "./validate.ts";
import { openPorts, spawnWorker, type WorkerHandle } from "./spawn.ts";

/** What the engine uses of a worker's port (a MessagePort, or an IpcPort
 * that behaves as one). */
type Port = MessagePort & { ref(): void; unref(): void };

let workerNames = 0;

/** A local pool's Worker, as its engine sees it. */
export class PoolWorker {
  readonly name: string;
  readonly port: Port;
  handle: WorkerHandle | null = null;
  /** Chunks sent and not yet answered, in the order it runs them. */
  readonly inflight: Chunk[] = [];
  /** The wire keys of the functions it was told about. */
  readonly fns = new Set<number>();
  /** Chunks sent to it in its life (for `maxTasksPerChild`). */
  tasks = 0;
  alive = true;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Chunks to send in the next batch. */
  out: { chunks: Chunk[]; transfer: Transferable[] } | null = null;

  private constructor(name: string, port: Port) {
    this.name = name;
    this.port = port;
  }

  /**
   * Starts a Worker of a pool with `options`: it imports the pool's module,
   * runs the initializer, then waits for chunks. Its port does not keep the
   * program alive while nothing is in flight.
   */
  static spawn(
    options: EngineOptions,
    onMessage: (w: PoolWorker, msg: FromWorker) => void,
    onExit: (w: PoolWorker, code: number, error: unknown) => void,
  ): PoolWorker {
    const name = `PoolWorker-${++workerNames}`;
    const opened = openPorts(
      options.isolation,
      options.permissions,
      options.module,
    );
    const port1 = opened.port as Port;
    const pool: PoolMessage = options.initializer === undefined
      ? { t: "pool" }
      : { t: "pool", init: options.initializer };
    port1.postMessage(pool);
    const worker = new PoolWorker(name, port1);
    worker.port.unref();
    port1.onmessage = (e: MessageEvent<FromWorker>) =>
      onMessage(worker, e.data);
    // A message that cannot be deserialized is a malformed one (validate.ts).
    port1.onmessageerror = () =>
      onMessage(worker, UNREADABLE_MESSAGE as FromWorker);
    worker.handle = spawnWorker(
      {
        identity: {
          name,
          pid: opened.pid,
          daemon: true,
          parent: { ...context().current },
        },
        module: options.module,
        permissions: options.permissions,
        resourceLimits: options.resourceLimits,
        detached: false,
        isolation: options.isolation,
        ...(options.command === undefined ? {} : { command: options.command }),
      },
      opened.workerPort,
      (code, error) => onExit(worker, code, error),
    );
    return worker;
  }

  /** Removes and returns the in-flight chunk `id` (usually the head). */
  take(id: number): Chunk | undefined {
    const inflight = this.inflight;
    if (inflight.length > 0 && inflight[0]!.id === id) return inflight.shift();
    const i = inflight.findIndex((c) => c.id === id);
    return i === -1 ? undefined : inflight.splice(i, 1)[0];
  }

  /** Removes a chunk that was never sent. */
  forget(chunk: Chunk): void {
    const i = this.inflight.indexOf(chunk);
    if (i !== -1) this.inflight.splice(i, 1);
    this.tasks--;
  }

  /** An OS process: resolves once it has ended (after `retire()`). */
  get ended(): Promise<void> | undefined {
    return this.handle?.ended;
  }

  /** Ends the Worker now; false if it had ended already. */
  retire(): boolean {
    if (!this.alive) return false;
    this.alive = false;
    this.out = null;
    clearTimeout(this.idleTimer);
    this.handle?.kill();
    this.port.close();
    processEnded(this.port);
    return true;
  }
}

/** The message that carries `chunks` to a worker; stamps their send time. */
export function batchMessage(chunks: Chunk[]): ChunkMessage {
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
