// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// How a worker machine checks a task's module before running it: the path
// must name a file under its project root, the file's hash must be the
// coordinator's, and it must be the copy this worker imported (a module
// cannot be imported twice). The answer is kept for a second per module and
// hash, so a busy worker hashes each file about once a second.

import { isAbsolute, join, normalize, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { messages } from "../_messages.ts";
import { ModuleMismatchError } from "./errors.ts";
import { hashFile, type TaskEntry } from "./_protocol.ts";

/** ms a module's verdict is reused before its file is hashed again. */
const VERDICT_MS = 1000;
/** Characters of a hash that messages show. */
const HASH_SHOWN = 12;
/** A URL scheme at the start of a module spec, as in "https:". */
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/** Checks the modules of one worker's tasks. */
export class ModuleVerifier {
  readonly #root: string;
  readonly #worker: string;
  readonly #verdicts = new Map<string, { at: number; error?: Error }>();
  /** The hash of each module file when first run here. */
  readonly #loaded = new Map<string, string>();

  /** `root`: the project root; `worker`: the worker's name, for errors. */
  constructor(root: string, worker: string) {
    this.#root = root;
    this.#worker = worker;
  }

  /**
   * The URL of `task`'s module, once the copy here is the coordinator's and
   * the one this worker has imported.
   *
   * @throws {ModuleMismatchError} when it is not.
   */
  verify(task: TaskEntry): string {
    const root = this.#root;
    const path = normalize(join(root, task.spec));
    if (
      isAbsolute(task.spec) || SCHEME.test(task.spec) ||
      !path.startsWith(root + sep)
    ) {
      throw this.#mismatch(
        task,
        messages.serveOutsideRoot(this.#worker, task.spec, root),
      );
    }
    const key = `${task.spec}\0${task.hash}`;
    const now = performance.now();
    const known = this.#verdicts.get(key);
    if (known !== undefined && now - known.at < VERDICT_MS) {
      if (known.error) throw known.error;
      return pathToFileURL(path).href;
    }
    const error = this.#check(task, path);
    this.#verdicts.set(key, error ? { at: now, error } : { at: now });
    if (error) throw error;
    if (!this.#loaded.has(path)) this.#loaded.set(path, task.hash);
    return pathToFileURL(path).href;
  }

  /** What is wrong with the file at `path` for `task`, if anything. */
  #check(task: TaskEntry, path: string): Error | undefined {
    const name = this.#worker;
    let actual: string;
    try {
      actual = hashFile(path);
    } catch {
      return this.#mismatch(
        task,
        messages.serveNoModule(name, task.name, task.spec, this.#root),
      );
    }
    const theirs = task.hash.slice(0, HASH_SHOWN);
    if (actual !== task.hash) {
      return this.#mismatch(
        task,
        messages.serveModuleDiffers(
          name,
          task.name,
          task.spec,
          actual.slice(0, HASH_SHOWN),
          theirs,
        ),
      );
    }
    const loaded = this.#loaded.get(path);
    if (loaded !== undefined && loaded !== task.hash) {
      return this.#mismatch(
        task,
        messages.serveModuleChanged(
          name,
          task.name,
          task.spec,
          loaded.slice(0, HASH_SHOWN),
          theirs,
        ),
      );
    }
    return undefined;
  }

  #mismatch(task: TaskEntry, message: string): ModuleMismatchError {
    return new ModuleMismatchError(message, {
      module: task.spec,
      workerName: this.#worker,
    });
  }
}
