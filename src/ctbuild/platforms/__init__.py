"""The platform registry: one module per artifact kind plus one ``PLATFORMS`` entry.

Like cibuildwheel's ``platforms/``, each module exposes two functions::

    build(ctx: BuildContext) -> Path   # makes the artifact in ctx.dist and returns it
    verify(artifact: Path) -> None     # structural checks; raises VerifyError on failure

Everything else that lists artifact kinds reads ``PLATFORMS``: the ``python -m ctbuild
build|deps`` choices, the Debian packages (``ctbuild.deps``), the smoke runner
(``smoke.runners``) and the ``build_<name>`` nox sessions. A new artifact type (a ``.deb``,
say) is one module here and one entry below.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Protocol

from ..context import BuildContext
from ..errors import BuildError


class VerifyError(BuildError):
    """An artifact failed a structural check."""


class UnknownPlatform(BuildError, ValueError):
    """A platform name that is not in ``PLATFORMS``."""


class Platform(Protocol):
    def build(self, ctx: BuildContext) -> Path: ...

    def verify(self, artifact: Path) -> None: ...


@dataclass(frozen=True)
class Spec:
    """What the build, its dependencies, its smoke test and nox need to know of one kind."""

    target_os: str  #: whose wheels and shims it bundles (``config.TARGET_OSES``)
    suffix: str  #: how the artifact's file name ends
    description: str  #: the nox session's one line
    #: binary -> Debian package, needed to build and verify it on a Debian host
    debian: Mapping[str, str] = field(default_factory=dict)
    #: library -> alternative Debian package names (checked with dpkg, no binary to find)
    libraries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: binary -> Debian package, used only by its tests (wine64 runs the installer)
    test_debian: Mapping[str, str] = field(default_factory=dict)
    #: built here from this repository's wheels and frozen ct (else from pipeline inputs)
    local_inputs: bool = False
    #: ``smoke.runners`` kind that runs the artifact file itself; None: smoke the unpacked
    #: bundle on its own OS instead
    smoke_runner: str | None = None


PLATFORMS: dict[str, Spec] = {
    "appimage": Spec(
        "linux", ".AppImage", "wheels, frozen ct, stage, shims, the AppImage, then its smoke test",
        debian={"mksquashfs": "squashfs-tools", "unsquashfs": "squashfs-tools",
                "desktop-file-validate": "desktop-file-utils", "squashfuse": "squashfuse"},
        libraries={"libfuse2": ("libfuse2", "libfuse2t64")},
        local_inputs=True, smoke_runner="appimage",
    ),
    "dmg": Spec(
        "macos", ".dmg", "macOS DMG from CODETRACER_RELEASE_ARTIFACTS (or a layout test)",
        debian={"xorriso": "xorriso", "7z": "p7zip-full", "dmg2img": "dmg2img"},
    ),
    "windows": Spec(
        "windows", ".exe", "Windows installer from CODETRACER_RELEASE_ARTIFACTS (or a layout test)",
        debian={"makensis": "nsis", "7z": "p7zip-full"},
        test_debian={"wine64": "wine64"},
    ),
}


def spec(name: str) -> Spec:
    """The registry entry of ``name``, or a one-line error listing the known ones."""
    if name not in PLATFORMS:
        raise UnknownPlatform(f"unknown platform {name!r}; expected one of {', '.join(PLATFORMS)}")
    return PLATFORMS[name]


def get(name: str) -> ModuleType:
    """Import the platform module ``name`` (a ``PLATFORMS`` key, also its module's name)."""
    spec(name)
    module = importlib.import_module(f"{__name__}.{name}")
    for attr in ("build", "verify"):
        if not callable(getattr(module, attr, None)):
            raise TypeError(f"platform module {module.__name__} lacks {attr}()")
    return module


def target_os(name: str) -> str:
    """The OS whose wheels and shims a platform bundles."""
    return spec(name).target_os


def for_artifact(artifact: Path) -> str:
    """Platform name of an artifact, from its file name."""
    for name, entry in PLATFORMS.items():
        if artifact.name.endswith(entry.suffix):
            return name
    raise UnknownPlatform(
        f"cannot tell the platform of {artifact.name}: no name ends with "
        + ", ".join(e.suffix for e in PLATFORMS.values())
    )
