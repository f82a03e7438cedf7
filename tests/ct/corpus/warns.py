"""A warning goes to stderr with the program's file and line."""
import warnings

warnings.warn("careful", UserWarning, stacklevel=1)
print("done")
