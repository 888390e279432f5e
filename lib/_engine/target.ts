// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Finding a target's module: from the call site, or as given, and checking
// early (when the source can be read) that the function is exported there.

import { messages } from "../_messages.ts";
import type { FnRef } from "../_shared/wire.ts";

const LIB = new URL("../", import.meta.url).href;
const FRAME = /((?:file|https?|jsr|npm|data|blob):[^\s()]+?):\d+:\d+\)?\s*$/;

/** The URL of the first module on the stack outside this library. */
export function callerModule(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 64;
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

/**
 * Throws a TypeError when `ref` is surely not exported from `module`. Only a
 * local module whose source can be read is checked here; the worker checks
 * every case again when it looks the function up.
 */
const checked = new Set<string>();

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
