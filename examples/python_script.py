"""A small but real program that every smoke test records.

It has functions, a loop, a class, recursion and an exception that is raised and caught,
and prints the same output on every run and every Python >= 3.12.
"""

import sys


class Account:
    """A bank account that refuses to go negative."""

    def __init__(self, owner: str, balance: int = 0) -> None:
        self.owner = owner
        self.balance = balance
        self.history: list[int] = []

    def deposit(self, amount: int) -> int:
        self.balance += amount
        self.history.append(amount)
        return self.balance

    def withdraw(self, amount: int) -> int:
        if amount > self.balance:
            raise ValueError(f"{self.owner}: cannot withdraw {amount} from {self.balance}")
        self.balance -= amount
        self.history.append(-amount)
        return self.balance


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def main(argv: list[str]) -> int:
    squares = [i * i for i in range(6)]
    print("squares:", squares)
    print("fib(10) =", fib(10))
    print("mean =", round(mean([float(s) for s in squares]), 3))

    account = Account("ada", 10)
    for amount in (5, 20, 1):
        account.deposit(amount)
    try:
        account.withdraw(100)
    except ValueError as exc:
        print("caught:", exc)
    account.withdraw(6)
    print("balance:", account.balance, "history:", account.history)
    print("args:", argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
