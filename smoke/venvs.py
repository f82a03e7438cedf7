"""Fresh virtual environments standing in for "the user's own Python"."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PYENV_VERSIONS = {"3.12": "3.12.1", "3.13": "3.13.0"}


def base_interpreter(version: str) -> Path:
    """The pyenv interpreter for ``3.12``/``3.13`` (or an explicit path)."""
    if os.sep in version:
        return Path(version)
    root = os.environ.get("PYENV_ROOT")
    if not root:
        try:
            root = subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            root = str(Path.home() / ".pyenv")
    exact = PYENV_VERSIONS.get(version, version)
    path = Path(root) / "versions" / exact / "bin" / "python"
    if path.exists():
        return path
    found = shutil.which(f"python{version}")
    if found:
        return Path(found)
    raise SystemExit(f"smoke: no Python {version} (looked for {path} and python{version})")


def make_venv(version: str, dest: Path) -> Path:
    """A venv without pip and without the recorder; returns its python."""
    if dest.exists():
        shutil.rmtree(dest)
    subprocess.run([str(base_interpreter(version)), "-m", "venv", "--without-pip", str(dest)],
                   check=True)
    bindir = dest / ("Scripts" if sys.platform == "win32" else "bin")
    python = bindir / ("python.exe" if sys.platform == "win32" else "python")
    probe = subprocess.run([str(python), "-c", "import codetracer_python_recorder"],
                           capture_output=True)
    if probe.returncode == 0:
        raise SystemExit(f"smoke: the fresh venv {dest} can import the recorder already")
    return python
