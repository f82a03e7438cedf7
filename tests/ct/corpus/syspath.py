"""What the program sees of its environment: sys.path, argv[0], __file__, env leaks."""
import os
import sys

print("argv0", sys.argv[0])
print("file", __file__)
print("name", __name__)
print("path0", sys.path[0])
print("path", sys.path)
print("PYTHONPATH", os.environ.get("PYTHONPATH"))
print("main", sys.modules["__main__"].__file__ == __file__)
