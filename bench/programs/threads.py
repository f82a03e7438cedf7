"""Threaded program: worker threads pull jobs from a queue and share a lock-protected counter."""
import queue
import sys
import threading


def collatz_steps(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def worker(jobs, results, lock):
    while True:
        item = jobs.get()
        if item is None:
            return
        steps = collatz_steps(item)
        with lock:
            results[item] = steps


def main(n, workers=4):
    jobs, results, lock = queue.Queue(), {}, threading.Lock()
    threads = [threading.Thread(target=worker, args=(jobs, results, lock)) for _ in range(workers)]
    for t in threads:
        t.start()
    for i in range(1, n + 1):
        jobs.put(i)
    for _ in threads:
        jobs.put(None)
    for t in threads:
        t.join()
    best = max(results, key=results.get)
    print(f"threads({n}) longest collatz chain starts at {best} ({results[best]} steps)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
