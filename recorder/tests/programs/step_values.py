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
    print(shared, got, kept, pair, caught, shown)


main()
