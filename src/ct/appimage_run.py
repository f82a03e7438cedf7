"""``ct`` started by the AppImage runtime in extract-and-run mode (``APPIMAGE_EXTRACT_AND_RUN=1``
or ``--appimage-extract-and-run``, used where there is no FUSE).

That runtime extracts the image to ``/tmp/appimage_extracted_<digest>``, forks AppRun (which
execs ct) and waits for it, then removes the folder. The pid a shell or supervisor knows is the
runtime's, and the runtime forwards no signal: ``kill PID`` or a Ctrl-C kills the runtime alone,
ct runs on as an orphan, the folder stays behind, and the next run prints "File exists and file
size matches, skipping" for every file in it. So ct, when it finds itself in that position:

* asks the kernel for SIGTERM when the runtime dies (``PR_SET_PDEATHSIG``): a signal sent to the
  runtime reaches ct as SIGTERM, which ct forwards to the program like any SIGTERM sent to it
  alone (``launch`` ignores it when the runtime died of the same Ctrl-C that already reached the
  program);
* removes the extracted folder itself when the runtime died before it could;
* ends with status 128+N instead of dying by signal N while the runtime still waits: the
  runtime reports a child killed by a signal as status 1.

In FUSE mode the runtime execs AppRun, which execs ct: ct has the runtime's pid and none of
this applies.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

PREFIX = "appimage_extracted_"

_state: dict = {}


def _extracted_root() -> Path | None:
    here = Path(sys.executable if getattr(sys, "frozen", False) else __file__).resolve()
    for folder in here.parents:
        if folder.name.startswith(PREFIX):
            return folder
    return None


def setup() -> None:
    """Called first thing by ``ct``: notice the extract-and-run runtime and arm the above."""
    if not sys.platform.startswith("linux") or not os.environ.get("APPIMAGE"):
        return
    root = _extracted_root()
    if root is None:
        return
    runtime = os.getppid()
    try:
        exe = os.readlink(f"/proc/{runtime}/exe")
        same = os.path.samefile(exe, os.environ["APPIMAGE"])
    except OSError:
        return
    if not same:
        return
    _state.update(root=root, runtime=runtime)
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
        prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != runtime:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def active() -> bool:
    return bool(_state)


def runtime_alive() -> bool:
    return bool(_state) and os.getppid() == _state["runtime"]


def is_runtime_death(info) -> bool:
    """Whether a signal taken by ``sigtimedwait`` is the runtime's death (PR_SET_PDEATHSIG)."""
    return (bool(_state) and info.si_signo == signal.SIGTERM
            and info.si_pid == _state["runtime"] and not runtime_alive())


def finish() -> None:
    """Remove the extracted folder when the runtime is gone and can no longer do it."""
    if _state and not runtime_alive():
        shutil.rmtree(_state["root"], ignore_errors=True)
