"""Freeze ``ct`` into a PyInstaller onedir (``build/freeze/ct/``).

Onedir, not onefile: onefile unpacks itself on every start (~390 ms vs ~80 ms here,
design.md §6), and ``ct`` is started for every recording. The entry is a tiny launcher in
``packaging/common`` because ``src/ct/__main__.py`` may use relative imports, which a
PyInstaller entry script cannot.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from pathlib import Path

from . import config, console
from .context import require
from .proc import run

LAUNCHER = config.COMMON_DIR / "ct_entry.py"
CT_DISTRIBUTION = "codetracer-ct"


def pyinstaller_command(out: Path, work: Path) -> list[str]:
    cmd = [
        sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--onedir",
        "--name", "ct", "--console",
        "--distpath", str(out), "--workpath", str(work / "work"), "--specpath", str(work),
        "--paths", str(config.ROOT / "src"),
        "--collect-submodules", "ct",
        # ct.ctfs reads trace.ct chunks with zstandard; CPython loads its C backend
        "--hidden-import", "zstandard.backend_c",
        "--exclude-module", "zstandard.backend_cffi",
        # the recorder is never frozen in: it runs in the user's interpreter
        "--exclude-module", config.RECORDER_DIST_NAME,
        "--exclude-module", "ctbuild",
        "--exclude-module", "tkinter",
    ]
    if sys.platform.startswith("linux"):
        cmd.append("--strip")  # libpython alone shrinks from ~30 MB to ~5 MB
    try:
        importlib.metadata.distribution(CT_DISTRIBUTION)
        cmd += ["--copy-metadata", CT_DISTRIBUTION]  # so `ct --version` can read it
    except importlib.metadata.PackageNotFoundError:
        pass
    return [*cmd, str(LAUNCHER)]


def freeze_ct(out: Path = config.FREEZE_DIR) -> Path:
    """Freeze ct and return the onedir (``out/ct``)."""
    require(config.CT_SOURCE / "cli.py", "ct package", "freeze_ct (needs src/ct)")
    work = config.BUILD / "pyinstaller"
    shutil.rmtree(out / "ct", ignore_errors=True)
    with console.step("PyInstaller onedir of ct"):
        run(pyinstaller_command(out, work))
    exe = out / "ct" / "ct"
    if not exe.exists() and not (out / "ct" / "ct.exe").exists():
        raise FileNotFoundError(f"PyInstaller produced no executable in {out / 'ct'}")
    run([str(exe if exe.exists() else out / "ct" / "ct.exe"), "--version"])
    return out / "ct"
