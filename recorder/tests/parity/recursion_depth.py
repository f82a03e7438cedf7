"""Prints how deep plain recursion gets under the default limit."""


def down(n):
    try:
        return down(n + 1)
    except RecursionError:
        return n


print(down(0))
