"""Plain output on both streams, arguments echoed."""
import sys

print("hello from", __name__)
print("argv", sys.argv[1:])
print("to stderr", file=sys.stderr)
