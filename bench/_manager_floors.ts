// Raw floors for bench/manager_bench.ts: the bare mechanisms a manager call
// could ride on, timed one round trip at a time with no manager code (a
// 48-byte request, a 32-byte reply, nothing served), in the same run as the
// manager, so that its figures can be read against what the machine allows:
//
// - "atomics spin": two threads hand a word back and forth over a
//   SharedArrayBuffer, each spinning (up to SPIN_US, then Atomics.wait);
// - "atomics wait": the same, each sleeping in Atomics.wait at once (two
//   kernel wake-ups per round trip);
// - "ipc": a child Deno process and its parent over node:child_process's IPC
//   channel (fork, serialization "advanced"), as a child's proxy goes today;
// - "fifo": a child Deno process blocking in readSync on a named pipe
//   (mkfifo), answered by a parent thread blocking in readSync: the fastest
//   channel between two Deno processes without FFI;
// - "mmap spin" / "mmap futex": the same child and parent thread over a
//   MAP_SHARED mapping of a /dev/shm file through FFI (libc's mmap, and the
//   futex syscall to sleep): shared memory between OS processes, which Deno
//   offers only through FFI (`--allow-ffi`). Skipped where libc cannot be
//   opened.
//
// Each floor resolves with µs per round trip, or null when it cannot run
// here. Run as a program, this file is the child side of the process floors.

/** How long (µs) the "atomics spin" floor spins before it waits. */
const SPIN_US = 50;
/** Round trips before timing. */
const WARMUP = 500;

/** µs per round trip of `n` after WARMUP, from `run(i)` doing trip `i`. */
function timed(n: number, run: (i: number) => void): number {
  for (let i = 1; i <= WARMUP; i++) run(i);
  const t0 = performance.now();
  for (let i = WARMUP + 1; i <= WARMUP + n; i++) run(i);
  return (performance.now() - t0) / n * 1000;
}

function workerOf(source: string): Worker {
  const url = URL.createObjectURL(
    new Blob([source], { type: "text/javascript" }),
  );
  return new Worker(url, { type: "module" });
}

/** The two threads of the atomics floors (the same code for both roles). */
const ATOMICS_WORKER = `
self.onmessage = (e) => {
  const { sab, role, spinUs, n, warmup } = e.data;
  const w = new Int32Array(sab);
  const until = (at, seen) => {
    if (spinUs > 0) {
      const end = performance.now() + spinUs / 1000;
      for (let i = 1; Atomics.load(w, at) === seen; i++) {
        if (i % 32 === 0 && performance.now() > end) break;
      }
    }
    Atomics.add(w, 2 + at, 1);
    while (Atomics.load(w, at) === seen) Atomics.wait(w, at, seen, 100);
    Atomics.sub(w, 2 + at, 1);
  };
  const ring = (at, v) => {
    Atomics.store(w, at, v);
    if (Atomics.load(w, 2 + at) !== 0) Atomics.notify(w, at);
  };
  if (role === "server") {
    let seq = 0;
    for (;;) {
      until(0, seq);
      seq = Atomics.load(w, 0);
      if (seq < 0) break;
      ring(1, seq);
    }
    self.postMessage(0);
    return;
  }
  const trip = (i) => { ring(0, i); until(1, i - 1); };
  for (let i = 1; i <= warmup; i++) trip(i);
  const t0 = performance.now();
  for (let i = warmup + 1; i <= warmup + n; i++) trip(i);
  const us = (performance.now() - t0) / n * 1000;
  ring(0, -1);
  self.postMessage(us);
};`;

/** Two threads over shared memory; `spin`: spin before waiting. */
export async function atomicsFloor(
  n: number,
  spin: boolean,
): Promise<number | null> {
  const sab = new SharedArrayBuffer(16);
  const server = workerOf(ATOMICS_WORKER);
  const client = workerOf(ATOMICS_WORKER);
  try {
    let failed!: () => void;
    const failure = new Promise<null>((r) => failed = () => r(null));
    for (const w of [server, client]) {
      w.onerror = (e) => {
        e.preventDefault();
        failed();
      };
    }
    const ended = Promise.race([
      new Promise((r) => server.onmessage = r),
      failure,
    ]);
    const us = Promise.race([
      new Promise<number>((r) => client.onmessage = (e) => r(e.data)),
      failure,
    ]);
    const spinUs = spin ? SPIN_US : 0;
    server.postMessage({ sab, role: "server", spinUs, n, warmup: WARMUP });
    client.postMessage({ sab, role: "client", spinUs, n, warmup: WARMUP });
    const result = await us;
    await ended;
    return result;
  } finally {
    server.terminate();
    client.terminate();
  }
}

/** A child Deno process and its parent over the IPC channel of fork(). */
export async function ipcFloor(n: number): Promise<number | null> {
  const { fork } = await import("node:child_process");
  const child = fork(new URL(import.meta.url).pathname, ["ipc", String(n)], {
    serialization: "advanced",
  });
  return await new Promise((resolve) => {
    child.on("message", (m: { id?: number; us?: number }) => {
      if (m.us !== undefined) {
        child.disconnect();
        resolve(m.us);
        return;
      }
      child.send({ $ipc: "mgr-r", id: m.id, bytes: new Uint8Array(32) });
    });
    child.on("error", () => resolve(null));
    child.on("exit", () => resolve(null));
  });
}

/** The parent thread of the fifo floor: answers each request. */
// Both pipes are opened for reading and writing, which never blocks; a
// one-byte message (from the parent, once the child ended) stops it.
const FIFO_WORKER = `
self.onmessage = (e) => {
  const [req, rep] = e.data;
  const r = Deno.openSync(req, { read: true, write: true });
  const w = Deno.openSync(rep, { read: true, write: true });
  const buf = new Uint8Array(64), out = new Uint8Array(32);
  self.postMessage("ready");
  for (;;) {
    const got = r.readSync(buf);
    if (got === null || got === 1) break;
    w.writeSync(out);
  }
  r.close();
  w.close();
  self.postMessage("done");
};`;

/** The most a process floor may take (ms): then it is reported as
 * skipped. */
const FLOOR_TIMEOUT_MS = 60_000;

/**
 * Runs the child side of a process floor (this file, with `args`) against
 * `worker`, the parent side, once the worker is ready; `stop` then ends the
 * worker. Resolves with the child's µs per round trip, or null when either
 * side failed or FLOOR_TIMEOUT_MS passed.
 */
async function againstChild(
  worker: Worker,
  start: unknown,
  args: string[],
  stop: () => Promise<void>,
): Promise<number | null> {
  let ready!: (ok: boolean) => void;
  let done!: () => void;
  const isReady = new Promise<boolean>((r) => ready = r);
  const isDone = new Promise<void>((r) => done = r);
  const running: { child?: Deno.ChildProcess } = {};
  const kill = () => {
    try {
      running.child?.kill();
    } catch {
      // It ended already.
    }
  };
  worker.onmessage = (e) => e.data === "ready" ? ready(true) : done();
  let failed = false;
  worker.onerror = (e) => {
    e.preventDefault();
    failed = true;
    ready(false);
    done();
    kill();
  };
  worker.postMessage(start);
  if (!await isReady || failed) return null;
  const child = running.child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    kill();
    done();
  }, FLOOR_TIMEOUT_MS);
  try {
    const out = await child.output();
    await stop();
    await isDone;
    const us = Number(new TextDecoder().decode(out.stdout));
    return out.success && !late && us > 0 ? us : null;
  } finally {
    clearTimeout(timer);
  }
}

/** A child Deno process and a parent thread over two named pipes, both
 * blocking in readSync. */
export async function fifoFloor(n: number): Promise<number | null> {
  const dir = await Deno.makeTempDir();
  const worker = workerOf(FIFO_WORKER);
  try {
    const req = `${dir}/req`, rep = `${dir}/rep`;
    for (const path of [req, rep]) {
      const made = await new Deno.Command("mkfifo", { args: [path] }).output();
      if (!made.success) return null;
    }
    return await againstChild(
      worker,
      [req, rep],
      ["fifo", String(n), req, rep],
      async () => {
        // Open for reading too, so that this never waits for a reader.
        const stop = await Deno.open(req, { read: true, write: true });
        await stop.write(new Uint8Array(1));
        stop.close();
      },
    );
  } catch {
    return null;
  } finally {
    worker.terminate();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The FFI part of the mmap floors, as source for both sides. */
const MAP_SOURCE = `
function map(path) {
  const libc = Deno.dlopen("libc.so.6", {
    mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
    open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
    syscall: { parameters: ["i64", "pointer", "i32", "i32", "buffer", "pointer", "i32"], result: "i64" },
  });
  // open(O_RDWR); mmap(PROT_READ|PROT_WRITE, MAP_SHARED); futex(202):
  // FUTEX_WAIT 0 (for at most 10 ms), FUTEX_WAKE 1 (shared, not private:
  // across processes).
  const ts = new BigInt64Array([0n, 10000000n]);
  const fd = libc.symbols.open(new TextEncoder().encode(path + "\\0"), 2, 0);
  const p = libc.symbols.mmap(null, 4096n, 3, 1, fd, 0n);
  const w = new Int32Array(Deno.UnsafePointerView.getArrayBuffer(p, 4096));
  const at = (i) => Deno.UnsafePointer.offset(p, i * 4);
  return {
    w,
    wait: (i, v) => libc.symbols.syscall(202n, at(i), 0, v, ts, null, 0),
    wake: (i) => libc.symbols.syscall(202n, at(i), 1, 1, null, null, 0),
  };
}
// Word 0: the request, 1: the reply, 2-3: their sleepers, 4: nonzero to stop.
function until(s, spin, at, seen) {
  if (spin) {
    while (Atomics.load(s.w, at) === seen && Atomics.load(s.w, 4) === 0);
    return;
  }
  Atomics.add(s.w, 2 + at, 1);
  while (Atomics.load(s.w, at) === seen && Atomics.load(s.w, 4) === 0) {
    s.wait(at, seen);
  }
  Atomics.sub(s.w, 2 + at, 1);
}
function ring(s, spin, at, v) {
  Atomics.store(s.w, at, v);
  if (!spin && Atomics.load(s.w, 2 + at) !== 0) s.wake(at);
}`;

const MAP_WORKER = `${MAP_SOURCE}
self.onmessage = (e) => {
  const [path, spin] = e.data;
  const s = map(path);
  let seq = 0;
  self.postMessage("ready");
  for (;;) {
    until(s, spin, 0, seq);
    seq = Atomics.load(s.w, 0);
    if (seq < 0 || Atomics.load(s.w, 4) !== 0) break;
    ring(s, spin, 1, seq);
  }
  self.postMessage("done");
};`;

/** A child Deno process and a parent thread over a MAP_SHARED mapping. */
export async function mmapFloor(
  n: number,
  spin: boolean,
): Promise<number | null> {
  if (Deno.build.os !== "linux") return null;
  const path = await Deno.makeTempFile({ dir: "/dev/shm" }).catch(() => null);
  if (path === null) return null;
  const worker = workerOf(MAP_WORKER);
  try {
    await Deno.writeFile(path, new Uint8Array(4096));
    return await againstChild(
      worker,
      [path, spin],
      [spin ? "mmap-spin" : "mmap-futex", String(n), path],
      async () => {
        // The stop word, through the file (the same pages as the mapping).
        const stop = new Uint8Array(4096);
        stop[16] = 1;
        await Deno.writeFile(path, stop);
      },
    );
  } catch {
    return null;
  } finally {
    worker.terminate();
    await Deno.remove(path);
  }
}

// ---- the child side ----------------------------------------------------------

if (import.meta.main) {
  const [kind, count, a, b] = Deno.args;
  const n = Number(count);
  if (kind === "ipc") {
    const { default: process } = await import("node:process");
    const msg = { $ipc: "mgr", id: 0, key: "k", bytes: new Uint8Array(48) };
    let i = 0;
    let t0 = 0;
    process.on("message", () => {
      i++;
      if (i === WARMUP) t0 = performance.now();
      if (i === WARMUP + n) {
        process.send!({ us: (performance.now() - t0) / n * 1000 });
        return;
      }
      msg.id = i;
      process.send!(msg);
    });
    process.send!(msg);
  } else if (kind === "fifo") {
    const w = Deno.openSync(a!, { write: true });
    const r = Deno.openSync(b!, { read: true });
    const msg = new Uint8Array(48), buf = new Uint8Array(64);
    const us = timed(n, () => {
      w.writeSync(msg);
      r.readSync(buf);
    });
    w.close();
    r.close();
    console.log(us.toFixed(2));
  } else if (kind === "mmap-spin" || kind === "mmap-futex") {
    const spin = kind === "mmap-spin";
    const side = new Function(
      "path",
      "spin",
      "n",
      "timed",
      `${MAP_SOURCE}
      const s = map(path);
      const us = timed(n, (i) => { ring(s, spin, 0, i); until(s, spin, 1, i - 1); });
      ring(s, spin, 0, -1);
      return us;`,
    );
    console.log((side(a, spin, n, timed) as number).toFixed(2));
  }
}
