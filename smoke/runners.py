"""How to start ``ct`` and ``ct-python-recorder`` from each kind of artifact.

A runner turns "run ct with these arguments" into a command line plus environment for one
artifact kind. AppImages run directly (or with ``APPIMAGE_EXTRACT_AND_RUN=1`` when FUSE
is missing); unpacked bundles (an extracted AppDir, a mounted ``CodeTracer.app``, a
Windows install dir) use :class:`BundleDirRunner`, which the release pipeline points at
the DMG's and installer's results on their own runners.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Runner:
    artifact: Path
    env: dict[str, str] = field(default_factory=dict)  #: extra environment for every run

    def ct(self, *args: str) -> list[str]:
        raise NotImplementedError

    def shim(self, *args: str) -> list[str]:
        raise NotImplementedError

    def describe(self) -> str:
        return f"{type(self).__name__}({self.artifact})"


def fuse_works(artifact: Path) -> bool:
    """True when the AppImage can mount itself (libfuse2, /dev/fuse, and root or fusermount)."""
    if not os.path.exists("/dev/fuse"):
        return False
    env = {k: v for k, v in os.environ.items() if k != "APPIMAGE_EXTRACT_AND_RUN"}
    try:
        probe = subprocess.run(
            [str(artifact), "--version"], env=env, capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@dataclass
class AppImageRunner(Runner):
    """``ct`` is the AppImage itself; the shim is a symlink named ``ct-python-recorder``."""

    link_dir: Path | None = None
    mode: str = "auto"  #: auto | fuse | extract

    def __post_init__(self) -> None:
        self.artifact = self.artifact.resolve()
        use_fuse = self.mode == "fuse" or (self.mode == "auto" and fuse_works(self.artifact))
        if not use_fuse:
            self.env["APPIMAGE_EXTRACT_AND_RUN"] = "1"
        self.mode = "fuse" if use_fuse else "extract"

    def ct(self, *args: str) -> list[str]:
        return [str(self.artifact), *args]

    def shim(self, *args: str) -> list[str]:
        assert self.link_dir is not None, "AppImageRunner needs link_dir for the shim link"
        link = self.link_dir / "ct-python-recorder"
        if not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(self.artifact)
        return [str(link), *args]

    def describe(self) -> str:
        return f"AppImage {self.artifact.name} ({self.mode})"


@dataclass
class BundleDirRunner(Runner):
    """An unpacked bundle: AppDir, ``CodeTracer.app`` or a Windows install dir."""

    def _first(self, candidates: list[str]) -> Path:
        for rel in candidates:
            path = self.artifact / rel
            if path.exists():
                return path
        raise FileNotFoundError(f"none of {candidates} in {self.artifact}")

    def ct(self, *args: str) -> list[str]:
        exe = self._first(["usr/bin/ct", "Contents/MacOS/ct", "ct.exe", "ct"])
        return [str(exe), *args]

    def shim(self, *args: str) -> list[str]:
        shim = self._first(
            ["bin/ct-python-recorder", "Contents/Resources/bin/ct-python-recorder",
             "bin/ct-python-recorder.cmd"]
        )
        if shim.suffix == ".cmd":
            return ["cmd.exe", "/c", str(shim), *args]
        return [str(shim), *args]


#: runner kinds, named by ``smoke_runner`` in ctbuild's ``PLATFORMS`` registry
RUNNERS: dict[str, Callable[[Path, Path, str], Runner]] = {
    "appimage": lambda artifact, workdir, mode: AppImageRunner(
        artifact, link_dir=workdir / "links", mode=mode),
}


def _runner_kind(artifact: Path) -> str | None:
    """The registry's runner kind for an artifact file (ctbuild lives in src/)."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    if src not in sys.path:
        sys.path.append(src)
    from ctbuild.errors import BuildError
    from ctbuild.platforms import PLATFORMS, for_artifact

    try:
        return PLATFORMS[for_artifact(artifact)].smoke_runner
    except BuildError:
        return None


def runner_for(artifact: Path, workdir: Path, mode: str = "auto") -> Runner:
    """Pick the runner for ``artifact`` by its kind."""
    if artifact.is_dir():
        return BundleDirRunner(artifact)
    kind = _runner_kind(artifact)
    if kind is None:
        raise SystemExit(
            f"smoke: no runner for {artifact.name} on {sys.platform}; mount/install it and pass "
            f"the bundle directory (CodeTracer.app or the install dir) instead"
        )
    return RUNNERS[kind](artifact, workdir, mode)
