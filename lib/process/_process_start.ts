// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The internal plumbing of a Process (process.ts), kept apart from its public
// class and JSDoc: checking its options, opening the port to its worker
// (with every check that must pass before anything starts), and reading the
// exit report a worker sends.
//
// Imports lib/_shared/, lib/_engine/ (permissions, flags, unstable_flag,
// sandbox, validate, spawn, target, error_classes), lib/_messages.ts and
// types of ./process.ts and ./worker_options.ts.

import { context } from "../_shared/context.ts";
import { post } from "../_shared/clone.ts";
import {
  assertReadable,
  checkCombination,
  checkIsolation,
  checkLimits,
  checkPermissions,
} from "../_engine/permissions.ts";
import {
  assertCanSpawn,
  type ChildCommand,
  childCommand,
} from "../_engine/flags.ts";
import type { IpcPort } from "../_shared/ipc.ts";
import { assertWorkerOptions } from "../_engine/unstable_flag.ts";
import { assertSandbox } from "../_engine/sandbox.ts";
import {
  exitProblem,
  PROTOCOL_EXIT_CODE,
  protocolError,
} from "../_engine/validate.ts";
import type {
  Isolation,
  Permissions,
  ResourceLimits,
} from "./worker_options.ts";
import { openPorts, type WorkerPort } from "../_engine/spawn.ts";
import { checkExported, fnRef, resolveModule } from "../_engine/target.ts";
import { errorClasses, watchModule } from "../_engine/error_classes.ts";
import { messages } from "../_messages.ts";
import type { ExitMessage, FnRef, RunMessage } from "../_shared/wire.ts";
import { decodeError } from "../_shared/error_codec.ts";
import type { ProcessOptions } from "./process.ts";

/** A Process's options, checked. */
export interface CheckedOptions<A extends unknown[]> {
  readonly ref: FnRef;
  readonly module: string;
  readonly args: A;
  readonly permissions: Permissions;
  readonly limits: ResourceLimits | undefined;
  readonly isolation: Isolation;
}

/**
 * Checks the options of a Process (see its constructor for what throws).
 * Leaves `name` and `daemon` (checked only) to the caller.
 */
export function checkProcessOptions<A extends unknown[]>(
  options: ProcessOptions<A>,
): CheckedOptions<A> {
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      messages.badOption(
        "Process options",
        "an object such as { target, args }",
        options,
      ),
    );
  }
  const ref = fnRef(options.target, '"target"');
  const module = resolveModule(options.module);
  const args = options.args === undefined ? [] : options.args;
  if (!Array.isArray(args)) {
    throw new TypeError(
      messages.badOption('"args"', "an array of arguments", args),
    );
  }
  if (options.name !== undefined && typeof options.name !== "string") {
    throw new TypeError(
      messages.badOption('"name"', "a string", options.name),
    );
  }
  if (options.daemon !== undefined && typeof options.daemon !== "boolean") {
    throw new TypeError(
      messages.badOption('"daemon"', "a boolean", options.daemon),
    );
  }
  const permissions = checkPermissions(options.permissions);
  const limits = checkLimits(options.resourceLimits);
  const isolation = checkIsolation(options.isolation);
  checkCombination(permissions, limits, isolation);
  watchModule(module, ref.name);
  return { ref, module, args: args as A, permissions, limits, isolation };
}

/** What {@linkcode openWorker} opened: the ports, and what to start. */
export interface Opened {
  readonly ctx: ReturnType<typeof context>;
  /** An OS process (isolation "process"). */
  readonly child: boolean;
  readonly command: ChildCommand | undefined;
  /** This side's port, and the worker's. */
  readonly port: MessagePort | IpcPort;
  readonly workerPort: WorkerPort;
  /** A thread's pid (an OS process gets its pid when it starts). */
  readonly threadPid: number | undefined;
}

/**
 * Runs every check that must pass before a Process starts, opens the port
 * to its worker, and posts the target's run message on it (see
 * Process.start for what throws).
 */
export function openWorker<A extends unknown[]>(
  o: CheckedOptions<A>,
): Opened {
  const ctx = context();
  if (ctx.importing) throw new Error(messages.unguarded(o.module));
  checkExported(o.ref, o.module);
  assertReadable(o.module);
  const child = o.isolation === "process";
  // A child process gets its permissions as flags (no unstable flag) and
  // never prompts (--no-prompt); what it may not have throws here.
  if (child) assertCanSpawn();
  else if (o.permissions !== "inherit") assertWorkerOptions();
  const command = child ? childCommand(o.permissions, o.limits) : undefined;
  // No prompt for a scoped worker, nor an import outside its folders.
  assertSandbox(o.module, o.permissions, { terminal: !child });

  const { port, workerPort, pid } = openPorts(
    o.isolation,
    o.permissions,
    o.module,
  );
  const run: RunMessage = { t: "run", fn: o.ref, args: o.args };
  try {
    post(port as MessagePort, run, o.args, "args");
  } catch (err) {
    port.close();
    if (workerPort !== port) workerPort.close();
    throw err;
  }
  return {
    ctx,
    child,
    command,
    port,
    workerPort,
    threadPid: child ? undefined : pid,
  };
}

/**
 * A worker's exit report, read: its code and error (decoded against the
 * error classes of `module`), or, when malformed (the worker may run
 * hostile code), the protocol error that ends it.
 */
export function readExit(
  data: ExitMessage,
  name: string,
  module: string,
): { code: number; error: unknown; malformed: boolean } {
  const problem = exitProblem(data);
  if (problem !== undefined) {
    return {
      code: PROTOCOL_EXIT_CODE,
      error: protocolError(name, problem),
      malformed: true,
    };
  }
  const error = data.error === undefined
    ? undefined
    : decodeError(data.error, errorClasses(module));
  return { code: data.code, error, malformed: false };
}
