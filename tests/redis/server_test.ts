// The test helper for Redis: startRedis(), redisUrl(), flushRedis(). The
// replies are read here by a separate, minimal RESP exchange, so the helper is
// not checked against itself.
import assert from "node:assert/strict";
import { within as withinMs } from "../fixtures/harness.ts";
import { flushRedis, redisUrl, startRedis } from "./_server.ts";

/** Rejects when `promise` does not settle within `ms`. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  return withinMs(promise, ms);
}

/** Sends one inline command to 127.0.0.1:`port`, returns its first line. */
async function command(port: number, line: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(`${line}\r\n`));
    const buffer = new Uint8Array(1024);
    let text = "";
    while (!text.includes("\r\n")) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    return text.split("\r\n")[0] ?? "";
  } finally {
    conn.close();
  }
}

Deno.test("startRedis() starts a server that answers PING and stop() ends it", async () => {
  const server = await within(10_000, startRedis());
  try {
    assert.equal(server.url, `redis://127.0.0.1:${server.port}`);
    assert.ok(server.pid > 0, `pid ${server.pid}`);
    assert.equal(await within(2_000, command(server.port, "PING")), "+PONG");
  } finally {
    await within(10_000, server.stop());
  }
  await within(2_000, server.stop()); // a second call is safe
  await assert.rejects(
    within(2_000, Deno.connect({ hostname: "127.0.0.1", port: server.port })),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("startRedis() listens on the given port and stops with await using", async () => {
  const port = (() => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    listener.close();
    return listener.addr.port;
  })();
  {
    await using server = await within(10_000, startRedis({ port }));
    assert.equal(server.port, port);
    assert.equal(await within(2_000, command(port, "PING")), "+PONG");
  }
  await assert.rejects(
    within(2_000, Deno.connect({ hostname: "127.0.0.1", port })),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("startRedis() rejects a port another server holds", async () => {
  await using other = await within(10_000, startRedis());
  await assert.rejects(
    within(10_000, startRedis({ port: other.port })),
    /Cannot start redis-server on port \d+/,
  );
  assert.equal(await within(2_000, command(other.port, "PING")), "+PONG");
});

Deno.test("flushRedis() deletes every key", async () => {
  await using server = await within(10_000, startRedis());
  const { port } = server;
  assert.equal(await within(2_000, command(port, "SET a 1")), "+OK");
  assert.equal(await within(2_000, command(port, "SET b 2")), "+OK");
  assert.equal(await within(2_000, command(port, "DBSIZE")), ":2");
  await within(2_000, flushRedis(server.url));
  assert.equal(await within(2_000, command(port, "DBSIZE")), ":0");
});

Deno.test("flushRedis() rejects a URL that is not redis://", async () => {
  await assert.rejects(
    flushRedis("http://127.0.0.1:6379"),
    TypeError,
  );
});

Deno.test("redisUrl() returns REDIS_URL when it is set, else starts a server", async () => {
  const saved = Deno.env.get("REDIS_URL");
  try {
    Deno.env.set("REDIS_URL", "redis://127.0.0.1:1");
    const given = await redisUrl();
    assert.equal(given.url, "redis://127.0.0.1:1");
    await given.stop(); // a no-op: the server is someone else's

    Deno.env.delete("REDIS_URL");
    const own = await within(10_000, redisUrl());
    try {
      const port = Number(new URL(own.url).port);
      assert.equal(await within(2_000, command(port, "PING")), "+PONG");
    } finally {
      await within(10_000, own.stop());
    }
  } finally {
    if (saved === undefined) Deno.env.delete("REDIS_URL");
    else Deno.env.set("REDIS_URL", saved);
  }
});
