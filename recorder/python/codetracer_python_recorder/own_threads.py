"""Python's warning that a multi-threaded process forks, held back when the recorder's own
threads are the only other ones.

The recorder runs threads of its own (the trace's compressing thread, the dependency
capture's writer), invisible to ``threading`` but counted by the check Python 3.12+ makes in
``os.fork``: a single-threaded program that forks would print a ``DeprecationWarning`` under
recording that plain Python never prints. Around each fork, when the program itself runs
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
    """Installs the fork hooks (once per process)."""
    global _installed
    if _installed or not hasattr(os, "register_at_fork"):
        return
    _installed = True
    os.register_at_fork(before=_before, after_in_parent=_after, after_in_child=_after)


def _before() -> None:
    threading = sys.modules.get("threading")
    if threading is None or threading.active_count() == 1:
        import warnings

        warnings.filters.insert(0, _QUIET)
        warnings._filters_mutated()


def _after() -> None:
    import warnings

    if _QUIET in warnings.filters:
        warnings.filters.remove(_QUIET)
        warnings._filters_mutated()
