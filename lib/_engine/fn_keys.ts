// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The wire keys of a local engine's target functions: one small number per
// function (its module, name and source), so that a chunk names its
// function in a few bytes, and a worker is told of each function once.

import type { Job } from "./job.ts";

/** The function keys of one engine. */
export class FnKeys {
  readonly #byId = new Map<string, number>();
  /** By the call's target record, so that a function is looked up once. */
  readonly #byTarget = new WeakMap<object, number>();

  /** The key of `job`'s function (set on the job the first time). */
  of(job: Job): number {
    if (job.key !== 0) return job.key;
    const known = this.#byTarget.get(job.target);
    if (known !== undefined) return job.key = known;
    const id = `${job.module}\0${job.fn.name}\0${job.fn.src}`;
    let key = this.#byId.get(id);
    if (key === undefined) {
      key = this.#byId.size + 1;
      this.#byId.set(id, key);
    }
    job.key = key;
    this.#byTarget.set(job.target, key);
    return key;
  }
}
