"""Python multiprocessing.Manager peer figures for bench/manager_bench.ts.

Usage: python3 bench/peers/python_manager.py [N] [REPS]   (defaults 20000 3)

One call at a time (latency): N sequential d[k] = v, then N sequential d[k],
on a Manager().dict(), from the main process and from a child Process.
Progress goes to stderr; the LAST line of stdout is one JSON object:
  main_set_us, main_get_us     µs per call from the main process (median)
  child_set_us, child_get_us   µs per call from a child process (median)
  version                      platform.python_version()
"""

import json
import multiprocessing
import platform
import statistics
import sys
import time

WARMUP = 500


def log(msg):
    print(f"[python] {msg}", file=sys.stderr, flush=True)


def timed(d, n):
    for i in range(WARMUP):
        d["k"] = i
    t0 = time.perf_counter()
    for i in range(n):
        d["k"] = i
    set_us = (time.perf_counter() - t0) / n * 1e6
    t0 = time.perf_counter()
    for _ in range(n):
        d["k"]
    get_us = (time.perf_counter() - t0) / n * 1e6
    return set_us, get_us


def child(d, n, out):
    set_us, get_us = timed(d, n)
    out["set"] = set_us
    out["get"] = get_us


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with multiprocessing.Manager() as manager:
        d = manager.dict()
        out = manager.dict()
        main_set, main_get, child_set, child_get = [], [], [], []
        for r in range(reps):
            log(f"main process, {n} calls, rep {r + 1}")
            s, g = timed(d, n)
            main_set.append(s)
            main_get.append(g)
            log(f"child process, {n} calls, rep {r + 1}")
            p = multiprocessing.Process(target=child, args=(d, n, out))
            p.start()
            p.join()
            child_set.append(out["set"])
            child_get.append(out["get"])
    print(json.dumps({
        "main_set_us": statistics.median(main_set),
        "main_get_us": statistics.median(main_get),
        "child_set_us": statistics.median(child_set),
        "child_get_us": statistics.median(child_get),
        "version": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
