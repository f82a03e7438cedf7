"""ct: record Python programs with CodeTracer's recorder and find the traces again.

The package is frozen with PyInstaller for the bundles, so modules import only the standard
library (plus platformdirs, optional) and never look up data files at run time.
"""

__version__ = "0.1.0"
