"""An uncaught exception: the traceback must show only the program's own frames."""


def inner(n):
    return 10 // n


def outer():
    return inner(0)


print("before")
outer()
