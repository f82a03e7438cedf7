import threading


class Vec:
    def __init__(self, x, y):
        self.x = x
        self.y = y


def scale(v, k=2.5):
    result = Vec(v.x * k, v.y * k)
    return result


def halve(x):
    return x / 2


def countdown(n):
    while n > 0:
        yield n
        n -= 1


def risky(flag):
    try:
        if flag:
            raise KeyError("missing-key")
    except KeyError:
        handled = True
        return handled
    return False


def make_counter(start):
    count = start
    def bump(step):
        nonlocal count
        count += step
        return count
    return bump


def forget(x):
    tmp = x * 2
    del tmp
    return x  # after del


def worker(i, out):
    out.append(i)


greeting = "grüße ✓"
half = halve(5)
scaled = scale(Vec(1, 2))
ticks = list(countdown(3))
risky(True)
bump = make_counter(10)
bump(5)
forget(7)
big = 3**90
long_text = "x" * 1000
long_wide = "é✓😀" * 100
nested = {"a": [1, {"b": (2, 3)}], "c": {4}}
loop = []
loop.append(loop)
out = []
ts = [threading.Thread(target=worker, args=(i, out)) for i in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(greeting, half)
