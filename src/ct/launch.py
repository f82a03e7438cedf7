"""Run the recorder (and with it the user's program) as a plain child process.

No pipes: the child inherits stdin, stdout and stderr, so a TTY stays a TTY and output is
live. ``ct`` cannot ``exec`` because it indexes the trace afterwards, so it waits, forwards
termination signals, and returns the child's status the way a shell reports it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from ct.errors import ENVIRONMENT, CtError

_FORWARDED = [s for s in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, s)]
# Signals a terminal sends to the whole foreground process group: the child already got them.
_TTY_SIGNALS = {getattr(signal, s) for s in ("SIGINT", "SIGQUIT") if hasattr(signal, s)}


def child_env() -> dict[str, str] | None:
    """The environment for child processes: ours untouched, except the bundle's changes.

    A frozen onedir ``ct`` runs with ``LD_LIBRARY_PATH`` pointing into the bundle (the
    bootloader saves the user's value in ``LD_LIBRARY_PATH_ORIG``); the program must see the
    user's value, not ours. ``None`` means "inherit exactly".
    """
    if not getattr(sys, "frozen", False):
        return None
    env = dict(os.environ)
    # AppRun keeps APPIMAGE for ct itself (`ct install`); the program must not see it.
    env.pop("APPIMAGE", None)
    for var in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"):
        orig = env.pop(var + "_ORIG", None)
        if orig is not None:
            env[var] = orig
        else:
            env.pop(var, None)
    # the bootloader's own bookkeeping (_PYI_ARCHIVE_FILE, _PYI_PARENT_PROCESS_LEVEL, ...)
    for key in [k for k in env if k.startswith("_PYI_") or k == "_MEIPASS2"]:
        del env[key]
    return env


def _terminal_already_delivered(signum: int) -> bool:
    """True when ``signum`` most likely came from our controlling terminal.

    Ctrl-C / Ctrl-\\ reach every process in the terminal's foreground group, including the
    child; forwarding would deliver it twice (two KeyboardInterrupts). A ``kill -INT`` aimed
    at ct alone must still reach the program, so forward unless we are that foreground group.
    """
    if signum not in _TTY_SIGNALS:
        return False
    if os.name == "nt":
        return True  # console Ctrl-C goes to every process attached to the console
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp():
                return True
        except OSError:
            continue
    return False


def exit_status(returncode: int) -> int:
    """Shell convention: killed by signal N -> 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def run(argv: list[str], env: dict[str, str] | None = None) -> int:
    """Run ``argv`` with inherited stdio, forwarding signals; return the shell-style status."""
    proc: subprocess.Popen | None = None
    pending: list[int] = []

    def handler(signum, _frame):
        if _terminal_already_delivered(signum):
            return
        if proc is None:
            pending.append(signum)
            return
        try:
            proc.send_signal(signum)
        except (ProcessLookupError, OSError):
            pass

    previous = {}
    for name in _FORWARDED:
        sig = getattr(signal, name)
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread, or not allowed here
            pass
    try:
        try:
            proc = subprocess.Popen(argv, env=env)
        except OSError as exc:
            raise CtError(
                f"cannot start {argv[0]}: {exc.strerror or exc}; check the interpreter "
                "(ct doctor shows which one is used)",
                ENVIRONMENT,
            ) from exc
        for signum in pending:
            proc.send_signal(signum)
        returncode = proc.wait()
    finally:
        for sig, old in previous.items():
            try:
                signal.signal(sig, old)
            except (ValueError, OSError):
                pass
    return exit_status(returncode)
