import sys
print("ok from", __file__.rsplit("/", 1)[-1], sys.argv[1:])
