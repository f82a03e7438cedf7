import sys
for i in range(20000):
    print(f"line {i}")
print("stderr line", file=sys.stderr)
