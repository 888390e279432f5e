// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// How a coordinator writes chunks as task entries: the target's module named
// by its path under the project root (found once per module), the items in
// V8's serialization format, and an item that cannot be sent named by its
// path in the call's input.

import type { Buffer } from "node:buffer";
import { serialize } from "node:v8";
import { cloneError } from "../_shared/clone.ts";
import type { Chunk } from "../_engine/job.ts";
import {
  findRoot,
  type ModuleRef,
  moduleRef,
  taskFields,
} from "./_protocol.ts";

/** Writes one coordinator's task entries. */
export class TaskWriter {
  readonly #reply: string;
  #root: string | undefined;
  readonly #refs = new Map<string, ModuleRef>();

  /** `reply`: the coordinator's reply stream; `root`: the project root, or
   * undefined to find it above the first target module. */
  constructor(reply: string, root: string | undefined) {
    this.#reply = reply;
    this.#root = root;
  }

  /**
   * The fields of the task entry of `chunks`, all of one call.
   *
   * @param pathOf How an error names a chunk's items in the call's input.
   * @throws the error that fails the call: its module cannot be named on
   * the wire, or an item cannot be serialized.
   */
  fields(
    chunks: readonly Chunk[],
    pathOf: (chunk: Chunk) => string,
  ): (string | Buffer)[] {
    const job = chunks[0]!.job;
    const ref = this.#refOf(job.module);
    let items: Buffer;
    if (chunks.length === 1) items = encode(chunks[0]!, pathOf);
    else {
      try {
        items = serialize(chunks.flatMap((c) => c.items));
      } catch (err) {
        // Find the chunk that cannot be sent, to name its item.
        for (const c of chunks) encode(c, pathOf);
        throw err;
      }
    }
    return taskFields({
      reply: this.#reply,
      chunks: chunks.map((c) => c.id),
      counts: chunks.map((c) => c.items.length),
      spec: ref.spec,
      hash: ref.hash,
      name: job.fn.name,
      src: job.fn.src,
      star: job.star,
      items,
    });
  }

  #refOf(module: string): ModuleRef {
    let ref = this.#refs.get(module);
    if (ref === undefined) {
      if (this.#root === undefined && module.startsWith("file:")) {
        const path = decodeURIComponent(new URL(module).pathname);
        this.#root = findRoot(path.slice(0, path.lastIndexOf("/")) || "/");
      }
      ref = moduleRef(module, this.#root ?? Deno.cwd());
      this.#refs.set(module, ref);
    }
    return ref;
  }
}

function encode(chunk: Chunk, pathOf: (chunk: Chunk) => string): Buffer {
  try {
    return serialize(chunk.items);
  } catch (err) {
    throw cloneError(
      chunk.items.length === 1 ? chunk.items[0] : chunk.items,
      pathOf(chunk),
      err,
    );
  }
}
