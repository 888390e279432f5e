"""Python multiprocessing peer figures for bench/shared_bench.ts.

Usage: python3 bench/peers/python_shared.py [N] [REPS]   (defaults 100000 3)

Progress goes to stderr; the LAST line of stdout is one JSON object:
  queue_int_items_s, queue_obj_items_s   Queue throughput, producer process
                                         to consumer process (median)
  lock_pairs_s                           acquire+release pairs/s, one process
  lock_contended_pairs_s                 pairs/s, 2 processes on one lock
  array_read_ns, array_write_ns          ns per arr[i] / arr[i] = v on a
                                         synchronized Array('i', 1024) (best)
  raw_array_read_ns, raw_array_write_ns  the same with lock=False
  version                                platform.python_version()
"""

import json
import multiprocessing
import platform
import statistics
import sys
import time


def log(msg):
    print(f"[python] {msg}", file=sys.stderr, flush=True)


def producer(queue, n, objects, start):
    start.wait()
    if objects:
        for i in range(n):
            queue.put({"id": i, "name": "item"})
    else:
        for i in range(n):
            queue.put(i)


def consumer(queue, n, start, done):
    start.wait()
    for _ in range(n):
        queue.get()
    done.set()


def lock_loop(lock, n, start):
    start.wait()
    for _ in range(n):
        lock.acquire()
        lock.release()


def queue_rate(n, objects):
    queue = multiprocessing.Queue()
    start = multiprocessing.Barrier(3)
    done = multiprocessing.Event()
    ps = [
        multiprocessing.Process(target=producer, args=(queue, n, objects, start)),
        multiprocessing.Process(target=consumer, args=(queue, n, start, done)),
    ]
    for p in ps:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    done.wait()
    elapsed = time.perf_counter() - t0
    for p in ps:
        p.join()
    return n / elapsed


def lock_rate(n):
    lock = multiprocessing.Lock()
    t0 = time.perf_counter()
    for _ in range(n):
        lock.acquire()
        lock.release()
    return n / (time.perf_counter() - t0)


def lock_contended_rate(n):
    lock = multiprocessing.Lock()
    start = multiprocessing.Barrier(3)
    ps = [
        multiprocessing.Process(target=lock_loop, args=(lock, n, start))
        for _ in range(2)
    ]
    for p in ps:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    for p in ps:
        p.join()
    return 2 * n / (time.perf_counter() - t0)


ELEMENTS = 1024


def array_access_ns(n, reps, lock):
    """ns per read and per write of one element (best of reps loops)."""
    arr = multiprocessing.Array("i", ELEMENTS, lock=lock)
    mask = ELEMENTS - 1

    def read():
        s = 0
        for k in range(n):
            s += arr[k & mask]
        return s

    def write():
        for k in range(n):
            arr[k & mask] = k

    def best(loop):
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            loop()
            times.append((time.perf_counter() - t0) * 1e9 / n)
        return min(times)

    return best(read), best(write)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    out = {"version": platform.python_version()}
    log(f"Queue, {n} ints")
    out["queue_int_items_s"] = statistics.median(
        queue_rate(n, False) for _ in range(reps))
    log(f"Queue, {n} small dicts")
    out["queue_obj_items_s"] = statistics.median(
        queue_rate(n, True) for _ in range(reps))
    log(f"Lock, {n * 10} pairs")
    out["lock_pairs_s"] = statistics.median(
        lock_rate(n * 10) for _ in range(reps))
    log(f"Lock, 2 processes x {n} pairs")
    out["lock_contended_pairs_s"] = statistics.median(
        lock_contended_rate(n) for _ in range(reps))
    log(f"Array element access, {n * 10} per loop")
    out["array_read_ns"], out["array_write_ns"] = array_access_ns(
        n * 10, reps, True)
    out["raw_array_read_ns"], out["raw_array_write_ns"] = array_access_ns(
        n * 10, reps, False)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
