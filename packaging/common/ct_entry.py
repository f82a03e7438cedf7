"""PyInstaller entry point of the frozen ``ct`` (absolute import, unlike ct/__main__.py)."""

import sys

from ct.cli import main

if __name__ == "__main__":
    sys.exit(main())
