"""Reads stdin to the end and echoes it transformed."""
import sys

data = sys.stdin.read()
print(len(data), data.upper(), end="")
