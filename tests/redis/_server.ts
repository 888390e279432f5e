// A Redis server for the tests: a private `redis-server` child process on a
// free port, or the server named by REDIS_URL (as `.ci/run` exports it).
// No Redis client: the few commands it sends are written in RESP by hand.
import { ROOT_DIR, until } from "../fixtures/harness.ts";

/** How long a server may take to answer its first PING. */
const START_TIMEOUT_MS = 5_000;
/** How long one command may take, connection included. */
const COMMAND_TIMEOUT_MS = 2_000;
/** How many free ports to try when another process takes the one picked. */
const START_ATTEMPTS = 3;
/** How often to ask a starting server for its PONG. */
const START_POLL_MS = 50;

const NOT_INSTALLED = "redis-server is not installed: install Debian's " +
  "redis-server package (apt-get install redis-server) or set REDIS_URL to " +
  "a running server";

/** A running private `redis-server`, as {@linkcode startRedis} returns it. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** The TCP port on 127.0.0.1. */
  readonly port: number;
  /** The child process's id. */
  readonly pid: number;
  /**
   * Stops the server (SIGTERM), waits for the process to exit and removes its
   * temporary directory. Calling it again returns the same promise.
   */
  stop(): Promise<void>;
  /** The same as {@linkcode RedisServer.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts a private `redis-server` child process on 127.0.0.1, without
 * persistence, and resolves once it answers PING.
 *
 * The server runs in the foreground as a child of this process, in a new
 * temporary directory that also holds its log. Without `options.port` it
 * listens on a free port (the one `Deno.listen({ port: 0 })` picks), and picks
 * again if another process takes that port first. Call `stop()` (or use
 * `await using`) before the test ends: it awaits the child, so Deno's test
 * sanitizers see no leaked process or op.
 *
 * @param options `port`: the port to listen on; a free port when absent.
 * @returns The running server: its `url`, `port`, `pid` and `stop()`.
 * @throws {Error} when `redis-server` is not installed, or the server does not
 * answer PING within 5 s (the message quotes its log).
 *
 * @example Start a server, use it, stop it
 * ```ts
 * import { startRedis } from "./_server.ts";
 *
 * await using server = await startRedis();
 * console.log(server.url); // redis://127.0.0.1:<port>
 * ```
 */
export async function startRedis(
  options: { port?: number } = {},
): Promise<RedisServer> {
  const attempts = options.port === undefined ? START_ATTEMPTS : 1;
  for (let attempt = 1;; attempt++) {
    const port = options.port ?? freePort();
    try {
      return await spawnRedis(port);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= attempts) {
        throw error;
      }
    }
  }
}

/**
 * The Redis server for a test: the one named by the `REDIS_URL` environment
 * variable, or else a private one started by {@linkcode startRedis}.
 *
 * @returns Its `url`, and `stop()`: a no-op for REDIS_URL's server, which
 * belongs to whoever started it; stops a private server.
 * @throws {Error} when REDIS_URL is unset and {@linkcode startRedis} throws.
 *
 * @example
 * ```ts
 * import { redisUrl } from "./_server.ts";
 *
 * const redis = await redisUrl();
 * try {
 *   console.log(redis.url);
 * } finally {
 *   await redis.stop();
 * }
 * ```
 */
export async function redisUrl(): Promise<
  { url: string; stop(): Promise<void> }
> {
  const url = Deno.env.get("REDIS_URL");
  if (url) return { url, stop: () => Promise.resolve() };
  const server = await startRedis();
  return { url: server.url, stop: () => server.stop() };
}

/**
 * Deletes every key in every database of the server at `url` (FLUSHALL).
 *
 * Sends AUTH first when the URL has a password (`redis://[user]:pass@host`).
 *
 * @param url A `redis://` URL; the port defaults to 6379.
 * @throws {TypeError} when `url` is not a `redis://` URL.
 * @throws {Error} when the server cannot be reached within 2 s, or does not
 * reply `+OK`.
 *
 * @example
 * ```ts
 * import { flushRedis, redisUrl } from "./_server.ts";
 *
 * const redis = await redisUrl();
 * await flushRedis(redis.url);
 * await redis.stop();
 * ```
 */
export async function flushRedis(url: string): Promise<void> {
  const parsed = new URL(url);
  if (parsed.protocol !== "redis:") {
    throw new TypeError(
      `Cannot flush Redis: the URL must start with "redis://", received "${url}"`,
    );
  }
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1";
  const port = parsed.port === "" ? 6379 : Number(parsed.port);
  const commands: string[][] = [];
  if (parsed.password) {
    const password = decodeURIComponent(parsed.password);
    commands.push(
      parsed.username
        ? ["AUTH", decodeURIComponent(parsed.username), password]
        : ["AUTH", password],
    );
  }
  commands.push(["FLUSHALL"]);
  const replies = await send(hostname, port, commands);
  for (const [i, reply] of replies.entries()) {
    if (reply !== "+OK") {
      throw new Error(
        `Cannot flush Redis at ${parsed.host}: ${
          commands[i]?.[0]
        } replied "${reply}"`,
      );
    }
  }
}

/** The server did not start because another process holds its port. */
class PortTakenError extends Error {}

/** A port that was free a moment ago, on 127.0.0.1. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return listener.addr.port;
  } finally {
    listener.close();
  }
}

/** Starts `redis-server` on `port` and waits for its PONG. */
async function spawnRedis(port: number): Promise<RedisServer> {
  const dir = await Deno.makeTempDir({ prefix: "redis_test_" });
  const log = `${dir}/redis.log`;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        dir,
        "--logfile",
        log,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(NOT_INSTALLED, { cause: error });
    }
    throw error;
  }

  let exited: Deno.CommandStatus | undefined;
  const status = child.status.then((s) => (exited = s));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exited === undefined) {
        try {
          child.kill("SIGTERM");
        } catch {
          // It exited between the check and the kill.
        }
      }
      await status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
    return stopping;
  };

  // Until it answers PING, or exits.
  let replies: string[] | undefined;
  try {
    await until(async (left) => {
      if (exited !== undefined) return true;
      replies = undefined;
      try {
        replies = await send(
          "127.0.0.1",
          port,
          [["PING"], ["INFO", "server"]],
          Math.min(left, COMMAND_TIMEOUT_MS),
        );
      } catch {
        // Not listening yet.
      }
      return replies?.[0] === "+PONG" || exited !== undefined;
    }, {
      what: `redis-server on port ${port} to answer PING`,
      timeout: START_TIMEOUT_MS,
      interval: START_POLL_MS,
    });
  } catch {
    const text = await readLog(log);
    await stop();
    throw new Error(
      `Cannot start redis-server on port ${port}: no PONG within ${START_TIMEOUT_MS} ms; its log:\n${text}`,
    );
  }
  if (exited !== undefined) {
    const text = await readLog(log);
    await stop();
    const message =
      `Cannot start redis-server on port ${port}: it exited with code ${exited.code}; its log:\n${text}`;
    throw /Address already in use/i.test(text)
      ? new PortTakenError(message)
      : new Error(message);
  }
  // The PONG may come from another server that holds the port while this one
  // fails to bind it: check the process id.
  if (
    replies?.[1]?.match(/^process_id:(\d+)\r?$/m)?.[1] !== String(child.pid)
  ) {
    await stop();
    throw new PortTakenError(
      `Cannot start redis-server on port ${port}: another server holds it`,
    );
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function readLog(path: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trim().split("\n").slice(-20)
      .join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * Connects, sends `commands` (RESP arrays of bulk strings), reads one reply
 * per command and closes the connection. A single-line reply comes back as
 * its line (`+OK`, `-ERR …`, `:3`), a bulk string as its content. Rejects when
 * the whole exchange takes longer than `timeoutMs`.
 */
async function send(
  hostname: string,
  port: number,
  commands: string[][],
  timeoutMs = COMMAND_TIMEOUT_MS,
): Promise<string[]> {
  const encoder = new TextEncoder();
  let conn: Deno.TcpConn | undefined;
  let closed = false;
  const close = () => {
    if (conn === undefined || closed) return;
    closed = true;
    conn.close();
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    close();
  }, timeoutMs);
  try {
    conn = await Deno.connect({ hostname, port });
    if (timedOut) throw new Error("timed out while connecting");
    let request = "";
    for (const args of commands) {
      request += `*${args.length}\r\n`;
      for (const arg of args) {
        request += `$${encoder.encode(arg).length}\r\n${arg}\r\n`;
      }
    }
    const bytes = encoder.encode(request);
    for (let written = 0; written < bytes.length;) {
      written += await conn.write(bytes.subarray(written));
    }
    // Bytes, not text: a bulk string's length counts bytes.
    const buffer = new Uint8Array(4096);
    let data = new Uint8Array(0);
    let at = 0;
    const more = async () => {
      const n = await conn!.read(buffer);
      if (n === null) {
        throw new Error(`Redis at ${hostname}:${port} closed the connection`);
      }
      const joined = new Uint8Array(data.length - at + n);
      joined.set(data.subarray(at));
      joined.set(buffer.subarray(0, n), data.length - at);
      data = joined;
      at = 0;
    };
    const line = async (): Promise<string> => {
      while (true) {
        const end = data.indexOf(0x0a, at);
        if (end > at && data[end - 1] === 0x0d) {
          const text = new TextDecoder().decode(data.subarray(at, end - 1));
          at = end + 1;
          return text;
        }
        await more();
      }
    };
    const replies: string[] = [];
    while (replies.length < commands.length) {
      const head = await line();
      if (!head.startsWith("$") || head === "$-1") {
        replies.push(head);
        continue;
      }
      const length = Number(head.slice(1));
      while (data.length - at < length + 2) await more();
      replies.push(new TextDecoder().decode(data.subarray(at, at + length)));
      at += length + 2;
    }
    return replies;
  } catch (error) {
    if (timedOut) {
      throw new Error(
        `Redis at ${hostname}:${port} did not reply within ${timeoutMs} ms`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    clearTimeout(timer);
    close();
  }
}

/** A worker-command subprocess, as {@linkcode spawnWorkerCommand} starts it. */
export interface WorkerCommand {
  readonly child: Deno.ChildProcess;
  /** Everything it wrote to stderr, once it has ended. */
  readonly stderr: Promise<string>;
}

/**
 * Starts `deno run -A worker.ts --redis url --queue queue --root <repo>` with
 * `extra` flags, in the repository's root. The caller ends it (SIGTERM or
 * SIGKILL) and awaits `child.status`.
 *
 * @param url The Redis server.
 * @param queue The queue to serve.
 * @param extra More flags, such as `["--processes", "1"]`.
 * @returns The child and its stderr.
 *
 * @example Serve a queue from a subprocess
 * ```ts ignore
 * const worker = spawnWorkerCommand("redis://127.0.0.1:6379", "jobs");
 * worker.child.kill("SIGTERM");
 * await worker.child.status;
 * ```
 */
export function spawnWorkerCommand(
  url: string,
  queue: string,
  extra: string[] = [],
): WorkerCommand {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT_DIR}/worker.ts`,
      "--redis",
      url,
      "--queue",
      queue,
      "--root",
      ROOT_DIR,
      ...extra,
    ],
    cwd: ROOT_DIR,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  return { child, stderr: new Response(child.stderr).text() };
}
