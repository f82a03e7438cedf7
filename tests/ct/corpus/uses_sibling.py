"""Imports a module beside it (sys.path[0] must be the script's directory)."""
import helper_mod

print(helper_mod.greet("sibling"))
