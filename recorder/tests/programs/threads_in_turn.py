"""Threads that run one after another, so the recording is the same on every run.

Each thread is started and joined on one line: the main thread reaches no other recorded
line while a worker runs, so every step lands in the same order each time. The Thread object
is deleted on that line too: its fields hold the thread's ident, which differs per run.
"""
import threading

shared = {"totals": []}


def worker(n, box):
    total = 0
    for i in range(n):
        total += i
        box.append(total)
    shared["totals"].append(total)
    return total


def main():
    box = []
    size = 0
    for n in (3, 5, 2):
        t = threading.Thread(target=worker, args=(n, box)); t.start(); t.join(); del t
        size = len(box)
    print(size, shared["totals"])


if __name__ == "__main__":
    main()
