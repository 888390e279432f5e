// The flags a child process (isolation: "process") copies from its parent's
// command line: those that decide how modules resolve and load, with paths
// made absolute; never the script's own arguments, nor permissions (which
// are the child's own), nor --watch, --inspect and the like.
import assert from "node:assert/strict";
import {
  parseCommandLine,
  parsePermissions,
} from "../../lib/_engine/parent_flags.ts";

const DENO = "/usr/bin/deno";
const CWD = Deno.cwd();

Deno.test("parseCommandLine() copies resolution flags of `deno run` up to the script", () => {
  const got = parseCommandLine([
    DENO,
    "run",
    "-A",
    "--import-map=map.json",
    "--config",
    "conf/deno.json",
    "--lock=/abs/deno.lock",
    "--cached-only",
    "--unstable-kv",
    "--v8-flags=--max-old-space-size=512,--stack-size=2000",
    "--watch",
    "--inspect",
    "main.ts",
    "--config",
    "script-arg.json",
    "--no-config",
  ]);
  assert.deepEqual(got.flags, [
    `--import-map=${CWD}/map.json`,
    `--config=${CWD}/conf/deno.json`,
    "--lock=/abs/deno.lock",
    "--cached-only",
    "--unstable-kv",
  ]);
  assert.deepEqual(got.v8, ["--max-old-space-size=512", "--stack-size=2000"]);
});

Deno.test("parseCommandLine() reads flags anywhere before -- under `deno test`", () => {
  const got = parseCommandLine([
    DENO,
    "test",
    "-A",
    "tests/a_test.ts",
    "-c",
    "deno.json",
    "--no-lock",
    "tests/b_test.ts",
    "--",
    "--no-config",
  ]);
  assert.deepEqual(got.flags, [`--config=${CWD}/deno.json`, "--no-lock"]);
});

Deno.test("parseCommandLine() takes nothing from `deno main.ts` (no subcommand) or an empty line", () => {
  assert.deepEqual(parseCommandLine([DENO, "main.ts", "--no-config"]), {
    flags: [],
    v8: [],
  });
  assert.deepEqual(parseCommandLine([DENO]), { flags: [], v8: [] });
});

Deno.test("parseCommandLine() keeps a URL import map and --no-config as they are", () => {
  const got = parseCommandLine([
    DENO,
    "run",
    "--no-config",
    "--import-map",
    "https://example.com/map.json",
    "-q",
    "main.ts",
  ]);
  assert.deepEqual(got.flags, [
    "--no-config",
    "--import-map=https://example.com/map.json",
    "-q",
  ]);
});

Deno.test("parsePermissions() reads allow and deny flags, long and short, up to the script", () => {
  const got = parsePermissions([
    DENO,
    "run",
    "--lock",
    "deno.lock",
    "-R=/a,/b",
    "--allow-env=HOME",
    "--deny-net",
    "-NE",
    "--config",
    "deno.json",
    "--allow-read=/c",
    "main.ts",
    "-A",
  ]);
  assert.deepEqual(
    Object.fromEntries(got!),
    {
      read: { allow: ["/a", "/b", "/c"] },
      env: { allow: true },
      net: { deny: true, allow: true },
    },
  );
  // A permission set names its grants in a config file: unknown here.
  assert.equal(parsePermissions([DENO, "run", "-P", "main.ts"]), undefined);
  assert.deepEqual(
    Object.fromEntries(parsePermissions([DENO, "run", "-A", "main.ts"])!),
    { all: { allow: true } },
  );
});
