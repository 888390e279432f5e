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
  ringCorrupt: (what: string, found = "values no operation writes"): string =>
    `Cannot use the ${what}: its shared memory holds ${found}, so a process wrote garbage into it; create a new ${what}, and hand it only to processes you trust`,
  ringHeader: (
    head: number,
    tail: number,
    used: number,
    count: number,
    capacity: number,
  ): string =>
    `a header that does not fit its ${capacity}-byte buffer (head ${head}, tail ${tail}, ${used} bytes in use, ${count} items)`,
  ringLength: (length: number, used: number): string =>
    `a record length of ${length} bytes with ${used} bytes in use`,
  itemCorrupt: (what: string, reason: string): string =>
    `Cannot read an item of the ${what}: its bytes do not decode (${reason}), so a process wrote garbage into it; create a new ${what}, and hand it only to processes you trust`,
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
  semaphoreMax: (value: number): string =>
    `Cannot release the Semaphore: its value is already ${value}, the most it can hold; release only units that were acquired (a BoundedSemaphore catches extra releases)`,
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
    }: it must be one of "b", "B", "h", "H", "i", "I", "l", "L", "q", "Q", "f", "d", "c", "u"`,
  badElement: (typecode: string, expected: string, value: unknown): string =>
    `Cannot store ${
      quote(value)
    } with typecode "${typecode}": it takes ${expected}`,
  badIndex: (index: unknown, length: number): string =>
    length === 0
      ? `Cannot use index ${quote(index)}: the array is empty`
      : `Cannot use index ${quote(index)}: it must be an integer from 0 to ${
        length - 1
      }`,
  noNewProperty: (what: string, key: unknown, instead: string): string =>
    `Cannot set ${
      quote(key)
    } on a ${what}: it takes no new properties; ${instead}`,
  notBytes: (kind: string): string =>
    `Cannot receive bytes: the next message, of type ${kind}, was sent with send() and is not bytes; it was dropped: receive such messages with recv()`,
  bytesTooLong: (length: number, maxLength: number): string =>
    `Cannot receive a message of ${length} bytes: it is longer than maxLength ${maxLength}; it was dropped: pass a larger maxLength`,
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
  // Isolation: workers that are OS processes.
  badIsolation: (value: unknown): string =>
    `Cannot use "isolation": it must be "thread" (workers are threads of this process) or "process" (workers are OS processes), received ${
      quote(value)
    }`,
  noSpawnPermission: (exec: string, missing: string): string =>
    `Cannot start a worker with isolation "process": it runs ${exec} as a child process, which needs ${missing}; run with --allow-run=${exec} --allow-env (or -A), or use isolation: "thread"`,
  escalate: (name: string, item?: string): string =>
    `Cannot give a worker with isolation "process" ${name} access${
      item === undefined ? "" : ` to ${quote(item)}`
    }: this program does not have it, and a worker never gets more than its parent; grant it to the program first, or ask for less`,
  partialGrant: (name: string): string =>
    `Cannot give a worker with isolation "process" all ${name} access: this program's ${name} permission has exceptions (--deny-${name} or --ignore-${name}) that it cannot read back to pass on; list what the worker may use instead, such as { ${name}: [...] }`,
  badPermissionKey: (key: string): string =>
    `Cannot use "permissions.${key}": the permissions are read, write, net, env, sys, run, ffi and import`,
  badPermissionValue: (key: string, value: unknown): string =>
    `Cannot use "permissions.${key}": it must be "inherit", true, false or a list of strings, received ${
      quote(value)
    }`,
  commaInGrant: (name: string, item: string): string =>
    `Cannot give a worker with isolation "process" ${name} access to ${
      quote(item)
    }: Deno's --allow-${name} flag separates entries with commas, so an entry cannot hold one; grant a folder above it instead`,
  childStart: (name: string, how: string, command: string): string =>
    `Cannot start worker "${name}" as a process: "${command}" ${how} before it ran any code; Deno's own message, if any, is on stderr above (bad flags, or a config, import map or lockfile the child cannot use); fix that, or use isolation: "thread"`,
  childSignal: (signal: string): string => `ended by ${signal}`,
  childExit: (code: number): string => `exited with code ${code}`,
  childHeap: (limit: number | undefined): string =>
    limit === undefined
      ? `its V8 heap limit (the OS ended it with a V8 fatal error)`
      : `resourceLimits.maxOldGenerationSizeMb (${limit} MB)`,
  childImportHint: (config: string | undefined): string =>
    ` (in a worker with isolation "process": a child resolves modules as its parent does only when it can copy the parent's flags, and a program can read its own command line only with -A, so this child ${
      config === undefined ? "found no deno.json" : `used ${config}`
    } and none of the command line's --import-map, --config or --no-config; run with -A, or ${
      config === undefined
        ? "give the program a deno.json with these imports (or an importMap)"
        : "put these imports in that deno.json"
    })`,
  badPermissionFlag: (entry: string): string =>
    `Cannot use --permissions ${
      quote(entry)
    }: give "inherit", "none", or entries such as "read", "read=/srv/data,/tmp" or "env=HOME", whose names are read, write, net, env, sys, run, ffi and import (one per --permissions, or separated by ";")`,
  scopedNeedsProcess: (): string =>
    `Cannot give the worker's tasks scoped "permissions" with isolation "thread": they import each task's module when it comes, which a scoped thread cannot; use isolation: "process" (--isolation process), whose child processes get the permissions as their own flags`,
  ipcCannotCopy: (where: string, reason: string): string =>
    `${reason} (at ${where}), and a worker with isolation "process" gets a copy`,
  ipcFunction: (): string => `a function cannot be copied`,
  ipcSymbol: (): string => `a symbol cannot be copied`,
  ipcDetached: (): string =>
    `its ArrayBuffer is detached (it was transferred away), so there is nothing to copy`,
  ipcDepth: (max: number): string =>
    `the value is nested more than ${max} levels deep, which the IPC channel cannot copy`,
  ipcKind: (tag: string): string =>
    `a ${tag} cannot be copied to another OS process (only plain data goes: objects, arrays, Map, Set, Date, RegExp, errors, ArrayBuffers and typed arrays)`,
  ipcSharedMemory: (): string => `shared memory cannot reach another process`,
  ipcShared: (where: string, kind: string): string =>
    `Cannot send ${where} to a worker with isolation "process": it holds a ${kind}, whose state lives in memory that only the threads of one process share; use isolation: "thread", or a Manager (its objects are reached from every process)`,
  // AsyncResult.
  resultNotReady: (): string =>
    `Cannot tell whether the result is successful: it is not ready yet; await wait() or get() first`,
  resultTimeout: (ms: number): string =>
    `Result not ready after ${ms} ms; the work goes on: call get() again to wait longer`,
  // Hostile workers and hostile Redis input (see docs/security.md).
  workerProtocol: (name: string, problem: string): string =>
    `Worker "${name}" sent a malformed message (${problem}), so it was ended (a pool replaces it with a new worker); only code that tampers with the library's channel sends one: check what the target, or a module it imports, does`,
  scopedPromptRisk: (): string =>
    `Cannot start a worker with scoped permissions in a terminal: Deno would ask you there to grant the worker what it lacks (a read outside its folders, say), and one "y" gives code you do not trust that access. Run with --no-prompt (with -A, so that the library can see the flag; or set DENO_NO_PROMPT=1 and allow reading it with --allow-env=DENO_NO_PROMPT), or use isolation: "process", whose workers never prompt`,
  scopedGraphOutside: (module: string, file: string, via: string): string =>
    `Cannot start a worker with scoped permissions for ${module}: it imports ${file}${via}, which is outside the places it may load from (its "read" permission, the folder of ${module}, and this library). Deno loads the static imports of a worker's modules (and import() of a literal path) without checking the worker's permissions, so this would let it read that file; move the file inside one of those places, or add its folder to the worker's "read" permission`,
  scopedGraphUnchecked: (module: string, file: string, why: string): string =>
    `Cannot start a worker with scoped permissions for ${module}: its import of ${file} cannot be checked (${why}), and Deno would load it without checking the worker's permissions; give the program read access to ${file} (-R), or remove the import`,
  redisMalformedReply: (stream: string, dropped: number): string =>
    `dropped ${dropped} malformed ${
      dropped === 1 ? "result" : "results"
    } from ${stream} so far: something other than a worker writes to this pool's reply stream, or a worker runs another version of the library`,
  serveTaskFailed: (entry: string, why: string): string =>
    `dropped task entry ${entry}: handling it failed (${why})`,
  serveBadItems: (): string =>
    `Cannot run the task: its items are not a list of as many values as its counts say; the coordinator and the worker may run different versions of the library`,
  serveMalformedTask: (
    entry: string,
    problem: string,
    dropped: number,
  ): string =>
    `dropped task entry ${entry}: ${problem} (${dropped} malformed so far); something other than a coordinator of this library writes to the queue's stream`,
  // Managers.
  managerUnguarded: (): string =>
    `Cannot start a Manager while a worker is importing its target module: ` +
    `the module starts a manager at its top level, which every worker would do again; ` +
    `guard that code with "if (import.meta.main) { ... }", as Python guards it with 'if __name__ == "__main__":'`,
  managerShutDown: (what: string): string =>
    `Cannot use ${what}: its manager was shut down (shutdown(), or the end of its "await using" scope); create a new Manager for more shared objects`,
  managerDied: (what: string): string =>
    `Cannot use ${what}: its manager's server thread ended unexpectedly; create a new Manager`,
  managerGone: (what: string, pid: number): string =>
    `Cannot use ${what}: process ${pid}, which made its manager, has ended, and the manager with it; make the Manager in a process that outlives its users`,
  managerUnreachable: (what: string): string =>
    `Cannot use ${what}: its manager cannot be reached from this process (the process that owns it is gone, or did not pass it here)`,
  managerRemoteCreate: (): string =>
    `Cannot make an object in a manager from another OS process; make it where the Manager lives and pass its proxy`,
  managerCorrupt: (why: string): string =>
    `The manager's reply is malformed (${why}): a process wrote into the manager's shared memory; create a new Manager, and hand its proxies only to processes you trust`,
  managerRefused: (what: string, why: string): string =>
    `The manager refused a request on ${what} as malformed (${why}): a process wrote into the manager's shared memory, or runs another version of the library`,
  managerTooLarge: (bytes: number, max: number): string =>
    `Cannot send ${bytes} bytes to the manager: one request carries at most ${max} bytes; store the value in smaller parts`,
  managerClone: (path: string, reason: string): string =>
    `Cannot send ${path} to the manager: ${reason}; pass only structured-clone values (plain data, arrays, Map, Set, Date, typed arrays, errors)`,
  managerNested: (brand: string): string =>
    `it is a ${brand}, and a manager holds copies of plain values, not shared objects (there are no nested proxies); pass the ${brand} to the process itself, or store plain data`,
  keyError: (key: unknown): string =>
    `Key ${
      quote(key)
    } is not in the dict; pass a default (pop(key, fallback)) or check with has(key) first`,
  notInList: (op: string, value: unknown): string =>
    `Cannot ${op} ${
      quote(value)
    }: no item of the list equals it (items are compared by content)`,
  listIndex: (op: string, index: number, length: number): string =>
    length === 0
      ? `Cannot ${op} list index ${index}: the list is empty`
      : `Cannot ${op} list index ${index}: the list has ${length} items, so an index must be from ${-length} to ${
        length - 1
      }`,
  popEmpty: (): string => `Cannot pop from an empty list`,
  shareableNotLoaded: (brand: string): string =>
    `Cannot call a method of this ${brand}: its class was never loaded in this worker, because the target module imports "@parallel/multiprocessing" only for types, which TypeScript erases, and this worker may not read the library to load it (scoped permissions); add import "@parallel/multiprocessing"; to the target module`,
  // Start methods.
  badStartMethod: (method: unknown): string =>
    method === "fork"
      ? `Cannot use the start method "fork": Deno cannot fork a running program; use "forkserver" (the default: a worker started ahead of time, ready in a few ms) or "spawn" (a new worker for each start)`
      : `Unknown start method ${
        quote(method)
      }: use "forkserver" (the default) or "spawn"`,
  // Shared memory.
  allocationFailed: (what: string, bytes: number, fix: string): string =>
    `Cannot allocate ${what}: it needs ${bytes} bytes of shared memory, and the system would not give them; ${fix}`,
  // Hostile OS-process workers (isolation: "process").
  childClosedChannel: (ms: number): string =>
    `it closed its channel to this process and was still running ${ms} ms later, so nothing it did could be reported`,
} as const;
