"""Naive recursive Fibonacci: call-dominated, tiny frames (worst case for per-call cost)."""
import sys


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def main(n):
    print(f"fib({n}) = {fib(n)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 25)
