// The test helper for Redis: startRedis(), redisUrl(), flushRedis(). The
// replies are read here by a separate, minimal RESP exchange, so the helper is
// not checked against itself.
import assert from "node:assert/strict";
import { within } from "../fixtures/harness.ts";
import { flushRedis, redisUrl, startRedis } from "./_server.ts";

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
  const server = await within(startRedis(), 10_000);
  try {
    assert.equal(server.url, `redis://127.0.0.1:${server.port}`);
    assert.ok(server.pid > 0, `pid ${server.pid}`);
    assert.equal(await within(command(server.port, "PING"), 2_000), "+PONG");
  } finally {
    await within(server.stop(), 10_000);
  }
  await within(server.stop(), 2_000); // a second call is safe
  await assert.rejects(
    within(Deno.connect({ hostname: "127.0.0.1", port: server.port }), 2_000),
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
    await using server = await within(startRedis({ port }), 10_000);
    assert.equal(server.port, port);
    assert.equal(await within(command(port, "PING"), 2_000), "+PONG");
  }
  await assert.rejects(
    within(Deno.connect({ hostname: "127.0.0.1", port }), 2_000),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("startRedis() rejects a port another server holds", async () => {
  await using other = await within(startRedis(), 10_000);
  await assert.rejects(
    within(startRedis({ port: other.port }), 10_000),
    /Cannot start redis-server on port \d+/,
  );
  assert.equal(await within(command(other.port, "PING"), 2_000), "+PONG");
});

Deno.test("flushRedis() deletes every key", async () => {
  await using server = await within(startRedis(), 10_000);
  const { port } = server;
  assert.equal(await within(command(port, "SET a 1"), 2_000), "+OK");
  assert.equal(await within(command(port, "SET b 2"), 2_000), "+OK");
  assert.equal(await within(command(port, "DBSIZE"), 2_000), ":2");
  await within(flushRedis(server.url), 2_000);
  assert.equal(await within(command(port, "DBSIZE"), 2_000), ":0");
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
    const own = await within(redisUrl(), 10_000);
    try {
      const port = Number(new URL(own.url).port);
      assert.equal(await within(command(port, "PING"), 2_000), "+PONG");
    } finally {
      await within(own.stop(), 10_000);
    }
  } finally {
    if (saved === undefined) Deno.env.delete("REDIS_URL");
    else Deno.env.set("REDIS_URL", saved);
  }
});
