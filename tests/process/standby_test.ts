// The standby's bookkeeping (lib/_engine/standby.ts), with stand-in
// workers: what a start takes, when a kind refills and with how many, and
// the failure paths a real worker reaches only by chance: a waiting worker
// that ended by itself, and a worker that cannot start.
import assert from "node:assert/strict";
import {
  refillStandby,
  setStandby,
  STANDBY_MAX,
  standbyCount,
  takeStandby,
} from "../../lib/_engine/standby.ts";
import { until } from "../fixtures/harness.ts";

/** A stand-in worker. */
class Fake {
  ended = false;
  endCalls = 0;
  end(): void {
    this.ended = true;
    this.endCalls++;
  }
}

let kinds = 0;
/** A kind of its own for each test, and the workers it made. */
function kind(): { key: string; made: Fake[]; make: () => Fake } {
  const made: Fake[] = [];
  return {
    key: `test kind ${++kinds}`,
    made,
    make: () => {
      const f = new Fake();
      made.push(f);
      return f;
    },
  };
}

/** Ends every waiting worker: nothing outlives its test. */
function reset(): void {
  setStandby(false);
  setStandby(true);
}

Deno.test("a kind refills with as many as its largest burst, only once a worker taken ends", async () => {
  const k = kind();
  try {
    // A burst of three starts: none waits yet.
    for (let i = 0; i < 3; i++) {
      assert.equal(takeStandby(k.key, k.make), undefined);
    }
    // Deliberate: the refill must wait for an end, not for time.
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(k.made.length, 0);
    refillStandby(k.key);
    await until(() => k.made.length === 3, { what: "the refill" });
    assert.equal(standbyCount(), 3);
    // The next three starts take them, in order.
    for (let i = 0; i < 3; i++) {
      assert.equal(takeStandby(k.key, k.make), k.made[i]);
    }
    assert.equal(standbyCount(), 0);
  } finally {
    reset();
  }
});

Deno.test(`a kind never waits with more than STANDBY_MAX (${STANDBY_MAX})`, async () => {
  const k = kind();
  try {
    for (let i = 0; i < STANDBY_MAX + 3; i++) takeStandby(k.key, k.make);
    refillStandby(k.key);
    await until(() => k.made.length === STANDBY_MAX, { what: "the refill" });
    assert.equal(standbyCount(), STANDBY_MAX);
  } finally {
    reset();
  }
});

Deno.test("a waiting worker that ended by itself is never taken", async () => {
  const k = kind();
  try {
    takeStandby(k.key, k.make);
    takeStandby(k.key, k.make);
    refillStandby(k.key);
    await until(() => k.made.length === 2, { what: "the refill" });
    k.made[0]!.ended = true;
    assert.equal(standbyCount(), 1);
    assert.equal(takeStandby(k.key, k.make), k.made[1]);
    assert.equal(takeStandby(k.key, k.make), undefined);
  } finally {
    reset();
  }
});

Deno.test("a kind whose worker cannot start stops refilling; the next start is on demand", async () => {
  const k = kind();
  let tries = 0;
  const failing = () => {
    tries++;
    throw new Error("cannot start");
  };
  try {
    takeStandby(k.key, failing);
    refillStandby(k.key);
    await until(() => tries === 1, { what: "the refill to try" });
    assert.equal(standbyCount(), 0);
    assert.equal(takeStandby(k.key, k.make), undefined);
  } finally {
    reset();
  }
});

Deno.test('turning the standby off ("spawn") ends what waits and takes nothing', async () => {
  const k = kind();
  try {
    takeStandby(k.key, k.make);
    refillStandby(k.key);
    await until(() => k.made.length === 1, { what: "the refill" });
    setStandby(false);
    assert.equal(k.made[0]!.endCalls, 1);
    assert.equal(takeStandby(k.key, k.make), undefined);
    refillStandby(k.key);
    // Deliberate: nothing may refill while it is off.
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(k.made.length, 1);
  } finally {
    reset();
  }
});
