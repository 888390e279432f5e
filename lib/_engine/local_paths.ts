// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Local files as this program may see them, without ever prompting: the
// permission query, a file: URL's path, a path with symlinks resolved, a
// file's modification time, and whether a path is inside a folder or this
// library's own code. Used by the checks of a scoped worker's module graph.
//
// Imports node:path.

import { sep } from "node:path";

/** Whether a permission query for `desc` is granted (never prompts). */
export function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

/** The library's own code: its folder and entry modules (a scoped target
 * may import the library). */
const LIB_DIR = new URL("../", import.meta.url);
const LIB_ENTRIES = ["mod.ts", "redis.ts", "worker.ts"].map((f) =>
  new URL(`../../${f}`, import.meta.url)
);

/** A file: URL's path, percent-decoding what can be decoded. */
export function pathOf(url: URL): string {
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
export function realPath(path: string): string {
  if (!granted({ name: "read", path })) return path;
  try {
    return Deno.realPathSync(path);
  } catch {
    return path;
  }
}

/** `path`'s modification time, where the program may read it, else null. */
export function mtime(path: string): number | null {
  if (!granted({ name: "read", path })) return null;
  try {
    return Deno.statSync(path).mtime?.getTime() ?? null;
  } catch {
    return null;
  }
}

/** Whether `path` is a file. */
export function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Whether `path` is `root` or inside it. */
export function within(path: string, root: string): boolean {
  return path === root ||
    path.startsWith(root.endsWith(sep) ? root : root + sep);
}

let libRoots: string[] | undefined;
/** Whether `path` is this library's own code. */
export function isLibrary(path: string): boolean {
  if (LIB_DIR.protocol !== "file:") return false;
  libRoots ??= [
    realPath(pathOf(LIB_DIR).replace(/\/$/, "")),
    ...LIB_ENTRIES.map((u) => realPath(pathOf(u))),
  ];
  return libRoots.some((root) => within(path, root));
}
