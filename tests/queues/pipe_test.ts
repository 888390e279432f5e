// Behaviour of Pipe and Connection: ping-pong with a process, one-way
// pipes, poll, closing.
import assert from "node:assert/strict";
import { EOFError, Pipe, Process } from "@parallel/multiprocessing";
import { pong, sendThenClose } from "../fixtures/shared_targets.ts";
import { delay, finish, fixture, within } from "../fixtures/harness.ts";

const module = fixture("shared_targets.ts");

for (const permissions of ["inherit", "none"] as const) {
  Deno.test(`Connection.send() and recv() play ping-pong with a process (permissions "${permissions}")`, async () => {
    const [mine, theirs] = Pipe<number>();
    const p = new Process({
      target: pong,
      args: [theirs],
      module,
      permissions,
    });
    try {
      p.start();
      let n = 0;
      for (let i = 0; i < 1000; i++) {
        await mine.send(n);
        n = await within(mine.recv(), 10_000);
      }
      assert.equal(n, 1000);
      await mine.send(-1);
      await finish(p);
      assert.equal(p.exitCode, 0);
      // The process closed its end: what is left is the end of the pipe.
      await assert.rejects(mine.recv(), EOFError);
    } finally {
      if (p.isAlive()) p.terminate();
    }
  });
}

Deno.test("Connection.recv() gets everything a process sent before it closed its end, then EOFError", async () => {
  const [reader, writer] = Pipe<number>(false);
  const p = new Process({
    target: sendThenClose,
    args: [writer, 5000],
    module,
  });
  try {
    p.start();
    for (let i = 0; i < 5000; i++) assert.equal(await reader.recv(), i);
    await assert.rejects(
      within(reader.recv(), 10_000),
      (e: Error) => e instanceof EOFError && /other end/.test(e.message),
    );
    await finish(p);
  } finally {
    if (p.isAlive()) p.terminate();
  }
});

Deno.test("Pipe(false) returns [receiver, sender]; the wrong direction throws", async () => {
  const [reader, writer] = Pipe<string>(false);
  assert.equal(reader.readable, true);
  assert.equal(reader.writable, false);
  assert.equal(writer.readable, false);
  assert.equal(writer.writable, true);
  await assert.rejects(reader.send("x"), /receiving end of a one-way pipe/);
  await assert.rejects(writer.recv(), /sending end of a one-way pipe/);
  await assert.rejects(writer.poll(), /sending end/);
  await writer.send("ok");
  assert.equal(await reader.recv(), "ok");
});

Deno.test("Connection.poll() answers at once by default, and waits up to its timeout", async () => {
  const [a, b] = Pipe<number>();
  assert.equal(await a.poll(), false);
  const t0 = performance.now();
  assert.equal(await within(a.poll(50), 5_000), false);
  assert.ok(performance.now() - t0 >= 45);
  // Deliberate: the send must come while poll() waits.
  const sending = delay(20).then(() => b.send(1));
  assert.equal(await within(a.poll(5_000), 5_000), true);
  await sending;
  assert.equal(await a.recv(), 1);
  b.close();
  assert.equal(await a.poll(), true, "the end of the pipe is readable");
});

Deno.test("Connection.close() ends this end: its own calls throw, the peer gets EOFError and BrokenPipe", async () => {
  const [a, b] = Pipe<number>();
  await a.send(7);
  a.close();
  a.close();
  assert.equal(a.closed, true);
  await assert.rejects(a.send(1), /connection is closed/);
  await assert.rejects(a.recv(), /connection is closed/);
  assert.equal(await b.recv(), 7);
  await assert.rejects(b.recv(), EOFError);
  await assert.rejects(b.send(1), Deno.errors.BrokenPipe);
});

Deno.test("Connection.close() wakes a waiting recv() with EOFError", async () => {
  const [a, b] = Pipe<number>();
  const waiting = b.recv();
  // Deliberate: the close must come while recv() waits.
  const closing = delay(20).then(() => a.close());
  await assert.rejects(within(waiting, 5_000), EOFError);
  await closing;
});

Deno.test("Connection.send() waits while capacityBytes are used up", async () => {
  const [a, b] = Pipe<string>(true, { capacityBytes: 128 });
  const big = "q".repeat(100);
  await a.send(big);
  let sent = false;
  const second = a.send(big).then(() => sent = true);
  // Deliberate: a while later, the second send still waits for room.
  await delay(20);
  assert.equal(sent, false);
  assert.equal(await b.recv(), big);
  await within(second, 5_000);
  assert.equal(await b.recv(), big);
  await assert.rejects(a.send("q".repeat(200)), RangeError);
});

Deno.test("Connection.close() rejects this end's own waiting recv() and send()", async () => {
  const [a, b] = Pipe<string>(true, { capacityBytes: 64 });
  const receiving = a.recv();
  await a.send("x".repeat(40));
  const sending = a.send("x".repeat(40));
  // Deliberate: the close must come while recv() and send() wait.
  const closing = delay(20).then(() => a.close());
  await assert.rejects(within(receiving, 5_000), /connection is closed/);
  await assert.rejects(within(sending, 5_000), /connection is closed/);
  await closing;
  assert.equal(await b.recv(), "x".repeat(40));
  await assert.rejects(b.recv(), EOFError);
});
