// Copyright 2026 the @parallel/multiprocessing authors. MIT license.

/**
 * The worker command of the Redis backend: serves a queue's tasks with a
 * local pool of module Workers until it gets SIGINT or SIGTERM (it then
 * finishes the chunks it holds; a second signal ends it at once).
 *
 * ```sh
 * deno run -A jsr:@parallel/multiprocessing/worker --redis redis://10.0.0.5:6379 --queue jobs
 * ```
 *
 * Flags: `--redis URL` and `--queue NAME` (required), `--processes N`
 * (default: all cores), `--root DIR` (the project root that task modules are
 * resolved under; default: the nearest folder at or above the working
 * directory with a deno.json or package.json), `--name NAME`,
 * `--claim-after MS` (take over chunks of a worker silent this long; default
 * 5000), `--heartbeat MS` (default 1000) and `--max-deliveries N` (fail a
 * chunk, rather than run it again, once it was delivered N times and each
 * worker holding it died; default 3).
 *
 * Isolation: `--isolation process` runs the tasks in OS processes (child
 * `deno` processes) instead of threads, and `--permissions` then gives them
 * less than the worker command's own -A: `--permissions none`, or entries
 * `NAME` (all of that permission) and `NAME=A,B` (those, as Deno's
 * `--allow-NAME=A,B`), one per `--permissions` or separated by `;`, such as
 * `--permissions read=/srv/app --permissions net=redis.internal:6379`. Each
 * task's module is imported when its first task comes, so give read access
 * to the project root at least. A task that reaches further fails with
 * `NotCapable`, in its own process.
 *
 * @example Start a worker from a program
 * ```ts no-eval
 * import { main } from "@parallel/multiprocessing/worker";
 *
 * const code = await main(["--redis", "redis://127.0.0.1:6379", "--queue", "jobs"]);
 * Deno.exit(code);
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { positiveInt } from "./lib/_check.ts";
import { messages } from "./lib/_messages.ts";
import { permissionsFromFlags } from "./lib/_engine/flags.ts";
import { serve } from "./lib/redis/serve.ts";

const USAGE =
  `Usage: deno run -A jsr:@parallel/multiprocessing/worker --redis URL --queue NAME
  [--processes N] [--root DIR] [--name NAME] [--claim-after MS] [--heartbeat MS]
  [--max-deliveries N] [--isolation thread|process] [--permissions SPEC]...

  --isolation process   run tasks in OS processes (default: threads)
  --permissions SPEC    with --isolation process, what tasks may do: "none",
                        or NAME or NAME=A,B entries (read, write, net, env,
                        sys, run, ffi, import), such as read=/srv/app; repeat
                        the flag, or separate entries with ";"`;

function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  return positiveInt(
    Number(value),
    () => messages.badOption(flag, "a positive integer", value),
  );
}

/**
 * Runs the worker command with `args` (as `Deno.args`) until a signal stops
 * it; prints problems to stderr.
 *
 * @param args The command-line flags.
 * @returns The exit code: 0 after a clean stop, 1 when it could not start,
 * 2 for bad flags.
 *
 * @example Serve a queue
 * ```ts no-eval
 * import { main } from "@parallel/multiprocessing/worker";
 *
 * Deno.exit(await main(["--redis", "redis://127.0.0.1:6379", "--queue", "jobs"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let options;
  try {
    const { values } = parseArgs({
      args,
      options: {
        redis: { type: "string" },
        queue: { type: "string" },
        processes: { type: "string" },
        root: { type: "string" },
        name: { type: "string" },
        "claim-after": { type: "string" },
        heartbeat: { type: "string" },
        "max-deliveries": { type: "string" },
        isolation: { type: "string" },
        permissions: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (values.redis === undefined || values.queue === undefined) {
      throw new TypeError("--redis and --queue are required");
    }
    options = {
      url: values.redis,
      queue: values.queue,
      ...(values.processes === undefined
        ? {}
        : { processes: int(values.processes, "--processes")! }),
      ...(values.root === undefined ? {} : { root: values.root }),
      ...(values.name === undefined ? {} : { name: values.name }),
      ...(values["claim-after"] === undefined
        ? {}
        : { claimAfter: int(values["claim-after"], "--claim-after")! }),
      ...(values.heartbeat === undefined
        ? {}
        : { heartbeat: int(values.heartbeat, "--heartbeat")! }),
      ...(values["max-deliveries"] === undefined ? {} : {
        maxDeliveries: int(values["max-deliveries"], "--max-deliveries")!,
      }),
      ...(values.isolation === undefined
        ? {}
        : { isolation: values.isolation as "thread" | "process" }),
      ...(values.permissions === undefined
        ? {}
        : { permissions: permissionsFromFlags(values.permissions) }),
    };
  } catch (err) {
    console.error(`error: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  let worker;
  try {
    worker = await serve(options);
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    return err instanceof TypeError || err instanceof RangeError ? 2 : 1;
  }
  console.error(
    `[worker] ${worker.name} serves queue "${options.queue}" with ${worker.processes} processes`,
  );
  let signals = 0;
  const stop = () => {
    if (++signals > 1) Deno.exit(130);
    console.error(`[worker] stopping: finishing the chunks held`);
    worker.close();
  };
  const names = ["SIGINT", "SIGTERM"] as const;
  for (const s of names) Deno.addSignalListener(s, stop);
  await worker.finished;
  for (const s of names) Deno.removeSignalListener(s, stop);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
