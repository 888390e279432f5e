// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Finding a target's module: from the call site, or as given, and checking
// early (when the source can be read) that the function is exported there;
// and a pool's targets, each looked up once.

import { messages } from "../_messages.ts";
import type { FnRef } from "../_shared/wire.ts";
import { assertReadable } from "./permissions.ts";

const LIB = new URL("../", import.meta.url).href;
/** Stack frames read to find the caller: the library's own frames come
 * first, and a deep call chain inside it must not hide the caller. */
const STACK_FRAMES = 64;
const FRAME = /((?:file|https?|jsr|npm|data|blob):[^\s()]+?):\d+:\d+\)?\s*$/;

/** The URL of the first module on the stack outside this library. */
export function callerModule(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = STACK_FRAMES;
  const stack = new Error().stack ?? "";
  Error.stackTraceLimit = limit;
  for (const line of stack.split("\n").slice(1)) {
    const m = FRAME.exec(line);
    if (m === null) continue;
    const url = m[1]!;
    if (url.startsWith(LIB)) continue;
    return url;
  }
  throw new TypeError(messages.noCaller());
}

/** Resolves the `module` option, or the caller's module when absent. */
export function resolveModule(value: unknown): string {
  if (value === undefined) return callerModule();
  if (value instanceof URL) return value.href;
  if (typeof value === "string") {
    try {
      return new URL(value).href;
    } catch {
      // fall through to the error
    }
  }
  throw new TypeError(messages.badModule(value));
}

/** Checks `fn` is a function and makes its reference. */
export function fnRef(fn: unknown, what: string): FnRef {
  if (typeof fn !== "function") {
    throw new TypeError(messages.notAFunction(what, fn));
  }
  return { name: fn.name, src: Function.prototype.toString.call(fn) };
}

const sources = new Map<string, string | null>();

function source(module: string): string | null {
  let text = sources.get(module);
  if (text !== undefined) return text;
  text = null;
  try {
    const path = decodeURIComponent(new URL(module).pathname);
    if (
      Deno.permissions.querySync({ name: "read", path }).state === "granted"
    ) {
      text = Deno.readTextFileSync(path);
    }
  } catch {
    text = null;
  }
  sources.set(module, text);
  return text;
}

function escape(name: string): string {
  return name.replace(/[$]/g, "\\$");
}

/** The module and name pairs checked already. */
const checked = new Set<string>();

/**
 * Throws a TypeError when `ref` is surely not exported from `module`. Only a
 * local module whose source can be read is checked here; the worker checks
 * every case again when it looks the function up.
 */
export function checkExported(ref: FnRef, module: string): void {
  const id = `${module}\0${ref.name}`;
  if (checked.has(id)) return;
  checkSource(ref, module);
  checked.add(id);
}

function checkSource(ref: FnRef, module: string): void {
  if (ref.name === "" || ref.name.startsWith("bound ")) {
    throw new TypeError(
      ref.name === ""
        ? messages.anonymous(module)
        : messages.notExported(ref.name, module),
    );
  }
  if (!module.startsWith("file:")) return;
  const text = source(module);
  if (text === null || /\bexport\s*\*/.test(text)) return;
  const n = escape(ref.name);
  const patterns = [
    `\\bexport\\s+(?:default\\s+)?(?:async\\s+)?function\\s*\\*?\\s*${n}\\b`,
    `\\bexport\\s+(?:const|let|var)\\b[^=;]*\\b${n}\\b`,
    `\\bexport\\s*(?:type\\s*)?\\{[^}]*\\b${n}\\b[^}]*\\}`,
    `\\bexport\\s+default\\b`,
  ];
  if (patterns.some((p) => new RegExp(p).test(text))) return;
  throw new TypeError(messages.notExported(ref.name, module));
}

/** A pool's target function: its reference and the module that exports it.
 * The object itself stands for the function in the engine's key cache. */
export interface Target {
  readonly ref: FnRef;
  readonly module: string;
}

// A function is defined in one module: its call-site lookup is done once.
const bySite = new WeakMap<object, Target>();

/** The targets of one pool, found from each call site, or in the pool's
 * `module` when it was given. */
export class Targets {
  readonly #given: string | undefined;
  readonly #module: string;
  readonly #cache: WeakMap<object, Target>;

  /** `given`: the pool's "module" option; `module`: the module its workers
   * load first (they need read access only to other modules). */
  constructor(given: string | undefined, module: string) {
    this.#given = given;
    this.#module = module;
    this.#cache = given === undefined ? bySite : new WeakMap();
  }

  /**
   * The target of `fn`, passed to the pool method `what`.
   *
   * @throws {TypeError} when `fn` is not a function exported by its module.
   * @throws {Deno.errors.NotCapable} when a worker could not read its module.
   */
  of(fn: unknown, what: string): Target {
    let target = typeof fn === "function" ? this.#cache.get(fn) : undefined;
    if (target === undefined) {
      const ref = fnRef(fn, `the target of ${what}`);
      const module = this.#given ?? resolveModule(undefined);
      checkExported(ref, module);
      target = { ref, module };
      this.#cache.set(fn as object, target);
    }
    if (target.module !== this.#module) assertReadable(target.module);
    return target;
  }
}
