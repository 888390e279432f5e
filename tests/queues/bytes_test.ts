// Connection.sendBytes() and recvBytes(), Python's send_bytes/recv_bytes:
// what is sent for each kind of data, offset and size, maxLength (a message
// too long is dropped whole and the connection goes on), mixing bytes with
// send()/recv(), and bytes to and from a process.
import assert from "node:assert/strict";
import { type Connection, Pipe, Process } from "@parallel/multiprocessing";
import { reverseBytes } from "../fixtures/parity_targets.ts";
import { finish, fixture, within } from "../fixtures/harness.ts";

const module = fixture("parity_targets.ts");

/** Runs `fn` on a fresh duplex pipe, closing both ends after. */
async function withPipe(
  fn: (left: Connection, right: Connection) => Promise<void>,
): Promise<void> {
  const [left, right] = Pipe();
  try {
    await fn(left, right);
  } finally {
    left.close();
    right.close();
  }
}

/** The next message on `conn` as bytes, bounded. */
function next(conn: Connection, maxLength?: number): Promise<Uint8Array> {
  return within(conn.recvBytes(maxLength), 5_000, "recvBytes()");
}

Deno.test("Connection.sendBytes() sends the bytes of a Uint8Array, an ArrayBuffer, a SharedArrayBuffer, any typed array or DataView", async () => {
  await withPipe(async (left, right) => {
    const u8 = new Uint8Array([1, 2, 3]);
    await left.sendBytes(u8);
    assert.deepEqual(await next(right), new Uint8Array([1, 2, 3]));
    await left.sendBytes(u8.buffer);
    assert.deepEqual(await next(right), new Uint8Array([1, 2, 3]));
    const shared = new Uint8Array(new SharedArrayBuffer(2));
    shared.set([9, 8]);
    await left.sendBytes(shared.buffer);
    await left.sendBytes(shared);
    assert.deepEqual(await next(right), new Uint8Array([9, 8]));
    assert.deepEqual(await next(right), new Uint8Array([9, 8]));
    // Only the view's own bytes, in the platform's byte order.
    const words = new Uint16Array([0x0102, 0x0304, 0x0506]).subarray(1, 2);
    await left.sendBytes(words);
    const expected = new Uint8Array(words.buffer, words.byteOffset, 2);
    assert.deepEqual(await next(right), new Uint8Array(expected));
    const view = new DataView(new Uint8Array([5, 6, 7, 8]).buffer, 1, 2);
    await left.sendBytes(view);
    assert.deepEqual(await next(right), new Uint8Array([6, 7]));
    await left.sendBytes(new Uint8Array(0));
    assert.deepEqual(await next(right), new Uint8Array(0));
  });
});

Deno.test("Connection.sendBytes() copies when called: a later change to the data is not sent", async () => {
  await withPipe(async (left, right) => {
    const data = new Uint8Array([1, 2, 3]);
    const sent = left.sendBytes(data);
    data[0] = 99;
    await sent;
    const got = await next(right);
    assert.deepEqual(got, new Uint8Array([1, 2, 3]));
    assert.ok(
      got.buffer instanceof ArrayBuffer,
      "the bytes are the receiver's own",
    );
    assert.equal(got.byteLength, got.buffer.byteLength, "no extra bytes");
  });
});

Deno.test("Connection.sendBytes() takes offset and size in bytes, as Python's send_bytes", async () => {
  await withPipe(async (left, right) => {
    const data = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
    const cases: [number | undefined, number | undefined, number[]][] = [
      [2, undefined, [2, 3, 4, 5, 6, 7]],
      [1, 3, [1, 2, 3]],
      [0, 0, []],
      [8, undefined, []],
      [8, 0, []],
      [undefined, 2, [0, 1]],
      [0, 8, [0, 1, 2, 3, 4, 5, 6, 7]],
    ];
    for (const [offset, size, want] of cases) {
      await left.sendBytes(data, offset, size);
      assert.deepEqual(
        await next(right),
        new Uint8Array(want),
        `offset ${offset}, size ${size}`,
      );
    }
    // Offsets count bytes, also in a wider view.
    await left.sendBytes(new Uint32Array([0x01020304, 0]), 4, 4);
    assert.deepEqual(await next(right), new Uint8Array(4));
  });
});

Deno.test("Connection.sendBytes() rejects an offset or size outside the data with a RangeError, and wrong types with a TypeError, sending nothing", async () => {
  await withPipe(async (left, right) => {
    const data = new Uint8Array(4);
    const bad: [unknown, unknown, unknown, typeof TypeError, RegExp][] = [
      [
        data,
        -1,
        undefined,
        RangeError,
        /"offset": it must be an integer from 0 to 4, received -1/,
      ],
      [data, 5, undefined, RangeError, /"offset".*received 5/],
      [data, 1.5, undefined, RangeError, /"offset"/],
      [data, NaN, undefined, RangeError, /"offset"/],
      [data, "1", undefined, TypeError, /"offset"/],
      [
        data,
        0,
        -1,
        RangeError,
        /"size": it must be an integer from 0 to 4, received -1/,
      ],
      [
        data,
        1,
        4,
        RangeError,
        /"size": it must be an integer from 0 to 3, received 4/,
      ],
      [data, 0, 2.5, RangeError, /"size"/],
      [data, 0, Infinity, RangeError, /"size"/],
      [data, 0, 1n, TypeError, /"size"/],
      [
        "abcd",
        undefined,
        undefined,
        TypeError,
        /sendBytes\(\) data: it must be bytes/,
      ],
      [[1, 2], undefined, undefined, TypeError, /must be bytes/],
      [null, undefined, undefined, TypeError, /must be bytes/],
    ];
    for (const [d, offset, size, cls, says] of bad) {
      await assert.rejects(
        // deno-lint-ignore no-explicit-any
        left.sendBytes(d as any, offset as any, size as any),
        (e: Error) => e instanceof cls && says.test(e.message),
        `sendBytes(${Deno.inspect(d)}, ${offset}, ${size})`,
      );
    }
    assert.equal(await right.poll(0), false, "nothing was sent");
    await left.sendBytes(data, 0, 1);
    assert.deepEqual(await next(right), new Uint8Array(1));
  });
});

Deno.test("Connection.recvBytes(maxLength) rejects a longer message with a RangeError naming both lengths; the message is dropped whole and the next one comes", async () => {
  await withPipe(async (left, right) => {
    await left.sendBytes(new Uint8Array(10).fill(7));
    await left.sendBytes(new Uint8Array([1, 2, 3]));
    await left.sendBytes(new Uint8Array(4));
    await left.sendBytes(new Uint8Array(0));
    await assert.rejects(
      next(right, 9),
      (e: Error) =>
        e instanceof RangeError &&
        /a message of 10 bytes: it is longer than maxLength 9/.test(e.message),
    );
    // The 10 bytes are gone, not left in part: the next message is whole.
    assert.deepEqual(await next(right, 3), new Uint8Array([1, 2, 3]));
    assert.deepEqual(
      await next(right, 4),
      new Uint8Array(4),
      "exactly maxLength",
    );
    assert.deepEqual(await next(right, 0), new Uint8Array(0));
    // Both directions still work.
    await right.sendBytes(new Uint8Array([5]));
    assert.deepEqual(await next(left, 1), new Uint8Array([5]));
    // A bad maxLength is refused before anything is taken.
    await left.sendBytes(new Uint8Array([6]));
    for (
      const [max, cls] of [
        [-1, RangeError],
        [1.5, RangeError],
        [NaN, RangeError],
        ["5", TypeError],
        [null, TypeError],
      ] as const
    ) {
      await assert.rejects(
        // deno-lint-ignore no-explicit-any
        right.recvBytes(max as any),
        (e: Error) =>
          e instanceof cls &&
          /"maxLength": it must be an integer of 0 or more/.test(e.message),
        `maxLength ${max}`,
      );
    }
    assert.deepEqual(await next(right), new Uint8Array([6]));
  });
});

Deno.test("Connection: recv() of bytes gives the Uint8Array; recvBytes() of a value sent with send() rejects with a TypeError and drops it", async () => {
  await withPipe(async (left, right) => {
    await left.sendBytes(new Uint8Array([1, 2]));
    assert.deepEqual(await within(right.recv(), 5_000), new Uint8Array([1, 2]));
    // A Uint8Array sent with send() is bytes too.
    await left.send(new Uint8Array([3]));
    assert.deepEqual(await next(right), new Uint8Array([3]));
    const values: [unknown, RegExp][] = [
      [
        { x: 1 },
        /the next message, of type Object, was sent with send\(\) and is not bytes; it was dropped/,
      ],
      ["text", /of type string/],
      [[1, 2], /of type Array/],
      [new Uint16Array(1), /of type Uint16Array/],
      [null, /of type null/],
    ];
    for (const [value, says] of values) {
      await left.send(value);
      await left.sendBytes(new Uint8Array([4]));
      await assert.rejects(
        next(right),
        (e: Error) => e instanceof TypeError && says.test(e.message),
        Deno.inspect(value),
      );
      assert.deepEqual(await next(right), new Uint8Array([4]), "the next one");
    }
  });
});

Deno.test("Connection.sendBytes() rejects bytes larger than the pipe with a RangeError, and on a closed or one-way end as send() does", async () => {
  const [reader, writer] = Pipe(false, { capacityBytes: 1024 });
  try {
    await assert.rejects(writer.sendBytes(new Uint8Array(2048)), RangeError);
    await assert.rejects(reader.sendBytes(new Uint8Array(1)), /receiving end/);
    await assert.rejects(writer.recvBytes(), /sending end/);
    await writer.sendBytes(new Uint8Array([1]));
    assert.deepEqual(await next(reader), new Uint8Array([1]));
  } finally {
    reader.close();
    writer.close();
  }
  await assert.rejects(writer.sendBytes(new Uint8Array(1)), /closed/);
  await assert.rejects(reader.recvBytes(), /closed/);
});

Deno.test("Connection bytes go to a process and back: it reverses each message", async () => {
  const [mine, theirs] = Pipe();
  const p = new Process({ target: reverseBytes, args: [theirs], module });
  try {
    p.start();
    const sizes = [1, 2, 100, 65_536];
    for (const n of sizes) {
      const data = Uint8Array.from({ length: n }, (_, i) => i % 251);
      await mine.sendBytes(data);
      // The first import type-checks the module: seconds on a busy machine.
      const back = await within(mine.recvBytes(n), 30_000, `${n} bytes back`);
      assert.deepEqual(back, data.reverse(), `${n} bytes`);
    }
    await mine.sendBytes(new Uint8Array(0));
    await finish(p, 30_000);
    assert.equal(p.exitCode, 0, String(p.error));
  } finally {
    if (p.isAlive()) p.terminate();
    mine.close();
  }
});
