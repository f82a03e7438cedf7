"""Build the recorder wheel(s) locally with maturin.

``--zig --compatibility manylinux2014`` because the host gcc links glibc 2.36 and the wheel
would fail the manylinux2014 audit (design.md §6). The recorder uses PyO3 abi3-py312, so
one ``cp312-abi3`` wheel serves 3.12 and 3.13; per-version wheels work too (stage picks).
The release pipeline builds the same crate with cibuildwheel instead.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from . import config, console
from .context import require
from .proc import run


def maturin_command(out: Path, manifest: Path = config.RECORDER_MANIFEST) -> list[str]:
    interpreters = [str(config.pyenv_python(v)) for v in config.PYTHON_VERSIONS]
    interpreters = [i for i in interpreters if Path(i).exists()] or [sys.executable]
    return [
        sys.executable, "-m", "maturin", *config.MATURIN_ARGS,
        "-m", str(manifest), "-o", str(out), "--interpreter", *interpreters,
    ]


def build_wheels(out: Path = config.WHEELS_DIR) -> list[Path]:
    """Build into a clean ``out`` and return the wheels (stage refuses ambiguous sets)."""
    require(config.RECORDER_MANIFEST, "recorder crate", "build_wheels (needs recorder/)")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    # maturin finds zig as `python3 -m ziglang`: make that our interpreter, with ziglang
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""),
               CARGO_TARGET_DIR=str(config.CARGO_TARGET_DIR))
    with console.step("maturin build (release, manylinux2014 via zig)"):
        run(maturin_command(out), env=env)
    wheels = sorted(out.glob("*.whl"))
    if not wheels:
        raise FileNotFoundError(f"maturin produced no wheel in {out}")
    return wheels
