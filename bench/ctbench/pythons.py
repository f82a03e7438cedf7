"""Locating the CPython interpreters under test (pyenv builds; see design.md section 6)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

DEFAULT_VERSIONS = ("3.12.1", "3.13.0")


def pyenv_root() -> Path:
    root = os.environ.get("PYENV_ROOT")
    if root:
        return Path(root)
    exe = shutil.which("pyenv")
    if exe:
        out = subprocess.run([exe, "root"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    return Path.home() / ".pyenv"


def interpreter(version: str) -> Path | None:
    """The pyenv interpreter for `version` ("3.12" picks the newest 3.12.x installed)."""
    versions = pyenv_root() / "versions"
    exact = versions / version / "bin" / "python"
    if exact.exists():
        return exact
    if versions.is_dir():
        matches = sorted(
            (d for d in versions.iterdir() if d.name.startswith(version + ".")),
            key=lambda d: [int(x) if x.isdigit() else 0 for x in d.name.split(".")],
        )
        for d in reversed(matches):
            if (d / "bin" / "python").exists():
                return d / "bin" / "python"
    return None


def short(version: str) -> str:
    """'3.12.1' -> '3.12': the label used for venv names and report columns."""
    return ".".join(version.split(".")[:2])
