"""Generator pipeline: chained generators, yield from, and generator.send (PY_YIELD/PY_RESUME heavy)."""
import sys


def numbers(n):
    yield from range(n)


def squares(items):
    for x in items:
        yield x * x


def only_odd(items):
    for x in items:
        if x % 2:
            yield x


def windows(items, size):
    window = []
    for x in items:
        window.append(x)
        if len(window) == size:
            yield tuple(window)
            window.pop(0)


def averager():
    total, count, avg = 0, 0, None
    while True:
        value = yield avg
        total += value
        count += 1
        avg = total / count


def main(n):
    avg = averager()
    next(avg)
    last = None
    for win in windows(only_odd(squares(numbers(n))), 3):
        last = avg.send(sum(win))
    print(f"generators({n}) average={last:.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60000)
