// A task's error comes back as its own class when the target's module
// exports that class, as Python unpickles an exception by reference; built
// without running the class's code on the main side, and with a plain
// `Error` (keeping the name) when the class is not exported or the worker
// names something else. Also the codec on its own, against hostile input.
import assert from "node:assert/strict";
import { Pool } from "@parallel/multiprocessing";
import {
  audit,
  Audited,
  batch,
  forge,
  InsufficientFunds,
  LedgerError,
  ManyFailures,
  ran,
  RenamedError,
  spend,
  throwHidden,
  throwRenamed,
  throwShifty,
  transfer,
  withdraw,
  withdrawLater,
} from "../fixtures/error_classes.ts";
import { fixture, openPool, rejectionOf, until } from "../fixtures/harness.ts";
import { decodeError, encodeError } from "../../lib/_shared/error_codec.ts";
import { errorClasses, watchModule } from "../../lib/_engine/error_classes.ts";

const MODULE = fixture("error_classes.ts");
/** Every test of a pool runs on threads and on child processes. */
const ISOLATIONS = ["thread", "process"] as const;
const PERMISSIONS = ["inherit", "none"] as const;
/** A module no test imports: it records each run of its top level here. */
const UNTRUSTED = fixture("error_classes_unloaded.ts");

/** The main side's counts, which no revival may move. */
function assertNothingRan(): void {
  assert.deepEqual(ran, { constructed: 0, called: 0, trapped: 0, set: 0 });
}

/** Asserts that `err` fell back to a plain Error. */
function assertPlain(err: unknown, what = ""): asserts err is Error {
  assert.ok(err instanceof Error, `${what} got ${Deno.inspect(err)}`);
  assert.equal(Object.getPrototypeOf(err), Error.prototype, what);
}

function classesPool(options: Parameters<typeof openPool>[0] = {}): Pool {
  return openPool({ module: MODULE, processes: 1, ...options });
}

/** The URLs under which the unloaded fixture's top level ran here. */
function loadedHere(): string[] {
  return (globalThis as { loadedHere?: string[] }).loadedHere ?? [];
}

/** A function with the name of the unloaded fixture's export: the main
 * program has no other way to it. */
const { throwsExported, succeeds } = {
  throwsExported() {},
  succeeds() {},
};

for (const isolation of ISOLATIONS) {
  // ---- revived as the class ----------------------------------------------------

  Deno.test(`Pool.apply() rejects with an instance of the class the target's module exports (${isolation})`, async () => {
    await using pool = classesPool({ isolation });
    const err = await rejectionOf(pool.apply(withdraw, [10, 25]));
    assert.ok(err instanceof InsufficientFunds, `got ${Deno.inspect(err)}`);
    assert.ok(err instanceof Error);
    assert.equal(Object.getPrototypeOf(err), InsufficientFunds.prototype);
    assert.equal(err.constructor, InsufficientFunds);
    assert.equal(err.name, "InsufficientFunds");
    assert.equal(err.message, "balance 10 is short of 25");
    assert.equal(err.balance, 10, "own property kept");
    assert.equal(err.shortBy(25), 15, "the class's methods work");
    assert.ok(
      err.cause instanceof RangeError,
      `cause ${Deno.inspect(err.cause)}`,
    );
    assert.equal(err.cause.message, "over the limit");
    assert.match(err.stack ?? "", /error_classes\.ts/);
    assert.match(err.stack ?? "", /withdraw/);
    // A native error: it prints with its stack and clones as an error.
    assert.ok(Error.isError(err));
    assert.equal(Object.prototype.toString.call(err), "[object Error]");
    assert.match(Deno.inspect(err), /InsufficientFunds: balance 10/);
    assertNothingRan();
  });

  Deno.test(`Pool.apply() keeps the shape of the original: own enumerable name and fields, hidden message, stack and cause (${isolation})`, async () => {
    await using pool = classesPool({ isolation });
    const err = await rejectionOf(pool.apply(withdraw, [1, 2]));
    assert.ok(err instanceof InsufficientFunds);
    assert.deepEqual(Object.keys(err), ["name", "balance"]);
    for (const key of ["message", "stack", "cause"]) {
      const d = Object.getOwnPropertyDescriptor(err, key);
      assert.ok(d !== undefined, `own ${key}`);
      assert.equal(d.enumerable, false, key);
    }
    assertNothingRan();
  });

  Deno.test(`Pool.map() rejects with the class, from a sync or an async target (${isolation})`, async () => {
    await using pool = classesPool({ processes: 2, isolation });
    const sync = await rejectionOf(
      pool.starmap(withdraw, [[5, 1], [5, 2], [5, 9], [5, 3]]),
    );
    assert.ok(sync instanceof InsufficientFunds, `got ${Deno.inspect(sync)}`);
    assert.equal(sync.balance, 5);
    const later = await rejectionOf(pool.starmap(withdrawLater, [[3, 4]]));
    assert.ok(later instanceof InsufficientFunds, `got ${Deno.inspect(later)}`);
    assert.deepEqual(await pool.starmap(withdraw, [[5, 1], [6, 2]]), [4, 4]);
    assertNothingRan();
  });

  Deno.test(`Pool.imap() and AsyncResult reject with the class too (${isolation})`, async () => {
    await using pool = classesPool({ isolation });
    const seen: number[] = [];
    const err = await rejectionOf((async () => {
      for await (const left of pool.imap(spend, [1, 2, 50, 3])) seen.push(left);
    })());
    assert.ok(err instanceof InsufficientFunds, `got ${Deno.inspect(err)}`);
    assert.deepEqual(seen, [9, 8]);
    let caught: unknown;
    const r = pool.applyAsync(withdraw, [0, 1], {
      errorCallback: (e) => caught = e,
    });
    const got = await rejectionOf(r.get(10_000));
    assert.ok(got instanceof InsufficientFunds, `got ${Deno.inspect(got)}`);
    assert.equal(caught, got);
    assertNothingRan();
  });

  Deno.test(`Pool.apply() revives a cause, and the errors of an AggregateError subclass, as their classes (${isolation})`, async () => {
    await using pool = classesPool({ isolation });
    const err = await rejectionOf(pool.apply(transfer));
    assert.ok(err instanceof LedgerError, `got ${Deno.inspect(err)}`);
    assert.equal(err.name, "LedgerError", "inherited from the prototype");
    assert.equal(Object.hasOwn(err, "name"), false);
    assert.ok(err.cause instanceof InsufficientFunds, "cause revived");
    assert.ok(err.cause.cause instanceof RangeError);

    const many = await rejectionOf(pool.apply(batch));
    assert.ok(many instanceof ManyFailures, `got ${Deno.inspect(many)}`);
    assert.ok(many instanceof AggregateError);
    assert.equal(many.message, "2 of 2 failed");
    assert.equal(many.errors.length, 2);
    assert.ok(many.errors[0] instanceof InsufficientFunds);
    assert.ok(many.errors[1] instanceof TypeError);
    assertNothingRan();
  });

  Deno.test(`Pool.apply() revives a class by its export name, and never calls a setter of its prototype (${isolation})`, async () => {
    await using pool = classesPool({ isolation });
    const renamed = await rejectionOf(pool.apply(throwRenamed));
    assert.ok(renamed instanceof RenamedError, `got ${Deno.inspect(renamed)}`);
    assert.equal(renamed.message, "renamed");

    const audited = await rejectionOf(pool.apply(audit));
    assert.ok(audited instanceof Audited, `got ${Deno.inspect(audited)}`);
    assert.ok(Object.hasOwn(audited, "code"), "own property defined");
    assert.equal((audited as Error & { code: string }).code, "E_AUDIT");
    assertNothingRan();
  });

  // ---- falls back to an Error with the name ----------------------------------

  Deno.test(`Pool.apply() rejects with an Error named as the class when the class is not exported (${isolation})`, async () => {
    await using pool = classesPool({ isolation });
    const err = await rejectionOf(pool.apply(throwHidden));
    assertPlain(err);
    assert.equal(err.name, "Hidden");
    assert.equal(err.message, "hidden failure");
    assert.equal((err as Error & { code: string }).code, "E_HIDDEN");
    assertNothingRan();
  });

  Deno.test(`Pool.apply() falls back when the export of that name is no Error class on the main side, without calling it (${isolation})`, async () => {
    await using pool = classesPool({ isolation });
    const err = await rejectionOf(pool.apply(throwShifty));
    assertPlain(err);
    assert.equal(err.message, "shifty");
    assertNothingRan();
  });

  Deno.test(`Pool.apply() from a worker that names a non-error export, a proxied class or no export runs nothing here (${isolation})`, async (t) => {
    for (const name of ["notAnError", "Trapped", "ran", "nope", "__proto__"]) {
      await t.step(name, async () => {
        await using pool = classesPool({ isolation });
        const err = await rejectionOf(pool.apply(forge, [{ name }]));
        assertPlain(err, name);
        assert.equal(err.message, "forged");
        assertNothingRan();
      });
    }
    await t.step(
      "an exported Error class: the forgery is what the worker could throw anyway",
      async () => {
        await using pool = classesPool({ isolation });
        const err = await rejectionOf(
          pool.apply(forge, [{ name: "InsufficientFunds" }]),
        );
        assert.ok(
          err instanceof InsufficientFunds,
          "the forgery reached the main side",
        );
        assert.equal(err.message, "forged");
        assertNothingRan();
      },
    );
  });

  Deno.test(`Pool.apply() from a worker that sends a deep or cyclic error gets a bounded error, and the pool goes on (${isolation})`, async () => {
    await using pool = classesPool({ isolation });
    const deep = await rejectionOf(pool.apply(forge, [{ depth: 5000 }]));
    let depth = 0;
    for (let e: unknown = deep; e instanceof Error; e = e.cause) depth++;
    assert.ok(depth <= 17, `cut at the limit: ${depth}`);
    await using pool2 = classesPool({ isolation });
    const cyclic = await rejectionOf(pool2.apply(forge, [{ cycle: true }]));
    assert.ok(cyclic instanceof Error);
    assert.equal(cyclic.cause, cyclic, "the cycle is kept, not unrolled");
    assert.equal(await pool.apply(withdraw, [3, 1]), 2);
  });

  for (const permissions of PERMISSIONS) {
    Deno.test(`Pool never imports a module the program has not loaded, with permissions ${JSON.stringify(permissions)}: the error stays plain (${isolation})`, async () => {
      const module = new URL(`?pool-${permissions}-${isolation}`, UNTRUSTED);
      await using pool = new Pool({
        module,
        processes: 1,
        permissions,
        isolation,
      });
      assert.equal(await pool.apply(succeeds), "ok");
      const err = await rejectionOf(pool.apply(throwsExported));
      assertPlain(err, "falls back");
      assert.equal(err.name, "UntrustedError");
      assert.deepEqual(
        loadedHere(),
        [],
        "its top level ran in the main isolate",
      );
    });
  }

  Deno.test(`Pool with scoped permissions revives from a module the program imported (${isolation})`, async () => {
    await using pool = classesPool({ permissions: "none", isolation });
    const err = await rejectionOf(pool.apply(withdraw, [1, 4]));
    assert.ok(err instanceof InsufficientFunds, `got ${Deno.inspect(err)}`);
    assertNothingRan();
  });
}

// ---- the codec on its own ----------------------------------------------------

async function loadedClasses() {
  watchModule(MODULE.href, "withdraw");
  const classes = errorClasses(MODULE.href);
  await until(() => classes.prototypeOf("InsufficientFunds") !== undefined, {
    what: "the namespace of the fixture",
  });
  return classes;
}

Deno.test("decodeError() revives an exported class only from the module of the task", async () => {
  const classes = await loadedClasses();
  const wire = {
    $error: true,
    name: "InsufficientFunds",
    message: "m",
    ctor: "InsufficientFunds",
    exported: [{ module: MODULE.href, name: "InsufficientFunds" }],
  };
  assert.ok(decodeError(wire, classes) instanceof InsufficientFunds);
  assert.equal(
    Object.getPrototypeOf(decodeError(wire)),
    Error.prototype,
    "no classes given",
  );
  const other = {
    ...wire,
    exported: [{ module: "file:///x.ts", name: "InsufficientFunds" }],
  };
  assert.equal(
    Object.getPrototypeOf(decodeError(other, classes)),
    Error.prototype,
  );
  for (
    const name of [
      "notAnError",
      "Trapped",
      "Shifty",
      "ran",
      "constructor",
      "toString",
    ]
  ) {
    const forged = { ...wire, exported: [{ module: MODULE.href, name }] };
    assert.equal(
      Object.getPrototypeOf(decodeError(forged, classes)),
      Error.prototype,
      name,
    );
  }
  assertNothingRan();
});

Deno.test("decodeError() never throws on malformed input and does linear work on shared parts", async () => {
  const classes = await loadedClasses();
  const bad: unknown[] = [
    { $error: true },
    { $error: true, name: 1, message: {}, ctor: "toString" },
    { $error: true, ctor: "constructor", exported: "x" },
    { $error: true, ctor: "__proto__", exported: [null, 1, { module: 2 }] },
    { $error: true, ctor: "Error", props: { __proto__: { x: 1 } } },
    { $error: true, ctor: "AggregateError", errors: 5 },
    { $error: true, ctor: "DOMException", name: "AbortError", message: "m" },
    { $thrown: 5 },
  ];
  for (const value of bad) {
    const got = decodeError(value, classes);
    if ("$error" in (value as object)) {
      assert.ok(got instanceof Error, Deno.inspect(value));
    }
  }
  const proto = decodeError(
    JSON.parse('{"$error":true,"ctor":"Error","props":{"__proto__":{"x":1}}}'),
  ) as Error;
  assert.equal(
    Object.getPrototypeOf(proto),
    Error.prototype,
    "prototype left alone",
  );

  let level: Record<string, unknown> = {
    $error: true,
    ctor: "Error",
    message: "leaf",
  };
  for (let i = 0; i < 22; i++) {
    level = {
      $error: true,
      ctor: "AggregateError",
      message: `${i}`,
      errors: [level, level],
    };
  }
  const t0 = performance.now();
  const wide = decodeError(level, classes) as AggregateError;
  assert.ok(performance.now() - t0 < 1000, "2^22 paths decoded once each");
  assert.equal(wide.errors[0], wide.errors[1], "shared parts stay shared");
  const sparse: unknown[] = [];
  sparse.length = 2 ** 32 - 1;
  const t1 = performance.now();
  decodeError({ $error: true, ctor: "AggregateError", errors: sparse });
  assert.ok(performance.now() - t1 < 1000, "a sparse errors array is cut");
  assertNothingRan();
});

Deno.test("encodeError() names no export for built-in errors, and a relay passes the task's export on", async () => {
  const classes = await loadedClasses();
  const wire = encodeError(new TypeError("t"));
  assert.equal("exported" in wire, false);
  // A Redis worker machine decodes with its own copy's URL, which the
  // coordinator does not know, and passes the export on for the task's.
  const fromWorker = {
    $error: true,
    name: "InsufficientFunds",
    message: "relayed",
    ctor: "InsufficientFunds",
    exported: [{
      module: "file:///elsewhere/tasks.ts",
      name: "InsufficientFunds",
    }],
  };
  const relayed = decodeError(
    fromWorker,
    errorClasses("file:///elsewhere/tasks.ts"),
  );
  assertPlain(relayed);
  const again = decodeError(encodeError(relayed), classes);
  assert.ok(again instanceof InsufficientFunds, `got ${Deno.inspect(again)}`);
  assert.equal((again as Error).message, "relayed");
  assertNothingRan();
});
