def inner(x):
    return 1 / x


def outer():
    try:
        inner(0)
    except ZeroDivisionError as exc:
        raise RuntimeError("wrapped") from exc


print("before")
outer()
