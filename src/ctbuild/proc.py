"""Running external commands: echo them, fail with the command in the message."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import console
from .errors import BuildError


class CommandFailed(BuildError):
    pass


def run(
    cmd: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = False,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run ``cmd``; with ``capture`` return its text output instead of streaming it."""
    args = [str(c) for c in cmd]
    console.info(f"$ {shlex.join(args)}")
    proc = subprocess.run(
        args,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=capture,
        text=True,
    )
    if check and proc.returncode != 0:
        detail = f"\n{proc.stdout}\n{proc.stderr}" if capture else ""
        raise CommandFailed(f"`{shlex.join(args)}` exited with {proc.returncode}{detail}")
    return proc
