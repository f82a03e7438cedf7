"""Exercises every value kind and control-flow shape the recorder encodes."""
import threading


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def gen(k):
    for i in range(k):
        yield i * 1.5


def worker(out, i):
    out.append(i * i)


values = {
    "none": None, "yes": True, "big": 2**100, "neg_big": -(2**70), "f": 0.1, "nan": float("nan"),
    "s": "ünïcode ✓", "b": b"\x00bytes'", "t": (1, "a"), "l": [1, 2, 3] * 10, "st": {1, 2},
    "fs": frozenset({3}), "p": Point(1, [Point(2, None)]),
}
neg_big = -(2**70)
point = Point(0.5, "y")
cyc = []
cyc.append(cyc)
total = sum(gen(4))
try:
    raise ValueError("handled")
except ValueError as exc:
    caught = exc.args[0]
out = []
threads = [threading.Thread(target=worker, args=(out, i)) for i in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("fib", fib(6), total, sorted(out))
