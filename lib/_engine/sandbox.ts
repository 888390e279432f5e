// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// What must hold before a worker with scoped permissions starts, since it
// may run code that is hostile (see docs/security.md):
//
// - No permission prompt. In a terminal, Deno asks the person there to grant
//   a worker what it lacks, and "y" grants it. Deno has no API to turn
//   prompts off at run time, so a scoped thread worker starts only where no
//   prompt can appear: standard input or standard error is not a terminal,
//   `--no-prompt` is on the command line (readable with -A), DENO_NO_PROMPT
//   is "1" (readable with env access), or the program runs under `deno test`
//   or `deno bench`, which never prompt.
// - A module graph inside the places the worker may load from. Deno loads
//   the static imports of a worker's modules, and `import()` of a literal
//   specifier, without checking the worker's read permission. So the graph
//   of the worker's module is read here (this file's own scan of import
//   specifiers, and `deno info --json` when the program may run deno), and a
//   worker is refused when its graph reaches a local file outside its "read"
//   permission, its module's folder, and this library.
//
// Imports lib/_messages.ts, node:path, and a type from lib/process/.

import { dirname, resolve, sep } from "node:path";
import { messages } from "../_messages.ts";
import type { Permissions } from "../process/worker_options.ts";

// ---- prompts ----------------------------------------------------------------

/** Deno's subcommands that never prompt. */
const NO_PROMPT_COMMANDS: ReadonlySet<string> = new Set(["test", "bench"]);
/** Deno's flag that turns prompts off, and the variable that does. */
const NO_PROMPT_FLAG = "--no-prompt";
const NO_PROMPT_ENV = "DENO_NO_PROMPT";
/** Flags whose value is the next argument (so it is not the script). */
const VALUE_FLAGS: ReadonlySet<string> = new Set([
  "--config",
  "-c",
  "--import-map",
  "--location",
  "--seed",
  "--cert",
  "--env-file",
]);

/** Whether a permission query for `desc` is granted (never prompts). */
function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

/** This process's command line, where it may be read (-A), else
 * undefined. */
function commandLine(): string[] | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const path = "/proc/self/cmdline";
  if (!granted({ name: "read", path })) return undefined;
  try {
    return Deno.readTextFileSync(path).split("\0");
  } catch {
    return undefined;
  }
}

/** Deno's own flags on a command line: those before the script. */
function denoFlags(args: readonly string[]): string[] {
  const at = args.findIndex((a, i) =>
    i > 1 && !a.startsWith("-") && !VALUE_FLAGS.has(args[i - 1]!)
  );
  return at === -1 ? args.slice(2) : args.slice(2, at);
}

/** DENO_NO_PROMPT as Deno saw it when the program started: read as the
 * library loads, since setting it later does not turn prompts off. */
const envNoPrompt = granted({ name: "env", variable: NO_PROMPT_ENV }) &&
  Deno.env.get(NO_PROMPT_ENV) === "1";

let promptsOff: boolean | undefined;

/** Whether Deno is known never to prompt in this process. */
function knownNoPrompt(): boolean {
  if (promptsOff !== undefined) return promptsOff;
  const args = commandLine();
  promptsOff = envNoPrompt ||
    (args !== undefined &&
      (NO_PROMPT_COMMANDS.has(args[1] ?? "") ||
        denoFlags(args).includes(NO_PROMPT_FLAG)));
  return promptsOff;
}

/** Whether a scoped thread worker could make Deno prompt the person at the
 * terminal: Deno prompts only when standard input and standard error are
 * both terminals, and prompts are not turned off. */
export function promptRisk(): boolean {
  let terminal: boolean;
  try {
    terminal = Deno.stdin.isTerminal() && Deno.stderr.isTerminal();
  } catch {
    terminal = true;
  }
  return terminal && !knownNoPrompt();
}

// ---- the module graph -------------------------------------------------------

/** Most modules a graph may have before it is refused as too large to
 * check. */
const MAX_GRAPH_MODULES = 10_000;
/** The library's own code: its folder and entry modules (a scoped target
 * may import the library). */
const LIB_DIR = new URL("../", import.meta.url);
const LIB_ENTRIES = ["mod.ts", "redis.ts", "worker.ts"].map((f) =>
  new URL(`../../${f}`, import.meta.url)
);
/** File extensions of modules that import nothing. */
const DATA_EXTENSIONS = /\.(json|jsonc|txt|css|bin)$/i;

/** A local file a graph loads, and the module that imports it. */
interface Reached {
  /** The file's path, symlinks resolved where it can be read. */
  readonly path: string;
  /** The importing module's URL ("" for the root). */
  readonly via: string;
  /** Why its imports could not be read, if so. */
  readonly unreadable?: string;
}

/** A module's graph as last read, and the files it was read from. */
interface Graph {
  readonly reached: readonly Reached[];
  /** File path → modification time when it was read (null: unknown). */
  readonly stamps: ReadonlyMap<string, number | null>;
}

const graphs = new Map<string, Graph>();

/** A file: URL's path, percent-decoding what can be decoded. */
function pathOf(url: URL): string {
  try {
    return decodeURIComponent(url.pathname);
  } catch {
    return url.pathname.replace(
      /%[0-9a-f]{2}/gi,
      (m) => String.fromCharCode(parseInt(m.slice(1), 16)),
    );
  }
}

/** `path` with symlinks resolved, where the program may read it. */
function realPath(path: string): string {
  if (!granted({ name: "read", path })) return path;
  try {
    return Deno.realPathSync(path);
  } catch {
    return path;
  }
}

function mtime(path: string): number | null {
  if (!granted({ name: "read", path })) return null;
  try {
    return Deno.statSync(path).mtime?.getTime() ?? null;
  } catch {
    return null;
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Whether `path` is `root` or inside it. */
function within(path: string, root: string): boolean {
  return path === root ||
    path.startsWith(root.endsWith(sep) ? root : root + sep);
}

let libRoots: string[] | undefined;
function isLibrary(path: string): boolean {
  if (LIB_DIR.protocol !== "file:") return false;
  libRoots ??= [
    realPath(pathOf(LIB_DIR).replace(/\/$/, "")),
    ...LIB_ENTRIES.map((u) => realPath(pathOf(u))),
  ];
  return libRoots.some((root) => within(path, root));
}

// ---- scanning a module's source for the specifiers Deno preloads -----------
// A linear scan of the text, that does not parse JavaScript: it finds every
// `import`, `from` and `require` followed (past white space and comments) by
// a string literal, or by `(` and a string literal (or a template literal
// without substitutions), wherever they are, comments and strings included.
// So it finds more than Deno loads, never less, for the forms Deno's module
// graph analyses (static imports and exports, `import()` of a literal; a
// template with a substitution or any other expression is checked against
// the worker's permissions when it runs). Comment ends are found by binary
// search and string literals read once each, so that a hostile text costs
// time linear in its size.

/** One string literal read from a text: its value and where it ends. */
interface Literal {
  readonly value: string;
  readonly end: number;
}

class Scan {
  readonly #text: string;
  /** Sorted positions of every "*" of a "*\/" (comment ends). */
  readonly #closes: number[] = [];
  /** Sorted positions of every line terminator. */
  readonly #lines: number[] = [];
  readonly #literals = new Map<number, Literal | null>();

  constructor(text: string) {
    this.#text = text;
    for (let i = text.indexOf("*/"); i !== -1; i = text.indexOf("*/", i + 1)) {
      this.#closes.push(i);
    }
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 13 || c === 0x2028 || c === 0x2029) {
        this.#lines.push(i);
      }
    }
  }

  /** The first value of `sorted` at or after `at`, or -1. */
  static #next(sorted: number[], at: number): number {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]! < at) lo = mid + 1;
      else hi = mid;
    }
    return lo < sorted.length ? sorted[lo]! : -1;
  }

  /** The position after white space and comments from `i`. */
  gap(i: number): number {
    const t = this.#text;
    while (i < t.length) {
      const c = t[i]!;
      if (/\s/.test(c)) {
        i++;
      } else if (c === "/" && t[i + 1] === "*") {
        const close = Scan.#next(this.#closes, i + 2);
        if (close === -1) return t.length;
        i = close + 2;
      } else if (c === "/" && t[i + 1] === "/") {
        const line = Scan.#next(this.#lines, i + 2);
        if (line === -1) return t.length;
        i = line + 1;
      } else {
        return i;
      }
    }
    return i;
  }

  /** The string literal (or template literal without substitutions) that
   * starts at `i`, if one does. */
  literal(i: number): Literal | null {
    const known = this.#literals.get(i);
    if (known !== undefined) return known;
    const found = this.#read(i);
    this.#literals.set(i, found);
    return found;
  }

  #read(start: number): Literal | null {
    const t = this.#text;
    const quote = t[start];
    if (quote !== '"' && quote !== "'" && quote !== "`") return null;
    let out = "";
    for (let i = start + 1; i < t.length; i++) {
      const c = t[i]!;
      if (c === quote) return { value: out, end: i + 1 };
      if (quote === "`" && c === "$" && t[i + 1] === "{") return null;
      if (quote !== "`" && (c === "\n" || c === "\r")) return null;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.#escape(i + 1);
      if (e === null) return null;
      out += e.value;
      i = e.end - 1;
    }
    return null;
  }

  /** The escape sequence whose letter is at `i` (after a backslash). */
  #escape(i: number): Literal | null {
    const t = this.#text;
    const c = t[i];
    if (c === undefined) return null;
    const simple: Record<string, string> = {
      n: "\n",
      r: "\r",
      t: "\t",
      b: "\b",
      f: "\f",
      v: "\v",
      "0": "\0",
    };
    if (c === "x") {
      const hex = t.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/i.test(hex)) return null;
      return { value: String.fromCharCode(parseInt(hex, 16)), end: i + 3 };
    }
    if (c === "u") {
      if (t[i + 1] === "{") {
        const close = t.indexOf("}", i + 2);
        const hex = close === -1 ? "" : t.slice(i + 2, close);
        if (!/^[0-9a-f]{1,6}$/i.test(hex)) return null;
        const code = parseInt(hex, 16);
        if (code > 0x10ffff) return null;
        return { value: String.fromCodePoint(code), end: close + 1 };
      }
      const hex = t.slice(i + 1, i + 5);
      if (!/^[0-9a-f]{4}$/i.test(hex)) return null;
      return { value: String.fromCharCode(parseInt(hex, 16)), end: i + 5 };
    }
    // A line continuation adds nothing.
    if (c === "\r" && t[i + 1] === "\n") return { value: "", end: i + 2 };
    if (c === "\n" || c === "\r" || c === "\u2028" || c === "\u2029") {
      return { value: "", end: i + 1 };
    }
    return { value: Object.hasOwn(simple, c) ? simple[c]! : c, end: i + 1 };
  }

  /** Every specifier the text may import. */
  specifiers(): string[] {
    const t = this.#text;
    const out: string[] = [];
    const keyword = /\b(import|from|require)\b/g;
    for (let m = keyword.exec(t); m !== null; m = keyword.exec(t)) {
      let at = this.gap(m.index + m[0].length);
      if (t[at] === "(") {
        at = this.gap(at + 1);
      } else if (m[0] === "require") continue;
      const lit = this.literal(at);
      if (lit !== null) out.push(lit.value);
    }
    // A JSX pragma names a package whose jsx-runtime module is imported.
    const pragma = /@jsxImportSource(?:Types)?\s+([^\s*]+)/g;
    for (let m = pragma.exec(t); m !== null; m = pragma.exec(t)) {
      out.push(`${m[1]}/jsx-runtime`, `${m[1]}/jsx-dev-runtime`);
    }
    return out;
  }
}

/** The specifiers a module's source text may import. */
export function scanSpecifiers(text: string): string[] {
  return new Scan(text).specifiers();
}

/** What `spec`, imported by `base`, names: a URL, or undefined when it
 * names nothing Deno could load. */
function resolveSpecifier(spec: string, base: string): URL | undefined {
  if (/^\.{0,2}\//.test(spec) || URL.canParse(spec)) {
    try {
      return new URL(spec, base);
    } catch {
      return undefined;
    }
  }
  // A bare specifier: the program's import map (or package.json) says.
  try {
    return new URL(import.meta.resolve(spec));
  } catch {
    return undefined;
  }
}

/** The text of a data: URL module, or undefined. */
function dataText(url: URL): string | undefined {
  const href = url.href;
  const comma = href.indexOf(",");
  if (comma === -1) return undefined;
  const head = href.slice(5, comma);
  const body = href.slice(comma + 1);
  try {
    if (/;base64$/i.test(head)) {
      return new TextDecoder().decode(
        Uint8Array.from(atob(decodeURIComponent(body)), (c) => c.charCodeAt(0)),
      );
    }
    return decodeURIComponent(body);
  } catch {
    return body;
  }
}

/** The module names a WebAssembly module imports. */
function wasmImports(bytes: Uint8Array<ArrayBuffer>): string[] {
  const mod = new WebAssembly.Module(bytes);
  return WebAssembly.Module.imports(mod).map((i) => i.module);
}

/** Walks the graph of `root` by reading sources. */
function scanGraph(root: string): Graph {
  const reached: Reached[] = [];
  const stamps = new Map<string, number | null>();
  const seen = new Set<string>();
  const queue: { url: URL; via: string }[] = [{ url: new URL(root), via: "" }];
  while (queue.length > 0) {
    if (seen.size > MAX_GRAPH_MODULES) {
      reached.push({
        path: pathOf(new URL(root)),
        via: "",
        unreadable: `its graph has more than ${MAX_GRAPH_MODULES} modules`,
      });
      break;
    }
    const { url, via } = queue.shift()!;
    const key = url.href.replace(/#.*$/, "");
    if (seen.has(key)) continue;
    seen.add(key);
    let text: string | undefined;
    let imports: string[] = [];
    if (url.protocol === "data:") {
      text = dataText(url);
    } else if (url.protocol === "file:") {
      const path = pathOf(url);
      if (!granted({ name: "read", path })) {
        reached.push({ path, via, unreadable: "the program may not read it" });
        continue;
      }
      if (!isFile(path)) {
        // Deno could not load it either; if it appears later, it is read then.
        stamps.set(path, null);
        continue;
      }
      const real = realPath(path);
      stamps.set(path, mtime(path));
      if (isLibrary(real)) continue;
      reached.push({ path: real, via });
      if (DATA_EXTENSIONS.test(path)) continue;
      try {
        if (/\.wasm$/i.test(path)) {
          imports = wasmImports(Deno.readFileSync(path));
        } else text = Deno.readTextFileSync(path);
      } catch (err) {
        reached.push({ path: real, via, unreadable: String(err) });
        continue;
      }
    } else {
      // Remote modules cannot import local files; npm: and node: are
      // packages (see docs/security.md).
      continue;
    }
    if (text !== undefined) imports = scanSpecifiers(text);
    for (const spec of imports) {
      const next = resolveSpecifier(spec, url.href);
      if (next !== undefined) queue.push({ url: next, via: url.href });
    }
  }
  return { reached, stamps };
}

/** The local files of `root`'s graph as `deno info --json` (Deno's own
 * module graph, without remote and npm modules) reports them, when this
 * program may run deno; else undefined. */
function infoGraph(root: string): Reached[] | undefined {
  let exec: string;
  try {
    exec = Deno.execPath();
  } catch {
    return undefined;
  }
  // A program made by `deno compile` is its own executable: not deno.
  if (!/(^|[\\/])deno(\.exe)?$/.test(exec)) return undefined;
  if (!granted({ name: "run", command: exec })) return undefined;
  let out: Deno.CommandOutput;
  try {
    out = new Deno.Command(exec, {
      args: [
        "info",
        "--json",
        "--no-remote",
        "--no-npm",
        "--no-lock",
        ...configFlags(),
        root,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
  } catch {
    return undefined;
  }
  if (!out.success) return undefined;
  let info: {
    roots?: string[];
    redirects?: Record<string, string>;
    modules?: {
      specifier: string;
      local?: string;
      dependencies?: { code?: { specifier?: string } }[];
    }[];
  };
  try {
    info = JSON.parse(new TextDecoder().decode(out.stdout));
  } catch {
    return undefined;
  }
  const modules = new Map((info.modules ?? []).map((m) => [m.specifier, m]));
  const redirects = info.redirects ?? {};
  const reached: Reached[] = [];
  const seen = new Set<string>();
  const queue = (info.roots ?? [root]).map((s) => ({ s, via: "" }));
  while (queue.length > 0) {
    const { s, via } = queue.shift()!;
    const spec = redirects[s] ?? s;
    if (seen.has(spec)) continue;
    seen.add(spec);
    const m = modules.get(spec);
    if (m === undefined) continue;
    if (spec.startsWith("file:")) {
      const real = realPath(m.local ?? pathOf(new URL(spec)));
      if (isLibrary(real)) continue;
      reached.push({ path: real, via });
    }
    // Only what runs: type-only dependencies are not loaded.
    for (const d of m.dependencies ?? []) {
      const next = d.code?.specifier;
      if (next !== undefined) queue.push({ s: next, via: spec });
    }
  }
  return reached;
}

/** The --config / --import-map / --no-config flags this program was run
 * with, for `deno info` (where the command line can be read). */
function configFlags(): string[] {
  const args = commandLine();
  if (args === undefined) return [];
  const flags = denoFlags(args);
  const out: string[] = [];
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i]!;
    if (f === "--no-config") out.push(f);
    else if (/^(--config|--import-map)=/.test(f)) out.push(f);
    else if ((f === "--config" || f === "-c" || f === "--import-map")) {
      const value = flags[i + 1];
      if (value !== undefined) out.push(f, value);
    }
  }
  return out;
}

/** The graph of `module`, read again when a file of it changed. */
function graphOf(module: string): Graph {
  const known = graphs.get(module);
  if (known !== undefined) {
    let fresh = true;
    for (const [path, stamp] of known.stamps) {
      if (mtime(path) !== stamp) {
        fresh = false;
        break;
      }
    }
    if (fresh) return known;
  }
  const scanned = scanGraph(module);
  const info = infoGraph(module);
  const graph: Graph = info === undefined
    ? scanned
    : { reached: [...scanned.reached, ...info], stamps: scanned.stamps };
  graphs.set(module, graph);
  return graph;
}

/** The places a worker with `permissions` may load from: real paths, or
 * "all". `"inherit"` for read gives the program's own read access. */
function places(
  module: string,
  permissions: Exclude<Permissions, "inherit">,
): { roots: string[]; inherit: boolean } | "all" {
  const read = permissions === "none" ? false : permissions.read;
  if (read === true) return "all";
  const inherit = read === "inherit";
  if (inherit && granted({ name: "read" })) return "all";
  const roots = module.startsWith("file:")
    ? [realPath(dirname(pathOf(new URL(module))))]
    : [];
  if (Array.isArray(read)) {
    for (const entry of read as unknown[]) {
      let path: string | undefined;
      if (entry instanceof URL) path = pathOf(entry);
      else if (typeof entry === "string") {
        path = entry.startsWith("file:")
          ? pathOf(new URL(entry))
          : resolve(entry);
      }
      if (path !== undefined) roots.push(realPath(path));
    }
  }
  return { roots, inherit };
}

/**
 * Throws when a worker with scoped `permissions` that loads `module` would
 * load a local file outside the places it may: its "read" permission, the
 * folder of `module` (and below), and this library. Reads each module of
 * the graph once while its files are unchanged.
 *
 * @throws {Deno.errors.NotCapable} naming the file, and the module that
 * imports it.
 */
export function assertGraphInside(
  module: string,
  permissions: Exclude<Permissions, "inherit">,
): void {
  // A remote module cannot import local files; a data: one can.
  if (!module.startsWith("file:") && !module.startsWith("data:")) return;
  const allowed = places(module, permissions);
  if (allowed === "all") return;
  const { reached } = graphOf(module);
  const inside = (path: string) =>
    allowed.roots.some((root) => within(path, root)) ||
    (allowed.inherit && granted({ name: "read", path }));
  for (const r of reached) {
    if (inside(r.path)) continue;
    const via = r.via === "" ? "" : ` (from ${r.via})`;
    throw new Deno.errors.NotCapable(
      messages.scopedGraphOutside(module, r.path, via),
    );
  }
  for (const r of reached) {
    if (r.unreadable === undefined) continue;
    throw new Deno.errors.NotCapable(
      messages.scopedGraphUnchecked(module, r.path, r.unreadable),
    );
  }
}

/**
 * Checks what must hold before a worker with `permissions` that loads
 * `module` starts: with scoped permissions, no prompt (`terminal`: the
 * worker is a thread of this process, which Deno may prompt for), and a
 * module graph inside the places the worker may load from.
 *
 * @throws {Deno.errors.NotCapable} when either does not hold.
 */
export function assertSandbox(
  module: string,
  permissions: Permissions,
  { terminal }: { terminal: boolean },
): void {
  if (permissions === "inherit") return;
  if (terminal && promptRisk()) {
    throw new Deno.errors.NotCapable(messages.scopedPromptRisk());
  }
  assertGraphInside(module, permissions);
}
