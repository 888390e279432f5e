// A worker with scoped permissions loads only modules inside the places it
// may read. Deno loads the static imports of a worker's modules, and
// import() of a literal specifier, without checking the worker's read
// permission, so a `{ read: [data] }` target could read any file by
// importing it. The library reads the module graph before the worker starts
// and refuses one that reaches a local file outside its "read" folders, its
// module's folder and the library, naming the file. This holds with and
// without `deno info` (under -A and under -R), for every form Deno
// preloads; forms Deno does not preload are checked by Deno when they run.
import assert from "node:assert/strict";
import { Pool, Process } from "@parallel/multiprocessing";
import { scanSpecifiers } from "../../lib/_engine/import_scan.ts";
import { runDeno, within } from "../fixtures/harness.ts";
import type { SandboxCase } from "./fixtures/sandbox_main.ts";

const MAIN = "tests/reliability/fixtures/sandbox_main.ts";

/** Stands for each module's export `run`: a target is found by its name. */
function run() {}
/** How long the subprocess of all cases may run (ms). */
const RUN_MS = 90_000;

/** A folder of modules: `outside/` holds the secret, `data/` is the
 * folder the workers may read, `tgt/` holds one module per attack. */
interface Layout {
  readonly root: string;
  readonly secret: string;
  readonly secretText: string;
  readonly data: string;
  readonly tgt: string;
}

async function layout(): Promise<Layout> {
  const root = await Deno.realPath(
    await Deno.makeTempDir({ prefix: "sandbox_" }),
  );
  const secretText = `s3cr3t-${crypto.randomUUID()}`;
  for (const d of ["outside", "data", "tgt", "tgt/sub"]) {
    await Deno.mkdir(`${root}/${d}`);
  }
  const secret = `${root}/outside/secret.json`;
  await Deno.writeTextFile(secret, JSON.stringify({ secret: secretText }));
  await Deno.writeTextFile(`${root}/data/inside.json`, `{"inside": 1}`);
  await Deno.writeTextFile(`${root}/tgt/local.json`, `{"local": 2}`);
  await Deno.symlink(secret, `${root}/data/link.json`);
  await Deno.symlink(secret, `${root}/tgt/link.json`);
  return {
    root,
    secret,
    secretText,
    data: `${root}/data`,
    tgt: `${root}/tgt`,
  };
}

/** Each attack: a module body whose `run()` returns what it imported. */
function attacks(l: Layout): Record<string, string> {
  const s = l.secret;
  const url = `file://${s}`;
  const json = `{ with: { type: "json" } }`;
  const dyn = (spec: string) =>
    `export async function run() { return (await import(${spec}, ${json})).default; }\n`;
  return {
    staticImport:
      `import s from ${JSON.stringify(url)} with { type: "json" };\n` +
      `export function run() { return s; }\n`,
    dynamicLiteral: dyn(JSON.stringify(url)),
    templateLiteral: dyn("`" + url + "`"),
    escaped: dyn(JSON.stringify(url).replace("secret", "secr\\x65t")),
    unicodeEscaped: dyn(JSON.stringify(url).replace("secret", "s\\u{65}cret")),
    lineContinuation: dyn(JSON.stringify(url).replace("secret", "sec\\\nret")),
    comments: dyn(`/* a */ ${JSON.stringify(url)} // b\n`),
    dotDot: dyn(JSON.stringify(`file://${l.data}/../outside/secret.json`)),
    relative: dyn(JSON.stringify("../outside/secret.json")),
    percent: dyn(JSON.stringify(url.replace("outside", "%6futside"))),
    absolutePath: dyn(JSON.stringify(s)),
    dataUrl: `import * as m from ${
      JSON.stringify(
        `data:text/javascript,import s from '${url}' with { type: 'json' }; export default s;`,
      )
    };\nexport function run() { return m.default; }\n`,
    dataUrlBase64: `import * as m from ${
      JSON.stringify(
        `data:text/javascript;base64,${
          btoa(
            `import s from '${url}' with { type: 'json' }; export default s;`,
          )
        }`,
      )
    };\nexport function run() { return m.default; }\n`,
    nestedDynamicData:
      `export async function run() {\n  const m = await import(${
        JSON.stringify(
          `data:text/javascript,export default await import("${url}", { with: { type: "json" } })`,
        )
      });\n  return m.default.default;\n}\n`,
    reExport: `export * from "./sub/reexp.ts";\n`,
    symlinkInRead: dyn(JSON.stringify(`file://${l.data}/link.json`)),
    symlinkInOwnFolder: dyn(JSON.stringify("./link.json")),
    // A comment is not code, but the scan does not parse: refused too.
    inAComment: `// import s from ${JSON.stringify(url)};\n` +
      `export function run() { return 1; }\n`,
  };
}

/** Modules a scoped worker may load: each `run()` runs. */
function allowed(l: Layout): Record<string, [string, unknown]> {
  return {
    ownFolder: [
      `import s from "./local.json" with { type: "json" };\nexport function run() { return s; }\n`,
      { local: 2 },
    ],
    readFolder: [
      `import s from ${
        JSON.stringify(`file://${l.data}/inside.json`)
      } with { type: "json" };\nexport function run() { return s; }\n`,
      { inside: 1 },
    ],
    library: [
      `import { currentProcess } from "@parallel/multiprocessing";\n` +
      `export function run() { return typeof currentProcess().name; }\n`,
      "string",
    ],
  };
}

/** Forms Deno does not preload: the check lets them start, and Deno
 * refuses the read when they run. */
function runtimeChecked(l: Layout): Record<string, string> {
  const base = JSON.stringify(`file://${l.root}/outside`);
  const json = `{ with: { type: "json" } }`;
  return {
    templateWithSubstitution:
      `export async function run() { const n = "secret"; const b = ${base}; return (await import(\`\${b}/\${n}.json\`, ${json})).default; }\n`,
    computed:
      `export async function run() { const p = ${base} + "/secret.json"; return (await import(p, ${json})).default; }\n`,
    parenthesized: `export async function run() { return (await import((${
      JSON.stringify(`file://${l.secret}`)
    }), ${json})).default; }\n`,
  };
}

async function writeModules(
  l: Layout,
  bodies: Record<string, string>,
): Promise<Record<string, string>> {
  const urls: Record<string, string> = {};
  for (const [name, body] of Object.entries(bodies)) {
    const path = `${l.tgt}/${name}.ts`;
    await Deno.writeTextFile(path, body);
    urls[name] = `file://${path}`;
  }
  await Deno.writeTextFile(
    `${l.tgt}/sub/reexp.ts`,
    `import s from "../../outside/secret.json" with { type: "json" };\nexport function run() { return s; }\n`,
  );
  return urls;
}

Deno.test("a scoped pool or Process whose module graph reaches a file outside its folders is refused, naming the file", async () => {
  const l = await layout();
  try {
    const urls = await writeModules(l, attacks(l));
    for (const [name, module] of Object.entries(urls)) {
      for (const read of [[l.data], "none"] as const) {
        const permissions = read === "none" ? read : { read: [...read] };
        const what = `${name} with ${Deno.inspect(permissions)}`;
        const err = (() => {
          try {
            new Pool({ processes: 1, module, permissions }).terminate();
          } catch (e) {
            return e;
          }
          return undefined;
        })();
        assert.ok(
          err instanceof Deno.errors.NotCapable,
          `${what}: the pool was not refused: ${Deno.inspect(err)}`,
        );
        assert.ok(
          err.message.includes(l.secret) ||
            err.message.includes(`${l.root}/outside`),
          `${what}: ${err.message}`,
        );
        assert.match(err.message, /outside the places it may load from/);
      }
      const p = new Process({ target: run, module, permissions: "none" });
      assert.throws(() => p.start(), Deno.errors.NotCapable, name);
    }
    // The pool's module itself may be a data: URL.
    const data =
      `data:text/javascript,import s from 'file://${l.secret}' with { type: 'json' }; export function run() { return s; }`;
    assert.throws(
      () => new Pool({ processes: 1, module: data, permissions: "none" }),
      Deno.errors.NotCapable,
    );
    console.log(`module graphs refused: ${Object.keys(urls).length + 1}`);
  } finally {
    await Deno.remove(l.root, { recursive: true });
  }
});

Deno.test("a scoped worker may import from its own folder, its read folders and the library", async () => {
  const l = await layout();
  try {
    const cases = allowed(l);
    const urls = await writeModules(
      l,
      Object.fromEntries(Object.entries(cases).map(([k, [body]]) => [k, body])),
    );
    for (const [name, module] of Object.entries(urls)) {
      await using pool = new Pool({
        processes: 1,
        module,
        permissions: { read: [l.data] },
      });
      assert.deepEqual(
        await within(pool.apply(run, []), 30_000, name),
        cases[name]![1],
        name,
      );
    }
  } finally {
    await Deno.remove(l.root, { recursive: true });
  }
});

Deno.test("an import() that Deno does not preload starts, and Deno refuses its read when it runs", async () => {
  const l = await layout();
  try {
    const urls = await writeModules(l, runtimeChecked(l));
    for (const [name, module] of Object.entries(urls)) {
      await using pool = new Pool({
        processes: 1,
        module,
        permissions: { read: [l.data] },
      });
      const err = await within(
        pool.apply(run, []).then((v) => ({ leaked: v }), (e) => e),
        30_000,
        name,
      );
      assert.ok(
        err instanceof Error && /read access/.test(err.message),
        `${name}: ${Deno.inspect(err)}`,
      );
    }
  } finally {
    await Deno.remove(l.root, { recursive: true });
  }
});

Deno.test("under -R (no deno info: the library's own scan) and under -A, every attack is refused and no secret is read", async () => {
  const l = await layout();
  try {
    const urls = await writeModules(l, { ...attacks(l), ...runtimeChecked(l) });
    // The pool's module itself may be a data: URL.
    urls.dataModule =
      `data:text/javascript,import s from 'file://${l.secret}' with { type: 'json' }; export function run() { return s; }`;
    const cases: SandboxCase[] = [];
    for (const [name, module] of Object.entries(urls)) {
      cases.push({ name, how: "pool", module, fn: "run", read: l.data });
      cases.push({ name, how: "process", module, fn: "run", read: null });
    }
    for (const flags of [["-R"], ["-A"]]) {
      const ran = await runDeno(
        ["run", ...flags, "--no-prompt", MAIN, JSON.stringify(cases)],
        { timeout: RUN_MS },
      );
      const out = ran.stdout + ran.stderr;
      assert.ok(
        !out.includes(l.secretText),
        `${flags}: the secret leaked:\n${out}`,
      );
      assert.equal(ran.code, 0, `${flags}:\n${out}`);
      const lines = ran.stdout.trim().split("\n").map((s) =>
        JSON.parse(s) as { name: string; outcome: string }
      );
      assert.equal(lines.length, cases.length, out);
      const runtime = new Set(Object.keys(runtimeChecked(l)));
      for (const { name, outcome } of lines) {
        if (runtime.has(name)) {
          assert.match(outcome, /^(failed|ran 0)/, `${flags} ${name}`);
        } else {
          assert.match(outcome, /^refused NotCapable: /, `${flags} ${name}`);
        }
      }
    }
  } finally {
    await Deno.remove(l.root, { recursive: true });
  }
});

Deno.test("scanSpecifiers() finds every import that deno info finds, in tricky syntax", async () => {
  const dir = await Deno.realPath(
    await Deno.makeTempDir({ prefix: "sandbox_scan_" }),
  );
  try {
    const names = "abcdefghijklmnopq".split("");
    for (const n of names) {
      await Deno.writeTextFile(`${dir}/${n}.ts`, `export const ${n} = 1;\n`);
    }
    await Deno.writeTextFile(`${dir}/i.json`, `{}`);
    const root = `${dir}/root.ts`;
    const text = [
      `import a from "./a.ts";`,
      `import * as b from './b.ts';`,
      `import { c as d } from "./c.ts"`,
      `import type { T } from "./d.ts";`,
      `export * from "./e.ts";`,
      `export { f } from "./f.ts";`,
      `export * as g from "./g.ts";`,
      `import "./h.ts";`,
      `import i from "./i.json" with { type: "json" };`,
      `const j = await import("./j.ts");`,
      "const k = await import(`./k.ts`);",
      `const l = await import(/* x */ "./l.ts" /* y */);`,
      `const m = await import(\n  "./m.ts"\n);`,
      `import n\n  from\n  "./n.ts";`,
      `const o = await import("./\\u006f.ts");`,
      `const p = await import("./\\x70.ts");`,
      `/* ${"*".repeat(3)} */ import q from /* "./nope.ts" */ "./q.ts";`,
      `export type X = typeof a | typeof b | typeof d | typeof i | typeof j | typeof k | typeof l | typeof m | typeof n | typeof o | typeof p | typeof q;`,
    ].join("\n");
    await Deno.writeTextFile(root, text);
    const ran = await runDeno(["info", "--json", root]);
    const info = JSON.parse(ran.stdout) as {
      modules: { specifier: string; dependencies?: { specifier: string }[] }[];
    };
    const rootInfo = info.modules.find((m) =>
      m.specifier === `file://${root}`
    )!;
    const deps = (rootInfo.dependencies ?? []).map((d) =>
      new URL(d.specifier, `file://${root}`).href
    );
    const scanned = new Set(
      scanSpecifiers(text).map((s) => new URL(s, `file://${root}`).href),
    );
    assert.ok(deps.length >= names.length - 1, Deno.inspect(deps));
    for (const dep of deps) {
      assert.ok(scanned.has(dep), `the scan missed ${dep}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scanSpecifiers() takes time linear in a hostile text", () => {
  // Unterminated comments and strings after every keyword: a naive scan
  // would take quadratic time.
  for (
    const unit of [
      "import/*",
      "import(`",
      'from"',
      "import(/**/import(/**/",
    ]
  ) {
    const text = unit.repeat(200_000);
    const t0 = performance.now();
    scanSpecifiers(text);
    const ms = performance.now() - t0;
    assert.ok(ms < 3_000, `${JSON.stringify(unit)}: ${ms.toFixed(0)} ms`);
  }
});
