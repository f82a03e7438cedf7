import sys

print(sys.stdout.isatty(), sys.stderr.isatty(), sys.stdin.isatty())
