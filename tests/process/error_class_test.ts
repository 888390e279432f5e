// An uncaught error of a Process target is kept on `p.error` as its own
// class when the target's module exports it, as a pool task's error is
// (tests/pool/error_class_test.ts); and the same from a program's own
// module, with either permissions, run as a subprocess.
import assert from "node:assert/strict";
import { type Isolation, Process } from "@parallel/multiprocessing";
import {
  forge,
  InsufficientFunds,
  LedgerError,
  ran,
  throwHidden,
  transfer,
  withdraw,
  withdrawLater,
} from "../fixtures/error_classes.ts";
import { finish, fixture, runDeno } from "../fixtures/harness.ts";

const MODULE = fixture("error_classes.ts");
const MAIN = fixture("error_class_main.ts");
/** Every test of a Process runs on a thread and in a child process. */
const ISOLATIONS = ["thread", "process"] as const;

function assertNothingRan(): void {
  assert.deepEqual(ran, { constructed: 0, called: 0, trapped: 0, set: 0 });
}

/** Runs `target(...args)` in a Process of the fixture module (stderr
 * gets its report) and returns it once ended. */
async function run(
  target: (...args: never[]) => unknown,
  args: unknown[] = [],
  options: { permissions?: "inherit" | "none"; isolation?: Isolation } = {},
): Promise<Process> {
  const p = new Process({
    target: target as (...a: unknown[]) => unknown,
    args,
    module: MODULE,
    ...options,
  });
  p.start();
  await finish(p);
  return p;
}

for (const isolation of ISOLATIONS) {
  Deno.test(`Process.error is an instance of the class the target's module exports, exitCode 1 (${isolation})`, async () => {
    for (const target of [withdraw, withdrawLater]) {
      const p = await run(target, [10, 20], { isolation });
      assert.equal(p.exitCode, 1);
      const err = p.error;
      assert.ok(err instanceof InsufficientFunds, `got ${Deno.inspect(err)}`);
      assert.equal(err.message, "balance 10 is short of 20");
      assert.equal(err.balance, 10);
      assert.equal(err.shortBy(20), 10);
      assert.ok(err.cause instanceof RangeError);
      assert.match(err.stack ?? "", /error_classes\.ts/);
    }
    assertNothingRan();
  });

  Deno.test(`Process.error revives its cause as its class too (${isolation})`, async () => {
    const p = await run(transfer, [], { isolation });
    assert.ok(p.error instanceof LedgerError, `got ${Deno.inspect(p.error)}`);
    assert.ok(p.error.cause instanceof InsufficientFunds);
    assertNothingRan();
  });

  Deno.test(`Process.error is an Error with the name when the class is not exported, or the worker names a non-error (${isolation})`, async () => {
    const hidden = await run(throwHidden, [], { isolation });
    assert.equal(Object.getPrototypeOf(hidden.error), Error.prototype);
    assert.equal((hidden.error as Error).name, "Hidden");
    for (const name of ["notAnError", "Trapped", "Shifty"]) {
      const p = await run(forge, [{ name }], { isolation });
      assert.equal(p.exitCode, 1);
      assert.equal(Object.getPrototypeOf(p.error), Error.prototype, name);
      assert.equal((p.error as Error).message, "forged");
    }
    const control = await run(forge, [{ name: "InsufficientFunds" }], {
      isolation,
    });
    assert.ok(
      control.error instanceof InsufficientFunds,
      "the forgery arrives",
    );
    assertNothingRan();
  });

  for (const permissions of ["inherit", "none"] as const) {
    Deno.test(`Process never imports a module the program has not loaded, with permissions ${JSON.stringify(permissions)}: the error stays plain (${isolation})`, async () => {
      const module = new URL(
        `?process-${permissions}-${isolation}`,
        fixture("error_classes_unloaded.ts"),
      );
      const p = new Process({
        target: { throwsExported() {} }.throwsExported,
        module,
        permissions,
        isolation,
      });
      p.start();
      await finish(p);
      assert.equal(p.exitCode, 1);
      assert.equal(Object.getPrototypeOf(p.error), Error.prototype);
      assert.equal((p.error as Error).name, "UntrustedError");
      const g = globalThis as { loadedHere?: string[] };
      assert.equal(g.loadedHere, undefined, "its top level ran here");
    });
  }

  Deno.test(`Process with scoped permissions revives from a module the program imported (${isolation})`, async () => {
    const p = await run(withdraw, [3, 4], { permissions: "none", isolation });
    assert.ok(
      p.error instanceof InsufficientFunds,
      `got ${Deno.inspect(p.error)}`,
    );
    assertNothingRan();
  });
}

/** What the program prints when its classes come back as themselves, or
 * not. */
function expected(revived: boolean, tasks = false): string {
  const lines = [];
  for (const isolation of ISOLATIONS) {
    for (const permissions of ["inherit", "none"]) {
      lines.push(
        `${isolation} ${permissions}: pool ${revived}, process ${revived}, ` +
          "named InsufficientFunds InsufficientFunds",
      );
    }
  }
  if (tasks) lines.push("tasks module: pool true, process true");
  return [...lines, "top level ran 1", ""].join("\n");
}

Deno.test("A program's own error class comes back as itself from a pool and a Process, with either permissions", async () => {
  const r = await runDeno(["run", "-A", MAIN.pathname], { timeout: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    expected(true),
  );
});

Deno.test("A program that awaits at its top level gets its own classes back as plain Errors with the name; those of a module it imports as themselves", async () => {
  const r = await runDeno(["run", "-A", MAIN.pathname, "tla"], {
    timeout: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    expected(false, true),
  );
});
