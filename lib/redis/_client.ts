// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Redis connections for the coordinator and the worker command: ioredis set
// to fail fast (no offline queue, no retried commands), so that a lost
// server surfaces as an error the caller can act on instead of a hang.

import { Redis } from "ioredis";

export type { Redis };

/** A URL with its password hidden, for messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.href.replace(/\/$/, "");
  } catch {
    return url;
  }
}

/** Checks a Redis URL; throws a TypeError that says what is wrong. */
export function checkUrl(url: unknown): string {
  if (typeof url !== "string") {
    throw new TypeError(
      `Cannot use Redis url ${
        JSON.stringify(url) ?? String(url)
      }: it must be a string such as "redis://127.0.0.1:6379"`,
    );
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(
      `Cannot use Redis url "${url}": it is not a URL; write it as "redis://host:port" (or "rediss://" for TLS)`,
    );
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new TypeError(
      `Cannot use Redis url "${
        safeUrl(url)
      }": the scheme must be "redis:" or "rediss:", not "${u.protocol}"`,
    );
  }
  return url;
}

/** Checks a queue name. */
export function checkQueue(queue: unknown): string {
  if (typeof queue !== "string" || !/^[\w.:-]{1,128}$/.test(queue)) {
    throw new TypeError(
      `Cannot use queue ${
        JSON.stringify(queue) ?? String(queue)
      }: it must be 1 to 128 letters, digits, "_", ".", ":" or "-", such as "jobs"`,
    );
  }
  return queue;
}

/** Opens a connection that reconnects on its own but never queues or
 * retries a command: while it is down, commands fail at once. */
export function connect(url: string, name: string): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    connectionName: name,
    retryStrategy: (times: number) => Math.min(50 * times, 500),
  });
  // Errors are seen through commands and the "close" event; without a
  // listener ioredis would print each one.
  client.on("error", () => {});
  return client;
}

/** The socket of a connection, to ref/unref it. */
export function socketOf(
  client: Redis,
): { ref(): void; unref(): void } | undefined {
  const stream = (client as unknown as {
    stream?: { ref?: () => void; unref?: () => void };
  }).stream;
  if (typeof stream?.ref !== "function" || typeof stream.unref !== "function") {
    return undefined;
  }
  return stream as { ref(): void; unref(): void };
}

/** Makes the consumer group `group` of stream `key` (and the stream), from
 * its start, unless it exists. */
export async function ensureGroup(
  client: Redis,
  key: string,
  group: string,
): Promise<void> {
  try {
    await client.xgroup("CREATE", key, group, "0", "MKSTREAM");
  } catch (err) {
    if (!describe(err).startsWith("BUSYGROUP")) throw err;
  }
}

/** A short description of a client error, such as "connect ECONNREFUSED". */
export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Resolves after `ms`, on a timer that does not keep the program alive
 * unless `keep` is set. */
export function sleep(ms: number, keep = true): Promise<void> {
  return new Promise((resolve) => {
    const id = setTimeout(resolve, ms);
    if (!keep) Deno.unrefTimer(id);
  });
}
