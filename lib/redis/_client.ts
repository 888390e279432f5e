// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Redis connections for the coordinator and the worker command: ioredis set
// to fail fast (no offline queue, no retried commands), so that a lost
// server surfaces as an error the caller can act on instead of a hang.

import { Redis } from "ioredis";
import { messages } from "../_messages.ts";

export type { Redis };

/** ms one attempt to connect may take. */
const CONNECT_TIMEOUT_MS = 2000;
/** A lost connection is tried again after this many ms times the attempt... */
const RETRY_STEP_MS = 50;
/** ...but at least this often. */
const RETRY_MAX_MS = 500;

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
    throw new TypeError(messages.redisUrlType(url));
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(messages.redisUrlSyntax(url));
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new TypeError(messages.redisUrlScheme(safeUrl(url), u.protocol));
  }
  return url;
}

/** Checks a queue name. */
export function checkQueue(queue: unknown): string {
  if (typeof queue !== "string" || !/^[\w.:-]{1,128}$/.test(queue)) {
    throw new TypeError(messages.redisQueue(queue));
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
    connectTimeout: CONNECT_TIMEOUT_MS,
    connectionName: name,
    retryStrategy: (times: number) =>
      Math.min(RETRY_STEP_MS * times, RETRY_MAX_MS),
  });
  // Errors are seen through commands and the "close" event; without a
  // listener ioredis would print each one.
  client.on("error", () => {});
  return client;
}

/**
 * Connects `clients` within `ms`. On failure it disconnects them and rejects
 * with the first one's last error (the reason, such as "connect
 * ECONNREFUSED"), else the failure itself.
 */
export async function connectWithin(
  clients: Redis[],
  ms: number,
): Promise<void> {
  let lastError: unknown;
  clients[0]?.on("error", (err: unknown) => lastError = err);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      Promise.all(clients.map((c) => c.connect())),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(lastError ?? new Error(messages.serveNoAnswer())),
          ms,
        );
      }),
    ]);
  } catch (err) {
    for (const c of clients) c.disconnect();
    throw lastError ?? err;
  } finally {
    clearTimeout(timer);
  }
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
