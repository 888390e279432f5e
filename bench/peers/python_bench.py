"""Python multiprocessing peer figures for bench/bench.ts.

Usage: python3 bench/peers/python_bench.py [N] [REPS]   (defaults 100000 5)

Progress goes to stderr; the LAST line of stdout is one JSON object:
  imap1_us, map1_us, apply_async_us, map_default_us   µs per item (median)
  cpu_speedup                                          serial / Pool(2) time
  process_start_join_ms, process_start_join_spawn_ms   ms (median)
  pool_first_result_ms, pool_first_result_spawn_ms     ms (median)
  payload_16x4mib_ms                                   ms (median)
  version                                              platform.python_version()
"""

import json
import multiprocessing
import platform
import statistics
import sys
import time


# ---- targets (top level so that workers, fork or spawn, can find them) ------


def cube(x):
    return x * x * x


def spin(ms):
    """Busy-waits `ms` milliseconds: the CPU-bound task."""
    end = time.perf_counter() + ms / 1000.0
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def size_of(data):
    return len(data)


def noop():
    pass


# ---- helpers ----------------------------------------------------------------


def log(msg):
    print(f"[python] {msg}", file=sys.stderr, flush=True)


def now_ms():
    return time.perf_counter() * 1000.0


def median_of(reps, fn):
    return statistics.median(fn() for _ in range(reps))


# ---- workloads --------------------------------------------------------------


def imap1(pool, n):
    t0 = now_ms()
    out = list(pool.imap(cube, range(n), chunksize=1))
    dt = now_ms() - t0
    assert len(out) == n and out[-1] == cube(n - 1)
    return dt * 1000.0 / n


def map1(pool, n):
    t0 = now_ms()
    out = pool.map(cube, range(n), chunksize=1)
    dt = now_ms() - t0
    assert len(out) == n and out[-1] == cube(n - 1)
    return dt * 1000.0 / n


def apply_async(pool, n):
    t0 = now_ms()
    handles = [pool.apply_async(cube, (i,)) for i in range(n)]
    out = [h.get() for h in handles]
    dt = now_ms() - t0
    assert len(out) == n and out[-1] == cube(n - 1)
    return dt * 1000.0 / n


def map_default(pool, n):
    t0 = now_ms()
    out = pool.map(cube, range(n))
    dt = now_ms() - t0
    assert len(out) == n and out[-1] == cube(n - 1)
    return dt * 1000.0 / n


def cpu_speedup(pool):
    t0 = now_ms()
    for _ in range(200):
        spin(10)
    serial = now_ms() - t0
    t0 = now_ms()
    pool.map(spin, [10] * 200, chunksize=1)
    parallel = now_ms() - t0
    return serial / parallel


def start_join(ctx):
    t0 = now_ms()
    p = ctx.Process(target=noop)
    p.start()
    p.join()
    dt = now_ms() - t0
    assert p.exitcode == 0
    return dt


def pool_first_result(ctx):
    t0 = now_ms()
    pool = ctx.Pool(2)
    r = pool.apply(cube, (2,))
    dt = now_ms() - t0
    assert r == 8
    pool.terminate()
    pool.join()
    return dt


def payload(pool, payloads):
    t0 = now_ms()
    out = pool.map(size_of, payloads, chunksize=1)
    dt = now_ms() - t0
    assert out == [len(p) for p in payloads]
    return dt


# ---- main -------------------------------------------------------------------


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    log(f"Python {platform.python_version()} N={n} REPS={reps}")

    fork = multiprocessing.get_context("fork")
    spawn = multiprocessing.get_context("spawn")
    r = {}

    with fork.Pool(2) as pool:
        pool.map(cube, range(1000))  # warm-up, not timed

        log("imap, chunksize 1…")
        r["imap1_us"] = median_of(reps, lambda: imap1(pool, n))
        log("map, chunksize 1…")
        r["map1_us"] = median_of(reps, lambda: map1(pool, n))
        log("apply_async…")
        r["apply_async_us"] = median_of(reps, lambda: apply_async(pool, n))
        log("map, default chunksize…")
        r["map_default_us"] = median_of(reps, lambda: map_default(pool, n))
        log("cpu speed-up (200 × spin(10))…")
        r["cpu_speedup"] = median_of(reps, lambda: cpu_speedup(pool))

        log("16 × 4 MiB payloads…")
        payloads = [bytes([i]) * (4 * 1024 * 1024) for i in range(16)]
        r["payload_16x4mib_ms"] = median_of(reps, lambda: payload(pool, payloads))
        del payloads

    log("Process start→join (fork)…")
    r["process_start_join_ms"] = median_of(20, lambda: start_join(fork))
    log("Process start→join (spawn)…")
    r["process_start_join_spawn_ms"] = median_of(5, lambda: start_join(spawn))
    log("Pool(2) → first result (fork)…")
    r["pool_first_result_ms"] = median_of(5, lambda: pool_first_result(fork))
    log("Pool(2) → first result (spawn)…")
    r["pool_first_result_spawn_ms"] = median_of(5, lambda: pool_first_result(spawn))

    r = {k: round(v, 3) for k, v in r.items()}
    r["version"] = platform.python_version()
    log(json.dumps(r))
    print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
