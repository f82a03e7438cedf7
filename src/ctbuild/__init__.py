"""Build code for CodeTracer's Python recorder bundles.

The noxfile stays thin and calls ``python -m ctbuild <command>``; everything that
decides *how* an artifact is made lives here so it can be unit-tested without nox.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
