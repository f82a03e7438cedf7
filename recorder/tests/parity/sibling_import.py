import sys
import sibling_helper

print(sibling_helper.greet("world"), sys.path[0].endswith("parity"))
