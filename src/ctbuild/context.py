"""What a platform builder gets handed: one immutable description of a build.

Every builder (AppImage, DMG, Windows) receives a :class:`BuildContext` and finds its
inputs there, so builders never guess paths and the CLI decides them in one place.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path

from . import config
from .errors import BuildError


class MissingInput(BuildError):
    """An input of a build step does not exist; the message names the step producing it."""


@dataclass(frozen=True)
class BuildContext:
    root: Path  #: repository root
    dist: Path  #: where artifacts land (``dist/``)
    build: Path  #: scratch space (``build/``)
    version: str  #: product version, from the root pyproject
    frozen_ct: Path  #: PyInstaller onedir of ct (holds the ``ct``/``ct.exe`` executable)
    resources_python: Path  #: staged ``resources/python`` dir (manifest.json inside)
    shims_dir: Path  #: rendered launcher shims for ``target_os``
    target_os: str  #: ``linux`` | ``macos`` | ``windows``

    @classmethod
    def default(cls, target_os: str = "linux", root: Path | None = None) -> BuildContext:
        """The context the nox sessions use: everything under the repository's build/."""
        if target_os not in config.TARGET_OSES:
            raise ValueError(f"unknown target os {target_os!r}; expected {config.TARGET_OSES}")
        root = Path(root) if root else config.ROOT
        build = root / "build"
        return cls(
            root=root,
            dist=root / "dist",
            build=build,
            version=project_version(root),
            frozen_ct=build / "freeze" / "ct",
            resources_python=build / "stage" / target_os / "resources" / "python",
            shims_dir=build / "shims" / target_os,
            target_os=target_os,
        )

    def with_(self, **changes) -> BuildContext:
        """A copy with some fields changed (tests point contexts at temporary dirs)."""
        return replace(self, **changes)

    @property
    def ct_executable(self) -> Path:
        """The frozen ct executable inside the onedir."""
        return self.frozen_ct / ("ct.exe" if self.target_os == "windows" else "ct")

    def require_inputs(self) -> None:
        """Fail early, naming the nox session that makes a missing input."""
        require(self.ct_executable, "frozen ct", "freeze_ct")
        require(self.resources_python / "manifest.json", "staged recorder", "stage")
        require(self.shims_dir, "launcher shims", "shims")


def require(path: Path, what: str, session: str) -> Path:
    """Return ``path`` or raise :class:`MissingInput` telling how to make it."""
    if not path.exists():
        raise MissingInput(f"{what} not found at {path}; run `nox -s {session}` first")
    return path


def project_version(root: Path | None = None) -> str:
    """The product version: ct's ``__version__`` (``src/ct/__init__.py``), which the root
    pyproject also reads (``dynamic = ["version"]``). Read as text: ct is not imported."""
    root = Path(root) if root else config.ROOT
    text = (root / "src" / "ct" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    if found is None:
        raise BuildError(f"no __version__ = \"...\" line in {root / 'src/ct/__init__.py'}")
    return found.group(1)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed (artifacts can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
