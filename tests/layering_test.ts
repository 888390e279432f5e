// The layers of lib/, read from the module graph (`deno info --json`): code
// that runs inside a worker never imports the main-side engine, and nothing
// imports "upward". docs/architecture.md draws the same layers.

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const LIB = new URL("lib/", ROOT).href;

/** Where a module of lib/ sits: its folder, or "base" for lib/*.ts. */
type Layer =
  | "base"
  | "_shared"
  | "_worker"
  | "_engine"
  | "sync"
  | "queues"
  | "process"
  | "pool"
  | "redis"
  | "managers";

/** What each layer may import at run time. Type-only imports may also name
 * the public folders (process/, pool/, sync/, queues/), where the public
 * types live beside their classes: they leave no code behind. */
const ALLOWED: Readonly<Record<Layer, readonly Layer[]>> = {
  base: ["base", "_shared"],
  _shared: ["base", "_shared"],
  _worker: ["base", "_shared", "_worker"],
  _engine: ["base", "_shared", "_engine"],
  sync: ["base", "_shared", "sync"],
  queues: ["base", "_shared", "sync", "queues"],
  process: ["base", "_shared", "_engine", "process"],
  pool: ["base", "_shared", "_engine", "process", "pool"],
  redis: ["base", "_shared", "_engine", "process", "pool", "redis"],
  managers: ["base", "_shared", "_engine", "queues", "managers"],
};
const PUBLIC: readonly Layer[] = [
  "process",
  "pool",
  "sync",
  "queues",
  "managers",
];

/** Every program and worker entry point of the library. Worker entries are
 * started by URL, so they are roots of their own. */
const ENTRIES = [
  "mod.ts",
  "redis.ts",
  "worker.ts",
  "lib/_worker/thread_entry.ts",
  "lib/_worker/hub.ts",
  "lib/_worker/bootstrap.ts",
  "lib/_worker/process_entry.ts",
  "lib/managers/server_entry.ts",
  // What a Redis worker machine's Workers load first (lib/redis/_runner.ts).
  "lib/redis/_task_host.ts",
];

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly typeOnly: boolean;
}

function layerOf(path: string): Layer {
  const slash = path.indexOf("/");
  return (slash === -1 ? "base" : path.slice(0, slash)) as Layer;
}

/** The edges that break the layering, each as a sentence. */
function violations(edges: Iterable<Edge>): string[] {
  const out = new Set<string>();
  for (const { from, to, typeOnly } of edges) {
    const a = layerOf(from);
    const b = layerOf(to);
    const allowed = ALLOWED[a];
    if (allowed === undefined) {
      out.add(`lib/${from} is in no known layer: add "${a}" to ALLOWED`);
      continue;
    }
    if (allowed.includes(b)) continue;
    if (typeOnly && PUBLIC.includes(b)) continue;
    out.add(
      `lib/${from} (${a}) imports lib/${to} (${b})${
        typeOnly ? " for types" : ""
      }: ${a} may import only ${allowed.join(", ")}`,
    );
  }
  return [...out];
}

interface InfoModule {
  specifier: string;
  dependencies?: {
    code?: { specifier: string };
    type?: { specifier: string };
  }[];
}

async function graph(): Promise<{ edges: Edge[]; seen: Set<string> }> {
  const edges: Edge[] = [];
  const seen = new Set<string>();
  for (const entry of ENTRIES) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    assert.equal(
      out.code,
      0,
      `deno info ${entry} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      modules: InfoModule[];
    };
    for (const m of info.modules) {
      if (!m.specifier.startsWith(LIB)) continue;
      const from = m.specifier.slice(LIB.length);
      seen.add(from);
      for (const dep of m.dependencies ?? []) {
        const code = dep.code?.specifier;
        const type = dep.type?.specifier;
        if (code?.startsWith(LIB)) {
          edges.push({ from, to: code.slice(LIB.length), typeOnly: false });
        } else if (type?.startsWith(LIB)) {
          edges.push({ from, to: type.slice(LIB.length), typeOnly: true });
        }
      }
    }
  }
  return { edges, seen };
}

async function libFiles(dir = new URL("lib/", ROOT), prefix = ""): Promise<
  string[]
> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) {
      out.push(
        ...await libFiles(new URL(`${e.name}/`, dir), `${prefix}${e.name}/`),
      );
    } else if (e.name.endsWith(".ts")) out.push(`${prefix}${e.name}`);
  }
  return out;
}

Deno.test("lib/ imports only downward, and worker code never imports the engine", async () => {
  const { edges, seen } = await graph();
  assert.ok(edges.length > 50, `too few edges read: ${edges.length}`);
  assert.deepEqual(violations(edges), []);
  const unreached = (await libFiles()).filter((f) => !seen.has(f)).sort();
  assert.deepEqual(
    unreached,
    [],
    "these lib/ files are reached from no entry point, so the layering test does not check them: import them, add their entry to ENTRIES, or remove them",
  );
});

Deno.test("the layering check reports an upward or worker-to-engine import", () => {
  assert.deepEqual(
    violations([
      { from: "_worker/bootstrap.ts", to: "_engine/spawn.ts", typeOnly: false },
      { from: "_engine/spawn.ts", to: "pool/pool.ts", typeOnly: false },
      { from: "_shared/wire.ts", to: "sync/lock.ts", typeOnly: true },
      { from: "_engine/job.ts", to: "pool/pool.ts", typeOnly: true },
      { from: "pool/pool.ts", to: "_engine/job.ts", typeOnly: false },
    ]).map((v) => v.split(":")[0]),
    [
      "lib/_worker/bootstrap.ts (_worker) imports lib/_engine/spawn.ts (_engine)",
      "lib/_engine/spawn.ts (_engine) imports lib/pool/pool.ts (pool)",
    ],
  );
});
