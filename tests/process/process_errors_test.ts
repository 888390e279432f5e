// Process on bad input: clear errors, never a hang. Also the uncaught-error
// report on stderr and the import.meta.main guard.
//
// Note: this file must not itself export anything; several tests rely on
// the target not being exported from it.
import assert from "node:assert/strict";
import {
  activeChildren,
  Process,
  type ProcessOptions,
} from "@parallel/multiprocessing";
import { noop } from "../fixtures/targets.ts";
import { finish, fixture, ISOLATIONS, runDeno } from "../fixtures/harness.ts";

const module = fixture("targets.ts");
const PERMISSIONS = ["inherit", "none"] as const;
/** Every kind of worker: the isolations, each with the program's
 * permissions and with none. */
const KINDS = ISOLATIONS.flatMap((isolation) =>
  PERMISSIONS.map((permissions) => ({ isolation, permissions }))
);
/** A test name's tag for a kind of worker. */
const tagOf = (k: { isolation: string; permissions: string }) =>
  `(isolation "${k.isolation}", permissions "${k.permissions}")`;

/** Constructs a Process from options the types would refuse. */
function make(options: unknown): Process {
  return new Process(options as ProcessOptions);
}

/** Not exported from anywhere. */
function notExportedAnywhere(): void {}

// ---- target not exported ---------------------------------------------------

Deno.test("Process.start() throws a TypeError when the target is not exported from the calling module", () => {
  // No "module": it defaults to this test file, which exports nothing.
  const p = new Process({ target: notExportedAnywhere });
  assert.throws(() => p.start(), (err: unknown) => {
    assert.ok(err instanceof TypeError, String(err));
    assert.match(err.message, /"notExportedAnywhere"/);
    assert.ok(err.message.includes(import.meta.url), err.message);
    assert.match(err.message, /export/);
    assert.match(err.message, /"module"/);
    return true;
  });
  assert.equal(p.isAlive(), false);
  assert.equal(p.pid, undefined);
  assert.ok(!activeChildren().includes(p));
});

Deno.test("Process.start() throws a TypeError when an imported target is not exported from the calling module", () => {
  // noop lives in targets.ts, but without "module" the worker would import
  // this test file, which does not export it.
  const p = new Process({ target: noop });
  assert.throws(() => p.start(), (err: unknown) => {
    assert.ok(err instanceof TypeError, String(err));
    assert.match(err.message, /"noop"/);
    assert.ok(err.message.includes(import.meta.url), err.message);
    return true;
  });
  assert.equal(p.isAlive(), false);
});

Deno.test('Process.start() throws a TypeError when "module" does not export the target', () => {
  const p = new Process({ target: notExportedAnywhere, module });
  assert.throws(() => p.start(), (err: unknown) => {
    assert.ok(err instanceof TypeError, String(err));
    assert.match(err.message, /"notExportedAnywhere"/);
    assert.ok(err.message.includes(module.href), err.message);
    return true;
  });
  assert.equal(p.isAlive(), false);
});

for (const { isolation, permissions } of KINDS) {
  Deno.test(
    `Process.error is a TypeError when the worker cannot find the target ${
      tagOf({ isolation, permissions })
    }`,
    async () => {
      // star.ts re-exports another module wholesale, so its source cannot show
      // whether it exports noop (it does not): the worker finds out.
      const star = fixture("star.ts");
      const p = new Process({
        target: noop,
        module: star,
        permissions,
        isolation,
      });
      p.start();
      await finish(p);
      assert.equal(p.exitCode, 1);
      const err = p.error;
      assert.ok(err instanceof TypeError, String(err));
      assert.match(err.message, /"noop"/);
      assert.ok(err.message.includes(star.href), err.message);
    },
  );
}

// ---- anonymous and non-function targets ------------------------------------

Deno.test("Process.start() throws a TypeError for an anonymous function", () => {
  // An array element gets no name (an object property would name it).
  const anonymous = [() => {}][0]!;
  assert.equal(anonymous.name, "");
  assert.throws(
    () => new Process({ target: anonymous, module }).start(),
    (err: unknown) => {
      assert.ok(err instanceof TypeError, String(err));
      assert.match(err.message, /anonymous/);
      return true;
    },
  );
});

Deno.test("Process.start() throws a TypeError for a bound function", () => {
  assert.throws(
    () => new Process({ target: noop.bind(null), module }).start(),
    TypeError,
  );
});

Deno.test("new Process() throws a TypeError when the target is not a function", () => {
  for (const target of [42, "noop", undefined, null, {}]) {
    assert.throws(() => make({ target, module }), (err: unknown) => {
      assert.ok(err instanceof TypeError, `${target}: ${err}`);
      assert.match(err.message, /target/);
      return true;
    });
  }
});

Deno.test("new Process() throws a TypeError when the options are not an object", () => {
  for (const options of [undefined, null, 42, "noop"]) {
    assert.throws(() => make(options), TypeError);
  }
});

// ---- other options ---------------------------------------------------------

Deno.test('new Process() throws a TypeError when "args" is not an array', () => {
  for (const args of ["abc", 42, { 0: 1, length: 1 }, new Set([1])]) {
    assert.throws(
      () => make({ target: noop, module, args }),
      (err: unknown) => {
        assert.ok(err instanceof TypeError, `${args}: ${err}`);
        assert.match(err.message, /"args"/);
        return true;
      },
    );
  }
});

Deno.test('new Process() throws a TypeError for a bad "permissions" value', () => {
  for (const permissions of ["all", "", 5, true, null, ["read"]]) {
    assert.throws(
      () => make({ target: noop, module, permissions }),
      (err: unknown) => {
        assert.ok(err instanceof TypeError, `${permissions}: ${err}`);
        assert.match(err.message, /permissions/);
        return true;
      },
    );
  }
});

Deno.test('new Process() throws a RangeError for a non-positive "resourceLimits" value', () => {
  for (
    const resourceLimits of [
      { maxOldGenerationSizeMb: 0 },
      { maxOldGenerationSizeMb: -64 },
      { maxYoungGenerationSizeMb: Number.NaN },
      { stackSizeMb: -1 },
    ]
  ) {
    assert.throws(
      () => make({ target: noop, module, resourceLimits }),
      (err: unknown) => {
        assert.ok(err instanceof RangeError, `${err}`);
        assert.ok(
          err.message.includes(Object.keys(resourceLimits)[0]!),
          err.message,
        );
        return true;
      },
    );
  }
});

Deno.test('new Process() throws a TypeError for "resourceLimits" with scoped "permissions" (isolation "thread")', () => {
  for (const permissions of ["none", { read: true }] as const) {
    assert.throws(
      () =>
        new Process({
          target: noop,
          module,
          permissions,
          resourceLimits: { maxOldGenerationSizeMb: 64 },
        }),
      (err: unknown) => {
        assert.ok(err instanceof TypeError, String(err));
        assert.match(err.message, /resourceLimits/);
        assert.match(err.message, /permissions/);
        return true;
      },
    );
  }
});

Deno.test('new Process() takes "resourceLimits" with scoped "permissions" (isolation "process": both are flags of the child)', async () => {
  const p = new Process({
    target: noop,
    module,
    permissions: "none",
    resourceLimits: { maxOldGenerationSizeMb: 64 },
    isolation: "process",
  });
  p.start();
  await finish(p);
  assert.equal(p.exitCode, 0);
});

Deno.test('new Process() throws a TypeError for a bad "name", "daemon" or "module"', () => {
  assert.throws(() => make({ target: noop, module, name: 1 }), TypeError);
  assert.throws(() => make({ target: noop, module, daemon: "yes" }), TypeError);
  assert.throws(() => make({ target: noop, module: 42 }), TypeError);
  assert.throws(() => make({ target: noop, module: "not a url" }), TypeError);
});

// ---- arguments structured clone cannot carry --------------------------------

for (const isolation of ISOLATIONS) {
  Deno.test(`Process.start() throws a DataCloneError naming the argument that cannot be sent (isolation "${isolation}")`, () => {
    const p = new Process({
      target: noop as (...a: unknown[]) => void,
      module,
      isolation,
      args: [{ handler() {} }],
    });
    assert.throws(() => p.start(), (err: unknown) => {
      assert.equal((err as Error).name, "DataCloneError");
      assert.match((err as Error).message, /args\[0\]\.handler/);
      return true;
    });
    // Nothing started.
    assert.equal(p.isAlive(), false);
    assert.equal(p.pid, undefined);
    assert.ok(!activeChildren().includes(p));
  });
}

for (const isolation of ISOLATIONS) {
  Deno.test(`Process.start() throws a DataCloneError naming a symbol argument (isolation "${isolation}")`, () => {
    const p = new Process({
      target: noop as (...a: unknown[]) => void,
      module,
      isolation,
      args: [1, { list: [2, Symbol("s")] }],
    });
    assert.throws(() => p.start(), (err: unknown) => {
      assert.equal((err as Error).name, "DataCloneError");
      assert.match((err as Error).message, /args\[1\]\.list\[1\]/);
      return true;
    });
    assert.equal(p.isAlive(), false);
  });
}

// ---- the import.meta.main guard --------------------------------------------

/** Same name as the export of unguarded.ts; the worker looks it up there. */
function unguardedTarget(): void {}

for (const { isolation, permissions } of KINDS) {
  Deno.test(
    `Process.error explains the import.meta.main guard when the target module starts a process unguarded ${
      tagOf({ isolation, permissions })
    }`,
    async () => {
      // unguarded.ts starts a process at its top level; its worker imports it
      // again, where that start must fail instead of spawning recursively.
      const p = new Process({
        target: unguardedTarget,
        module: fixture("unguarded.ts"),
        permissions,
        isolation,
      });
      p.start();
      await finish(p);
      assert.equal(p.exitCode, 1);
      const err = p.error;
      assert.ok(err instanceof Error, String(err));
      assert.match(err.message, /import\.meta\.main/);
    },
  );
}

for (const isolation of ISOLATIONS) {
  Deno.test(`Process.start() refuses to spawn recursively from an unguarded program (isolation "${isolation}")`, async () => {
    const r = await runDeno([
      "run",
      isolation === "process" ? "-A" : "-R",
      "tests/fixtures/unguarded.ts",
      isolation,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^exitCode=1$/m);
    assert.match(r.stdout, /^alive=false$/m);
    assert.match(r.stdout, /^errorName=Error$/m);
    assert.match(r.stdout, /^errorMessage=.*import\.meta\.main/m);
    assert.doesNotMatch(r.stdout, /target ran/);
    // One report: the program's own process; no nested ones.
    assert.equal(r.stderr.match(/^Process /gm)?.length, 1, r.stderr);
    assert.match(r.stderr, /^Process Process-1:$/m);
  });
}

// ---- what an uncaught error prints, and where output goes -------------------

for (const { isolation, permissions } of KINDS) {
  /** How output.ts runs: an OS process needs the program to run deno. */
  const output = [
    "run",
    isolation === "process" ? "-A" : "-R",
    "tests/fixtures/output.ts",
    permissions,
    isolation,
  ];

  Deno.test(
    `Process.start() prints an uncaught error to stderr as "Process <name>:" and the remote stack ${
      tagOf({ isolation, permissions })
    }`,
    async () => {
      const r = await runDeno(output);
      assert.equal(r.code, 0, r.stderr);
      // The default name counts from 1; the report is the header, then the
      // error with its remote frames.
      assert.match(
        r.stderr,
        /^Process Process-1:\nRangeError: first failure\n\s+at throwRange \(.*\/tests\/fixtures\/targets\.ts:\d+:\d+\)/m,
      );
      assert.match(
        r.stderr,
        /^Process custom-name:\nRangeError: second failure/m,
      );
      assert.doesNotMatch(r.stdout, /Process Process-1:|first failure/);
      assert.match(r.stdout, /^Process-1 exitCode=1$/m);
      assert.match(r.stdout, /^custom-name exitCode=1$/m);
    },
  );

  Deno.test(
    `Process.start() sends the target's output to the program's stdout and stderr ${
      tagOf({ isolation, permissions })
    }`,
    async () => {
      const r = await runDeno(output);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^child says hi\n/m);
      assert.match(r.stderr, /^err:child says hi$/m);
      assert.doesNotMatch(r.stdout, /err:child says hi/);
      // The print happened before its process was reported ended.
      assert.ok(
        r.stdout.indexOf("child says hi") <
          r.stdout.indexOf("Process-2 exitCode=0"),
        r.stdout,
      );
    },
  );
}
