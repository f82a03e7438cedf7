"""Suite-wide set-up shared by tests/ and recorder/tests/."""

from __future__ import annotations

import signal


def pytest_configure(config) -> None:
    """Signal tests start programs the way a terminal does, whose signals have their default
    actions. A suite started with some of them ignored (``nohup``, or in the background of
    a non-interactive shell: SIGINT and SIGQUIT) would pass that on to every program, and
    ``ct`` rightly keeps an inherited "ignored"; the defaults are put back first."""
    for name in ("SIGINT", "SIGQUIT", "SIGHUP", "SIGTERM"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is signal.SIG_IGN:
            handler = signal.default_int_handler if name == "SIGINT" else signal.SIG_DFL
            signal.signal(signum, handler)
