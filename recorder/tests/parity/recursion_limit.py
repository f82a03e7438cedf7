import sys
sys.setrecursionlimit(200)


def down(n):
    return down(n + 1)


try:
    down(0)
except RecursionError as exc:
    print("recursion error caught:", type(exc).__name__)
