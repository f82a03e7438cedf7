"""A real test suite: pytest over the first SIZE test modules of `toolz` (installed from PyPI).

toolz is pure Python and ships its tests inside the wheel, so nothing third-party is vendored.
The size is the number of test modules (sorted by name) to run.
"""
import os
import sys

import pytest
import toolz.tests


def main(modules):
    test_dir = os.path.dirname(toolz.tests.__file__)
    files = sorted(f for f in os.listdir(test_dir) if f.startswith("test_") and f.endswith(".py"))
    chosen = [os.path.join(test_dir, f) for f in files[:modules]]
    status = pytest.main(["-q", "-p", "no:cacheprovider", "--no-header", *chosen])
    sys.exit(int(status))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 13)
