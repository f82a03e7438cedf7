"""Decide how to start the recorder for a given interpreter.

1. A bundle beside the frozen ``ct``: ``CODETRACER_RESOURCES`` (the directory holding
   ``manifest.json``), else walking up at most 4 levels from the frozen executable's directory
   looking for ``resources/python/manifest.json`` or ``Resources/python/manifest.json``.
   The recorder is then started as ``PYTHON <resources>/ct_bootstrap.py ...``; the bootstrap
   extends ``sys.path`` inside the process, so no PYTHONPATH leaks into the program.
2. The recorder installed in the chosen interpreter: ``PYTHON -m codetracer_python_recorder``.
3. Otherwise an error with the exact install command for that interpreter.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ct import bundle_match
from ct.errors import ENVIRONMENT, CtError
from ct.interpreter import RECORDER_DIST, RECORDER_MODULE, Interpreter

MANIFEST = "manifest.json"
BOOTSTRAP = "ct_bootstrap.py"


@dataclass
class Recorder:
    """How to start the recorder: ``prefix`` is followed by recorder options and the target."""

    prefix: list[str]
    source: str  # "bundle" or "installed"
    location: str  # resources dir or the installed package's origin
    version: str | None


def _frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def find_resources(environ: dict[str, str] | None = None) -> Path | None:
    """Return the bundle's ``resources/python`` directory, or None when not in a bundle."""
    env = os.environ if environ is None else environ
    override = env.get("CODETRACER_RESOURCES")
    if override:
        path = Path(override)
        if not (path / MANIFEST).is_file():
            raise CtError(
                f"CODETRACER_RESOURCES={override!r} holds no {MANIFEST}; "
                "point it at the bundle's resources/python directory or unset it",
                ENVIRONMENT,
            )
        return path.absolute()
    if not _frozen():
        return None
    start = Path(sys.executable).absolute().parent
    for base in [start, *list(start.parents)[:4]]:
        for name in ("resources", "Resources"):
            candidate = base / name / "python"
            if (candidate / MANIFEST).is_file():
                return candidate
    return None


def bundle_root(resources: Path) -> Path:
    """The bundle's top directory (the parent of ``resources/``)."""
    return resources.parent.parent


def bundle_wheel_for(
    resources: Path, version: tuple[int, ...], implementation: str = "cpython"
) -> dict | None:
    """The manifest entry that serves this interpreter, by the bootstrap's own rule
    (``ct.bundle_match``), whose site dir is present; None when there is none."""
    try:
        manifest = json.loads((resources / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CtError(
            f"bundle manifest {resources / MANIFEST} is unreadable ({exc}); reinstall CodeTracer",
            ENVIRONMENT,
        ) from exc
    return bundle_match.choose_wheel(
        manifest, version, implementation or "cpython",
        usable=lambda wheel: (resources / wheel["site_dir"]).is_dir(),
    )


def install_hint(interp: Interpreter) -> str:
    return f"{interp.path} -m pip install {RECORDER_DIST}"


def locate(interp: Interpreter, environ: dict[str, str] | None = None) -> Recorder:
    """Pick the recorder per the contract above, or raise with the install hint."""
    resources = find_resources(environ)
    if resources is not None:
        wheel = bundle_wheel_for(resources, interp.version, interp.implementation)
        if wheel is not None and (resources / BOOTSTRAP).is_file():
            return Recorder(
                prefix=[interp.path, str(resources / BOOTSTRAP)],
                source="bundle",
                location=str(resources),
                version=wheel.get("version"),
            )
    if interp.recorder_origin:
        return Recorder(
            prefix=[interp.path, "-m", RECORDER_MODULE],
            source="installed",
            location=interp.recorder_origin,
            version=interp.recorder_version,
        )
    where = (f" (the bundle at {resources} has none for {interp.implementation or 'Python'} "
             f"{interp.version_str})" if resources else "")
    raise CtError(
        f"the CodeTracer Python recorder is not installed for {interp.path} "
        f"(Python {interp.version_str}, from {interp.source}){where}; "
        f"install it with: {install_hint(interp)}",
        ENVIRONMENT,
    )
