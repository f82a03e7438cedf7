"""Object-heavy code: classes, properties, inheritance and dataclasses in a small bank simulation.

Exercises attribute access and user objects as locals (what a recorder encodes as Struct values).
"""
import sys
from dataclasses import dataclass, field


@dataclass
class Transaction:
    source: int
    target: int
    amount: float


class Account:
    def __init__(self, number, owner, balance=0.0):
        self.number = number
        self.owner = owner
        self.balance = balance
        self.history = []

    def deposit(self, amount):
        self.balance += amount
        self.history.append(amount)

    def withdraw(self, amount):
        if amount > self.balance:
            raise ValueError("insufficient funds")
        self.balance -= amount
        self.history.append(-amount)

    @property
    def activity(self):
        return len(self.history)


class SavingsAccount(Account):
    rate = 0.01

    def add_interest(self):
        self.deposit(self.balance * self.rate)


@dataclass
class Bank:
    accounts: list = field(default_factory=list)
    rejected: int = 0

    def transfer(self, tx):
        src, dst = self.accounts[tx.source], self.accounts[tx.target]
        try:
            src.withdraw(tx.amount)
        except ValueError:
            self.rejected += 1
            return False
        dst.deposit(tx.amount)
        return True


def main(rounds):
    bank = Bank()
    for i in range(50):
        cls = SavingsAccount if i % 3 == 0 else Account
        bank.accounts.append(cls(i, f"owner{i}", 100.0))
    seed = 12345
    for r in range(rounds):
        seed = (seed * 1103515245 + 12345) % 2**31
        tx = Transaction(seed % 50, (seed >> 8) % 50, float(seed % 70))
        bank.transfer(tx)
        if r % 500 == 0:
            for acc in bank.accounts:
                if isinstance(acc, SavingsAccount):
                    acc.add_interest()
    total = sum(a.balance for a in bank.accounts)
    busiest = max(bank.accounts, key=lambda a: a.activity)
    print(f"total={total:.2f} rejected={bank.rejected} busiest={busiest.owner}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40000)
