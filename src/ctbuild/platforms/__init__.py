"""The platform interface: one module per artifact kind, selected by name.

Like cibuildwheel's ``platforms/``, each module exposes two functions::

    build(ctx: BuildContext) -> Path   # makes the artifact in ctx.dist and returns it
    verify(artifact: Path) -> None     # structural checks; raises VerifyError on failure

Modules: ``appimage`` (Linux), ``dmg`` (macOS), ``windows`` (NSIS installer).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Protocol

from ..context import BuildContext
from ..errors import BuildError


class VerifyError(BuildError):
    """An artifact failed a structural check."""


class Platform(Protocol):
    def build(self, ctx: BuildContext) -> Path: ...

    def verify(self, artifact: Path) -> None: ...


#: platform name -> (module, target os for staging/shims, artifact suffix)
PLATFORMS = {
    "appimage": ("appimage", "linux", ".AppImage"),
    "dmg": ("dmg", "macos", ".dmg"),
    "windows": ("windows", "windows", ".exe"),
}


def get(name: str) -> ModuleType:
    """Import the platform module ``name`` (``appimage|dmg|windows``)."""
    if name not in PLATFORMS:
        raise ValueError(f"unknown platform {name!r}; expected one of {', '.join(PLATFORMS)}")
    module = importlib.import_module(f"{__name__}.{PLATFORMS[name][0]}")
    for attr in ("build", "verify"):
        if not callable(getattr(module, attr, None)):
            raise TypeError(f"platform module {module.__name__} lacks {attr}()")
    return module


def target_os(name: str) -> str:
    """The OS whose wheels and shims a platform bundles."""
    return PLATFORMS[name][1]


def for_artifact(artifact: Path) -> str:
    """Platform name of an artifact, from its file name."""
    for name, (_mod, _os, suffix) in PLATFORMS.items():
        if artifact.name.endswith(suffix):
            return name
    raise ValueError(f"cannot tell the platform of {artifact.name}")
