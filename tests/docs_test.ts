// The README and docs/ keep their promises: the programs marked
// `<!-- docs_test: run -->` print what the page shows below them, every
// TypeScript block type-checks, the README stays short, and its links lead
// somewhere.
import assert from "node:assert/strict";
import { ROOT, ROOT_DIR, runDeno } from "./fixtures/harness.ts";

/** The README's hard limit, in bytes. */
const README_MAX_BYTES = 15_000;
/** The most one example program may take before it is killed. */
const RUN_TIMEOUT_MS = 30_000;
/** The most `deno check --doc-only` may take. */
const CHECK_TIMEOUT_MS = 120_000;
const MARKER = "<!-- docs_test: run -->";

interface Example {
  /** Where the program starts, as `file:line`. */
  readonly where: string;
  readonly code: string;
  readonly expected: string;
}

/** The `ts` block after each marker in `file`, with the `text` block that
 * follows it: the program and what it prints. */
async function examples(file: string): Promise<Example[]> {
  const lines = (await Deno.readTextFile(new URL(file, ROOT))).split("\n");
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== MARKER) continue;
    const code = fenced(lines, i + 1, "ts", file);
    const expected = fenced(lines, code.end + 1, "text", file);
    out.push({
      where: `${file}:${code.start + 1}`,
      code: code.body,
      expected: expected.body,
    });
    i = expected.end;
  }
  return out;
}

/** The next fenced block from line `from`, which must be of `lang`. */
function fenced(
  lines: string[],
  from: number,
  lang: string,
  file: string,
): { start: number; end: number; body: string } {
  const start = lines.findIndex((l, i) => i >= from && l.startsWith("```"));
  assert.ok(start !== -1, `${file}: no code block after line ${from}`);
  assert.equal(
    lines[start],
    "```" + lang,
    `${file}:${start + 1}: expected a ${lang} block`,
  );
  const end = lines.findIndex((l, i) => i > start && l === "```");
  assert.ok(end !== -1, `${file}:${start + 1}: the block is not closed`);
  return { start, end, body: lines.slice(start + 1, end).join("\n") + "\n" };
}

/** Runs each example as a module inside the repository (so that deno.json's
 * import map applies) with `deno run -R`, as the docs tell readers to. */
async function runExamples(files: string[]): Promise<number> {
  const dir = await Deno.makeTempDir({ dir: ROOT_DIR, prefix: ".docs_test_" });
  let ran = 0;
  try {
    for (const file of files) {
      for (const [i, example] of (await examples(file)).entries()) {
        const path = `${dir}/example_${ran}_${i}.ts`;
        await Deno.writeTextFile(path, example.code);
        const r = await runDeno(["run", "-R", path], {
          timeout: RUN_TIMEOUT_MS,
        });
        assert.ok(
          r.signal !== "SIGKILL",
          `${example.where}: killed after 30 s`,
        );
        assert.equal(
          r.code,
          0,
          `${example.where} exited ${r.code}:\n${r.stderr}`,
        );
        assert.equal(r.stdout, example.expected, `${example.where} printed`);
        ran++;
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return ran;
}

async function docsFiles(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(new URL("docs/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".md")) {
      names.push(`docs/${entry.name}`);
    }
  }
  return names.sort();
}

Deno.test("README quick start prints what the README shows", async () => {
  const ran = await runExamples(["README.md"]);
  assert.equal(ran, 3, "the README should have 3 marked quick-start programs");
});

Deno.test("docs/ examples marked to run print what the pages show", async () => {
  const ran = await runExamples(await docsFiles());
  assert.ok(ran >= 1, "no marked example in docs/");
});

Deno.test("README and docs/ code blocks type-check (deno check --doc-only)", async () => {
  const r = await runDeno([
    "check",
    "--doc-only",
    "README.md",
    ...await docsFiles(),
  ], { timeout: CHECK_TIMEOUT_MS });
  assert.ok(r.signal !== "SIGKILL", "deno check was killed");
  assert.equal(r.code, 0, r.stderr);
});

Deno.test("README is at most 15,000 bytes", async () => {
  const { size } = await Deno.stat(new URL("README.md", ROOT));
  assert.ok(size <= README_MAX_BYTES, `README.md is ${size} bytes`);
});

/** A heading's anchor, as GitHub and JSR make it. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, "")
    .replace(/ /g, "-");
}

Deno.test("README and docs/ links lead to files and headings that exist", async () => {
  const broken: string[] = [];
  for (const file of ["README.md", ...await docsFiles()]) {
    const text = await Deno.readTextFile(new URL(file, ROOT));
    const links = text.matchAll(/\]\(([^)\s]+)\)/g);
    for (const [, link] of links) {
      if (/^[a-z]+:/.test(link!)) continue;
      const [path, anchor] = link!.split("#") as [string, string | undefined];
      const target = path === ""
        ? new URL(file, ROOT)
        : new URL(path, new URL(file, ROOT));
      let body: string;
      try {
        body = await Deno.readTextFile(target);
      } catch {
        broken.push(`${file}: ${link} (no such file)`);
        continue;
      }
      if (anchor === undefined) continue;
      const anchors = [...body.matchAll(/^#+ (.*)$/gm)].map((m) => slug(m[1]!));
      if (!anchors.includes(anchor)) {
        broken.push(`${file}: ${link} (no such heading)`);
      }
    }
  }
  assert.deepEqual(broken, []);
});
