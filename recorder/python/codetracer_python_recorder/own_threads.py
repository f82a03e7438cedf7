"""Python's warning that a multi-threaded process forks, held back when the recorder's own
threads are the only other ones.

The recorder runs threads of its own (the trace's compressing thread, the dependency
capture's writer), invisible to ``threading`` but counted by the check Python 3.12+ makes in
``os.fork``: a single-threaded program that forks would print a ``DeprecationWarning`` under
recording that plain Python never prints. At each fork, when the program itself runs
one thread, that one warning is filtered out; the program's own filters are left as they are.
"""

from __future__ import annotations

import os
import re
import sys

_QUIET = ("ignore", re.compile(r"This process \(pid=\d+\) is multi-threaded, use of fork\(\)"),
          DeprecationWarning, None, 0)
_installed = False


def hide_fork_warning() -> None:
    """Installs the fork hook (once per process)."""
    global _installed
    if _installed or not hasattr(os, "register_at_fork"):
        return
    _installed = True
    os.register_at_fork(before=_before)


def _before() -> None:
    """Decides, before each fork, whether that fork's warning is the recorder's doing. The
    filter stays until the next fork decides again: Python 3.13 warns after the fork's
    after-hooks have run, so it cannot be taken back in one."""
    threading = sys.modules.get("threading")
    quiet = threading is None or threading.active_count() == 1
    import warnings

    if (_QUIET in warnings.filters) != quiet:
        if quiet:
            warnings.filters.insert(0, _QUIET)
        else:
            warnings.filters.remove(_QUIET)
        warnings._filters_mutated()
