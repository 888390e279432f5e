// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Every error message the library writes, once: the one message table.
// Imported by both sides.

import { context } from "./_shared/context.ts";

/** A value quoted for a message. */
export function quote(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") {
    return `function ${value.name || "(anonymous)"}`;
  }
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "symbol") return value.toString();
  try {
    return Deno.inspect(value, { depth: 1, breakLength: Infinity });
  } catch {
    return String(value);
  }
}

export const messages = {
  notExported: (name: string, module: string): string =>
    `Cannot run target ${
      name ? `"${name}"` : "(anonymous function)"
    } in a worker: it is not exported from ${module}; export it from that module, or pass "module" naming the module that exports it`,
  anonymous: (module: string): string =>
    `Cannot run an anonymous function in a worker: a worker finds its target by export name in ${module}; export a named function and pass it`,
  notAFunction: (what: string, value: unknown): string =>
    `Cannot use ${what}: it must be a function exported from a module, received ${
      quote(value)
    }`,
  unguarded: (module: string): string =>
    `Cannot start a process while a worker is importing its target module ${module}: ` +
    `the module starts processes at its top level, which would spawn workers recursively; ` +
    `guard that code with "if (import.meta.main) { ... }", as Python guards it with 'if __name__ == "__main__":'`,
  noFlag: (): string =>
    `Cannot scope worker permissions: Deno needs the "--unstable-worker-options" flag (or "unstable": ["worker-options"] in deno.json) for "permissions", and without it would end the program; add the flag, or use permissions: "inherit"`,
  flagUnknown: (): string =>
    `Cannot scope worker permissions: could not confirm that "--unstable-worker-options" is on, and Deno would end the program without it (Deno lets a program read its own command line only with -A, and no deno.json with "unstable": ["worker-options"] is in effect); add "unstable": ["worker-options"] to deno.json, or run with -A and the flag`,
  noRead: (module: string, path: string): string =>
    `Cannot load ${module} in a worker: it needs read access to ${path}; run with -R (--allow-read) or --allow-read=${path}`,
  limitsWithScope: (): string =>
    `Cannot combine "resourceLimits" with scoped "permissions": Deno enforces heap limits only on node:worker_threads workers, which share the parent's permissions; drop one of the two (use permissions: "inherit" to keep the limits)`,
  badPermissions: (value: unknown): string =>
    `Cannot use "permissions": it must be "inherit", "none" or a Deno.PermissionOptionsObject, received ${
      quote(value)
    }`,
  badLimit: (key: string, value: unknown): string =>
    `Cannot use "resourceLimits.${key}": it must be a positive number of megabytes, received ${
      quote(value)
    }`,
  badLimitKey: (key: string): string =>
    `Cannot use "resourceLimits.${key}": known limits are maxOldGenerationSizeMb, maxYoungGenerationSizeMb and stackSizeMb`,
  badBackend: (value: unknown): string =>
    `Cannot use "backend" ${
      quote(value)
    }: it must be made by a backend function, such as redisBackend() from "@parallel/multiprocessing/redis"`,
  backendOption: (name: string): string =>
    `Cannot use "${name}" with a "backend": the workers' settings belong to the machines that run them (the worker command's flags, such as --processes), not to the pool that sends the tasks; remove "${name}"`,
  badOption: (what: string, expected: string, value: unknown): string =>
    `Cannot use ${what}: it must be ${expected}, received ${quote(value)}`,
  badModule: (value: unknown): string =>
    `Cannot use "module": it must be a module URL (string or URL), such as import.meta.url, received ${
      quote(value)
    }`,
  noCaller: (): string =>
    `Cannot find the module that defines the target: pass "module: import.meta.url" from the module that exports it`,
  dataCloneBack: (path: string, reason: string): string =>
    `Cannot send the ${path} back from worker "${context().current.name}": ${reason}; return only structured-clone values (plain data, arrays, Map, Set, Date, typed arrays, errors)`,
  dataClone: (path: string, reason: string): string =>
    `Cannot send ${path} to a worker: ${reason}; pass only structured-clone values (plain data, arrays, Map, Set, Date, typed arrays, errors)`,
  outOfMemory: (name: string, limit: string): string =>
    `Process "${name}" ran out of memory: it exceeded ${limit}; raise resourceLimits.maxOldGenerationSizeMb or use less memory`,
  startedTwice: (name: string): string =>
    `Cannot start process "${name}": it was already started; create a new Process to run the target again`,
  notStarted: (name: string, what: string): string =>
    `Cannot ${what} process "${name}": it has not been started; call start() first`,
  closed: (name: string, what: string): string =>
    `Cannot ${what} process "${name}": it is closed`,
  closeRunning: (name: string): string =>
    `Cannot close process "${name}": it is still running; join() or terminate() it first`,
  daemonAfterStart: (name: string): string =>
    `Cannot change "daemon" of process "${name}": it was already started`,
  scopedModule: (module: string, own: string): string =>
    `Cannot run a target of ${module} in a pool with scoped permissions: its workers can load only ${own}, the module they started with; export the target from that module, or give the pool "module: ${module}"`,
  workerDied: (name: string, code: number, fn: string): string =>
    `Worker "${name}" ended with exit code ${code} while running ${
      fn || "a task"
    }; the pool replaced it and the rest of the work goes on`,
  initializerFailed: (name: string): string =>
    `Pool initializer failed in worker "${name}"; the pool cannot run tasks: fix the initializer and create a new Pool`,
  poolClosed: (what: string): string =>
    `Cannot ${what}: the pool is closed; create a new Pool for more work`,
  joinOpen: (): string =>
    `Cannot join the pool: it is still open; call close() or terminate() first`,
  poolTerminated: (): string => `Pool was terminated before this task finished`,
  notIterable: (value: unknown): string =>
    `Cannot use "iterable": it must be an iterable or async iterable, received ${
      quote(value)
    }`,
  badChunksize: (value: unknown): string =>
    `Cannot use "chunksize": it must be a positive integer, received ${
      quote(value)
    }`,
  badProcesses: (value: unknown): string =>
    `Cannot create pool: "processes" must be a positive integer, received ${
      quote(value)
    }`,
  // Queues, pipes, locks and shared memory.
  ringBroken: (what: string, pid: number): string =>
    `Cannot use the ${what}: process ${pid} ended in the middle of a ${what} operation (it was terminated or ran out of memory) and may have left it half-updated; create a new ${what}`,
  tooLarge: (what: string, bytes: number, capacity: number): string =>
    `Cannot send an item of ${bytes} bytes through a ${what} of ${capacity} bytes: pass a larger "capacityBytes" when creating it`,
  queueClosed: (): string =>
    `Cannot put to the queue: it is closed; create a new queue for more items`,
  queueEnded: (): string =>
    `Cannot get from the queue: it is closed and empty, no more items will come`,
  empty: (ms?: number): string =>
    ms === undefined
      ? `Queue is empty`
      : `Queue is still empty: get() timed out after ${ms} ms`,
  full: (ms?: number): string =>
    ms === undefined
      ? `Queue is full`
      : `Queue is still full: put() timed out after ${ms} ms`,
  taskDoneTooMany: (): string =>
    `Cannot call taskDone(): it was called more times than items were put on the queue`,
  connectionClosed: (op: string): string =>
    `Cannot ${op}: this connection is closed`,
  receiveOnly: (): string =>
    `Cannot send on this connection: it is the receiving end of a one-way pipe (Pipe(false) returns [receiver, sender])`,
  sendOnly: (op: string): string =>
    `Cannot ${op} on this connection: it is the sending end of a one-way pipe (Pipe(false) returns [receiver, sender])`,
  peerClosed: (): string => `Cannot send: the other end of the pipe is closed`,
  pipeEnded: (): string =>
    `Cannot receive: the other end of the pipe is closed and everything it sent was read`,
  abandoned: (kind: string, pid: number): string =>
    `Process ${pid} ended while holding the ${kind}; the ${kind} is released now: check the state it guarded, then acquire it again`,
  notAcquired: (kind: string): string =>
    `Cannot release the ${kind}: it is not acquired`,
  notOwner: (owner: number, pid: number): string =>
    `Cannot release the RLock: process ${owner} holds it, not this process (${pid})`,
  overReleased: (bound: number): string =>
    `Cannot release the BoundedSemaphore: it was released more times than acquired (its initial value is ${bound})`,
  holdTimeout: (kind: string, ms: number): string =>
    `Could not acquire the ${kind} within ${ms} ms`,
  conditionNotHeld: (op: string): string =>
    `Cannot ${op} on the Condition: this process does not hold its lock; acquire it first`,
  barrierBroken: (): string =>
    `The barrier is broken: a party timed out, the barrier was aborted or reset, or the action threw; call reset() to use it again`,
  badTypecode: (value: unknown): string =>
    `Cannot use typecode ${
      quote(value)
    }: it must be one of "b", "B", "h", "H", "i", "I", "l", "L", "q", "Q", "f", "d"`,
  badElement: (typecode: string, expected: string, value: unknown): string =>
    `Cannot store ${
      quote(value)
    } with typecode "${typecode}": it takes ${expected}`,
  badIndex: (index: unknown, length: number): string =>
    `Cannot use index ${quote(index)}: it must be an integer from 0 to ${
      length - 1
    }`,
  noLock: (what: string): string =>
    `Cannot get the lock of this ${what}: it was made with lock: false`,
  // Inside a worker.
  moduleFailed: (module: string): string =>
    `Cannot run a task of ${module}: the module failed to load in this worker (its error ended the worker); fix the error the module throws when imported`,
  // Redis: the backend, the coordinator and the worker command.
  redisUrlType: (url: unknown): string =>
    `Cannot use Redis url ${
      JSON.stringify(url) ?? String(url)
    }: it must be a string such as "redis://127.0.0.1:6379"`,
  redisUrlSyntax: (url: string): string =>
    `Cannot use Redis url "${url}": it is not a URL; write it as "redis://host:port" (or "rediss://" for TLS)`,
  redisUrlScheme: (url: string, protocol: string): string =>
    `Cannot use Redis url "${url}": the scheme must be "redis:" or "rediss:", not "${protocol}"`,
  redisQueue: (queue: unknown): string =>
    `Cannot use queue ${
      JSON.stringify(queue) ?? String(queue)
    }: it must be 1 to 128 letters, digits, "_", ".", ":" or "-", such as "jobs"`,
  redisBackendOptions: (options: unknown): string =>
    `Cannot make a Redis backend from ${
      String(options)
    }: pass { url: "redis://host:6379", queue: "jobs" }`,
  redisRoot: (root: unknown): string =>
    `Cannot use "root" ${String(root)}: it must be a folder path or file URL`,
  redisRemoteModule: (url: string): string =>
    `Cannot send a task of ${url} through Redis: workers run only modules of their project, named by a path under its root; export a function from a project module that imports this one, and pass that`,
  redisOutsideRoot: (url: string, root: string): string =>
    `Cannot send a task of ${url} through Redis: the module is outside the project root ${root}, so a worker could not find it by a relative path; pass "root" to redisBackend() naming a folder that holds it`,
  redisUnreachable: (url: string, why: string): string =>
    `Redis at ${url} is unreachable (${why}), so the pool's calls cannot complete; start Redis there or fix the url, then call again`,
  redisNoConnection: (): string => `no connection`,
  redisNoWorkers: (queue: string, url: string, ms: number): string =>
    `No worker has served queue "${queue}" on ${url} for ${ms} ms, so the pool's calls cannot complete; start one with "deno run -A jsr:@parallel/multiprocessing/worker --redis ${url} --queue ${queue}", or raise "workerTimeout"`,
  serveOptions: (options: unknown): string =>
    `Cannot serve with ${
      String(options)
    }: pass { url: "redis://host:6379", queue: "jobs" }`,
  serveUnreachable: (
    queue: string,
    url: string,
    ms: number,
    why: string,
  ): string =>
    `Cannot serve queue "${queue}": Redis at ${url} did not answer within ${ms} ms (${why}); start Redis there or fix --redis`,
  serveNoAnswer: (): string => `no answer`,
  serveLost: (url: string): string => `lost Redis at ${url}; reconnecting`,
  serveBack: (url: string): string => `Redis at ${url} is back`,
  serveReaderStopped: (why: string): string => `reader stopped: ${why}`,
  serveClosing: (): string => `The worker is closing`,
  serveTooManyDeliveries: (fn: string, module: string, times: number): string =>
    `The chunk of "${fn}" from "${module}" was delivered ${times} times, and each worker that held it died or went silent (a task that ends its process, or a machine lost); it is not run again. Find what ends the worker, or raise --max-deliveries`,
  serveOutsideRoot: (worker: string, module: string, root: string): string =>
    `Worker ${worker} refused a task of "${module}": it runs only modules under its project root ${root}, named by a relative path`,
  serveNoModule: (
    worker: string,
    fn: string,
    module: string,
    root: string,
  ): string =>
    `Worker ${worker} cannot run "${fn}" from "${module}": there is no such file under its project root ${root}; deploy the project there, or start the worker with --root naming the project's folder`,
  serveModuleDiffers: (
    worker: string,
    fn: string,
    module: string,
    ours: string,
    theirs: string,
  ): string =>
    `Worker ${worker} refused "${fn}" from "${module}": its copy (sha256 ${ours}…) differs from the coordinator's (sha256 ${theirs}…); deploy the same code to every worker machine and restart the worker`,
  serveModuleChanged: (
    worker: string,
    fn: string,
    module: string,
    then: string,
    now: string,
  ): string =>
    `Worker ${worker} refused "${fn}" from "${module}": the file changed since the worker imported it (sha256 ${then}… then, ${now}… now), and a worker cannot import a module twice; restart the worker to run the new code`,
  serveUnsendable: (chunk: number, why: string): string =>
    `Cannot send a result of chunk ${chunk} back through Redis: ${why}; return structured-clone values (no functions or class instances)`,
  // AsyncResult.
  resultNotReady: (): string =>
    `Cannot tell whether the result is successful: it is not ready yet; await wait() or get() first`,
  resultTimeout: (ms: number): string =>
    `Result not ready after ${ms} ms; the work goes on: call get() again to wait longer`,
} as const;
