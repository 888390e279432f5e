// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The module graph of a scoped worker's module, and the check that it stays
// inside the places the worker may load from. Deno loads the static imports
// of a worker's modules, and `import()` of a literal specifier, without
// checking the worker's read permission. So the graph is read here (this
// library's own scan of import specifiers, import_scan.ts, and `deno info
// --json` when the program may run deno, deno_info.ts), cached until one of
// its files changes, and a worker is refused when its graph reaches a local
// file outside its "read" permission, its module's folder, and this library.
//
// Imports lib/_messages.ts, node:path, a type from lib/process/, and
// lib/_engine/{import_scan,deno_info,local_paths}.ts.

import { dirname, resolve } from "node:path";
import { messages } from "../_messages.ts";
import type { Permissions } from "../process/worker_options.ts";
import { infoGraph } from "./deno_info.ts";
import { scanSpecifiers } from "./import_scan.ts";
import {
  granted,
  isFile,
  isLibrary,
  mtime,
  pathOf,
  realPath,
  within,
} from "./local_paths.ts";

/** Most modules a graph may have before it is refused as too large to
 * check. */
const MAX_GRAPH_MODULES = 10_000;
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
