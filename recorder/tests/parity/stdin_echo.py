import sys
for line in sys.stdin:
    print("got:", line.rstrip("\n"))
name = "done"
print(name)
