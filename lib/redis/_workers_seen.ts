// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The worker machines a coordinator knows of, from the live-workers set read
// at each tick and from the results they send; and how long its calls have
// waited with none, for `workerTimeout`.

import type { Redis } from "./_client.ts";
import { LIVE_WORKERS_SCRIPT, parseWorkers } from "./_protocol.ts";

/** A worker silent this long (s) is not counted as live. */
const SILENT_S = 5;

/** The workers a coordinator has seen. */
export class WorkersSeen {
  /** Live workers and their processes. */
  #known = new Map<string, number>();
  /** Since when calls have waited with no live worker. */
  #noneSince = 0;

  /** The worker processes seen, over all workers. */
  get processes(): number {
    let sum = 0;
    for (const p of this.#known.values()) sum += p;
    return sum;
  }

  /** A result came from worker `name`, which has `processes`. */
  heard(name: string, processes: number): void {
    this.#known.set(name, processes);
  }

  /** Reads the live workers from the set at `key`, dropping those silent
   * for `SILENT_S`. */
  async refresh(cmd: Redis, key: string): Promise<void> {
    const live = await cmd.eval(LIVE_WORKERS_SCRIPT, 1, key, SILENT_S);
    this.#known = parseWorkers(live as string[]);
  }

  /** Calls start to wait: the clock of waiting with none starts now. */
  waiting(): void {
    this.#noneSince = performance.now();
  }

  /** Whether calls (if `busy`) have had no worker for `timeout` ms; the
   * clock starts again when it says so, or when there is a worker. */
  noneFor(timeout: number, busy: boolean): boolean {
    const now = performance.now();
    if (this.#known.size > 0 || !busy) {
      this.#noneSince = now;
      return false;
    }
    if (now - this.#noneSince < timeout) return false;
    this.#noneSince = now;
    return true;
  }
}
