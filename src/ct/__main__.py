"""Allow ``python -m ct`` (used by tests and by anyone without the console script)."""

import sys

from ct.cli import main

if __name__ == "__main__":
    sys.exit(main())
