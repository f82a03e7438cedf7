"""Towers of Hanoi: recursion with list mutation (moves pegs between three lists)."""
import sys


def hanoi(n, src, dst, via, pegs):
    """Move n disks from src to dst; returns the number of moves made."""
    if n == 0:
        return 0
    moves = hanoi(n - 1, src, via, dst, pegs)
    pegs[dst].append(pegs[src].pop())
    return moves + 1 + hanoi(n - 1, via, dst, src, pegs)


def main(disks):
    pegs = [list(range(disks, 0, -1)), [], []]
    moves = hanoi(disks, 0, 2, 1, pegs)
    assert pegs[2] == list(range(disks, 0, -1)) and moves == 2**disks - 1
    print(f"hanoi({disks}) {moves} moves")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 16)
