// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The error classes a target's module exports, as the main side finds them
// to revive a task's error as its own class (the codec is in
// lib/_shared/error_codec.ts; the worker names the export of the error's class).
//
// The main side needs the module's namespace, and must never run a module's
// code to get it: the module of a pool with scoped permissions may be
// untrusted (its top level would run here with all of the program's
// permissions), and any module's top level may start work (an unguarded one
// starts processes). `import()` of a module that is loaded already gives its
// namespace without evaluating it again, so a module is imported here only
// when it is surely loaded, as the call that names it shows:
//
// - it is on the call stack (the module that made the call), or it is the
//   program's main module;
// - or a module on the call stack imports it statically, by the target's
//   name (or whole, `* as`, or its default). A binding that is only a type,
//   or never used as a value, is dropped from the compiled module, and so
//   would not load it; the target's name is used as a value: the function
//   passed to the pool.
//
// `import()` of a module resolves once the module has finished evaluating:
// a module still running its top-level `await` (a script awaiting its pool)
// has no namespace to give until then, and its errors come back as before.
//
// Imports types only, from lib/_shared/.

import type { ErrorClasses } from "../_shared/error_codec.ts";

type Namespace = Record<string, unknown>;

/** Stack frames read to find the modules on the call stack. */
const STACK_FRAMES = 64;
/** Longest prototype chain from a class's prototype to `Error.prototype`
 * that is followed. */
const MAX_PROTOTYPE_CHAIN = 32;
/** The largest source file read to find its static imports (bytes). */
const MAX_SOURCE_BYTES = 4 * 1024 * 1024;

const LIB = new URL("../", import.meta.url).href;
/** A stack frame's module URL (the frame ends in "url:line:column"). */
const FRAME = /((?:file|https?|jsr|npm|data|blob):[^\s()]+?):\d+:\d+\)?\s*$/;
/** `import <clause> from "<spec>"` at the start of a statement. */
const IMPORT_FROM =
  /(?:^|[;\n}])\s*import\s+(?!type\s)([\w$*{][^;]*?)\s*from\s*(["'])([^"'\n]+)\2/g;
/** `import "<spec>"`: the whole module, for its side effects. */
const IMPORT_BARE = /(?:^|[;\n}])\s*import\s*(["'])([^"'\n]+)\1/g;
/** `export * from "<spec>"` and `export { ... } from "<spec>"`. */
const EXPORT_FROM =
  /(?:^|[;\n}])\s*export\s+(?!type\s)(\*[^;]*?|\{[^}]*\})\s*from\s*(["'])([^"'\n]+)\2/g;

/** A module being imported (or that failed to import). */
const IMPORTING = Symbol("importing");

/** Each module imported here: its namespace once it is here. */
const namespaces = new Map<string, Namespace | typeof IMPORTING>();
/** The targets (module and name) whose module was not surely loaded at
 * their first call: the first call decides, so that later calls cost no
 * look at the stack. */
const notLoaded = new Set<string>();
/** Each module's classes, as `decodeError` takes them. */
const classesOf = new Map<string, ErrorClasses>();
/** The static imports of each module read: the modules it imports by each
 * name ("*" for a namespace, a re-export or a bare import). */
const importsOf = new Map<string, Map<string, Set<string>>>();

let isProxy: ((value: unknown) => boolean) | undefined;

/** The modules on the call stack, outside this library. */
function stackModules(): Set<string> {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = STACK_FRAMES;
  const stack = new Error().stack ?? "";
  Error.stackTraceLimit = limit;
  const out = new Set<string>();
  for (const line of stack.split("\n")) {
    const url = FRAME.exec(line)?.[1];
    if (url !== undefined && !url.startsWith(LIB)) out.add(url);
  }
  return out;
}

/** `text` with its comments blanked out, strings kept: a comment cannot
 * look like an import. */
function withoutComments(text: string): string {
  let out = "";
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === "/" && next === "/") {
      while (i < n && text[i] !== "\n") i++;
    } else if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end === -1 ? n : end + 2;
      out += " ";
    } else if (c === '"' || c === "'" || c === "`") {
      // A string, or a template (whose `${}` parts are kept as text).
      let j = i + 1;
      while (j < n && text[j] !== c) j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** The names a `{ a, b as c, type D }` or `X, { a }` or `* as ns` clause
 * imports as values ("*" for the whole module, "default" for a default). */
function clauseNames(clause: string): string[] {
  const names: string[] = [];
  const brace = clause.indexOf("{");
  const head = (brace === -1 ? clause : clause.slice(0, brace)).trim();
  if (head.startsWith("*")) names.push("*");
  else if (/^[\w$]+/.test(head)) names.push("default");
  if (brace !== -1) {
    const inner = clause.slice(brace + 1, clause.indexOf("}", brace));
    for (const part of inner.split(",")) {
      const spec = part.trim();
      if (spec === "" || /^type\s/.test(spec)) continue;
      const name = spec.split(/\s+as\s+/)[0]!.replace(/^["']|["']$/g, "");
      names.push(name);
    }
  }
  return names;
}

/** Resolves `spec` as `from` imports it; undefined when it cannot. */
function resolveSpec(spec: string, from: string): string | undefined {
  try {
    if (/^\.{0,2}\//.test(spec)) return new URL(spec, from).href;
    return import.meta.resolve(spec);
  } catch {
    return undefined;
  }
}

/** The static imports of local module `module`, by name; empty when its
 * source cannot be read. */
function staticImports(module: string): Map<string, Set<string>> {
  let found = importsOf.get(module);
  if (found !== undefined) return found;
  found = new Map();
  importsOf.set(module, found);
  let text: string;
  try {
    if (!module.startsWith("file:")) return found;
    const path = decodeURIComponent(new URL(module).pathname);
    if (
      Deno.permissions.querySync({ name: "read", path }).state !== "granted"
    ) {
      return found;
    }
    if (Deno.statSync(path).size > MAX_SOURCE_BYTES) return found;
    text = withoutComments(Deno.readTextFileSync(path));
  } catch {
    return found;
  }
  const add = (spec: string, names: string[]) => {
    const url = resolveSpec(spec, module);
    if (url === undefined) return;
    let set = found.get(url);
    if (set === undefined) found.set(url, set = new Set());
    for (const name of names) set.add(name);
  };
  for (const m of text.matchAll(IMPORT_FROM)) add(m[3]!, clauseNames(m[1]!));
  for (const m of text.matchAll(IMPORT_BARE)) add(m[2]!, ["*"]);
  for (const m of text.matchAll(EXPORT_FROM)) {
    // A re-export loads the module unless it re-exports only types.
    if (m[1]!.startsWith("*") || clauseNames(m[1]!).length > 0) {
      add(m[3]!, ["*"]);
    }
  }
  return found;
}

/** Whether `module` is surely loaded here, by what the call stack shows:
 * see the top of this file. `name`: the target's export name. */
function loadedHere(module: string, name: string): boolean {
  if (module === Deno.mainModule) return true;
  const stack = stackModules();
  if (stack.has(module)) return true;
  for (const caller of stack) {
    const names = staticImports(caller).get(module);
    if (
      names !== undefined &&
      (names.has("*") || names.has("default") || names.has(name))
    ) {
      return true;
    }
  }
  return false;
}

/** The prototype of the `Error` subclass `ns` exports as `name`; runs no
 * code (a getter, a proxy trap, a constructor) to find it. */
function errorPrototype(ns: Namespace, name: string): object | undefined {
  let value: unknown;
  try {
    // A namespace has no getters; reading an export not yet initialized
    // throws.
    value = ns[name];
  } catch {
    return undefined;
  }
  if (typeof value !== "function" || isProxy!(value)) return undefined;
  const d = Object.getOwnPropertyDescriptor(value, "prototype");
  if (d === undefined || !("value" in d)) return undefined;
  const proto: unknown = d.value;
  let p = proto;
  for (let i = 0; i < MAX_PROTOTYPE_CHAIN; i++) {
    if (p === null || typeof p !== "object" || isProxy!(p)) return undefined;
    // Error itself is no class of the module's own; a DOMException cannot
    // be made without its constructor.
    if (p === Error.prototype) return i === 0 ? undefined : proto as object;
    if (p === DOMException.prototype) return undefined;
    p = Object.getPrototypeOf(p);
  }
  return undefined;
}

/**
 * Prepares to revive the errors of the classes `module` exports: imports it
 * in the background when it is surely loaded here already (see the top of
 * this file). Call it synchronously from the call that names the module (a
 * pool call, `new Process`): its call stack is the evidence.
 *
 * @param module The target module's URL.
 * @param name The target's export name.
 */
export function watchModule(module: string, name: string): void {
  if (namespaces.has(module)) return;
  const key = `${module}\0${name}`;
  if (notLoaded.has(key)) return;
  if (!loadedHere(module, name)) {
    notLoaded.add(key);
    return;
  }
  namespaces.set(module, IMPORTING);
  Promise.all([
    import(module) as Promise<Namespace>,
    isProxy ?? import("node:util").then((u) => u.types.isProxy),
  ]).then(([ns, proxy]) => {
    isProxy = proxy;
    namespaces.set(module, ns);
  }, () => {
    // Not loadable here after all: its errors come back as plain errors.
  });
}

/**
 * The classes `module` exports, for `decodeError`: none until its namespace
 * is here (and none when it is not loaded here).
 *
 * @param module The target module's URL.
 */
export function errorClasses(module: string): ErrorClasses {
  let classes = classesOf.get(module);
  if (classes === undefined) {
    classes = {
      module,
      prototypeOf(name: string): object | undefined {
        const ns = namespaces.get(module);
        return typeof ns === "object" ? errorPrototype(ns, name) : undefined;
      },
    };
    classesOf.set(module, classes);
  }
  return classes;
}
