"""ct: record Python programs with CodeTracer's recorder and find the traces again.

The package is frozen with PyInstaller for the bundles, so modules import only the standard
library (plus platformdirs, optional) and never look up data files at run time.
"""

#: ct's version, the one place for it: the root pyproject reads it (``dynamic``), and it is
#: the product version the bundles are named with (``ctbuild.context.project_version``). It
#: moves independently of the recorder's, which is Cargo.toml's (``recorder/Cargo.toml``).
__version__ = "0.1.0"
