"""A little of everything: recursion, closures, generators, classes, floats, unicode."""


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def make_counter():
    count = 0

    def bump():
        nonlocal count
        count += 1
        return count

    return bump


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def norm(self):
        return (self.x**2 + self.y**2) ** 0.5


def squares(n):
    for i in range(n):
        yield i * i


c = make_counter()
print(fib(12), [c() for _ in range(3)], Point(3, 4).norm(), sum(squares(10)))
print("ünïcödé ✓", {"k": [1, 2.5, None, True]})
try:
    {}["missing"]
except KeyError as exc:
    print("caught", repr(exc))
