"""Paths where a step's variables are easy to get wrong when only changes are written."""


def mutate(items, depth):
    # The caller's list changes while the caller is not running.
    items.append(depth)
    if depth:
        mutate(items, depth - 1)
    return len(items)


def counter():
    total = 0

    def bump(n):
        nonlocal total
        total += n
        return total

    bump(2)
    bump(3)
    return total


def numbers(limit):
    i = 0
    while i < limit:
        sent = yield i
        i += 1 if sent is None else sent


def rebinding():
    x = [1]
    y = x
    x = [2]
    del y
    y = "again"
    return x, y


def unwinding(n):
    scratch = [n]
    if n == 0:
        raise ValueError("bottom")
    return unwinding(n - 1)


def secrets():
    password = "hunter2"
    alias = password
    return alias


class Box:
    def __init__(self):
        self.n = 1
        self.tag = "a"
        self.inner = [1]


def in_place():
    row = [1, 2, 3]
    table = {"k": 1}
    box = Box()
    holder = [[box]]  # box's fields sit at the depth cap inside holder
    for _ in range(3):
        row[0] = row[0] + 1  # same length, same place: only the first item changed
        table["k"] += 10
        box.n += 100
        box.inner = {"x": 1} if isinstance(box.inner, list) else [1]
    return row, table, holder


def main():
    shared = []
    mutate(shared, 3)
    shared.append("after")
    gen = numbers(5)
    got = [next(gen), gen.send(2), next(gen)]
    gen.close()
    kept = counter()
    pair = rebinding()
    try:
        unwinding(3)
    except ValueError as exc:
        caught = str(exc)
    shown = secrets()
    in_place()
    print(shared, got, kept, pair, caught, shown)


main()
