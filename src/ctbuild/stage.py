"""Unpack recorder wheels into ``resources/python/`` and describe them in a manifest.

Installing with pip would need a matching interpreter per target; a wheel is a zip with a
fixed layout, so unpacking it directly works for any target OS from this build host.
Layout (docs/architecture.md)::

    resources/python/manifest.json
    resources/python/ct_bootstrap.py
    resources/python/contract.py, bundle_match.py   ct's modules the bootstrap loads
    resources/python/<site_dir>/codetracer_python_recorder/...
"""

from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import asdict, dataclass
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from . import config
from .context import sha256_file
from .errors import BuildError

#: platform tag prefixes a target OS can load
PLATFORM_PREFIXES = {
    "linux": ("manylinux", "linux_x86_64"),
    "macos": ("macosx_",),
    "windows": ("win_amd64", "win32", "win_arm64"),
}


class StageError(BuildError):
    pass


@dataclass(frozen=True)
class WheelName:
    distribution: str
    version: str
    tags: tuple[str, ...]  #: expanded ``interp-abi-platform`` triples

    @classmethod
    def parse(cls, filename: str) -> WheelName:
        if not filename.endswith(".whl"):
            raise StageError(f"not a wheel: {filename}")
        parts = filename[:-4].split("-")
        if len(parts) not in (5, 6):
            raise StageError(f"malformed wheel name: {filename}")
        dist, version = parts[0], parts[1]
        interps, abis, plats = (p.split(".") for p in parts[-3:])
        tags = tuple(f"{i}-{a}-{p}" for i in interps for a in abis for p in plats)
        return cls(dist, version, tags)

    def platforms(self) -> set[str]:
        return {t.split("-", 2)[2] for t in self.tags}

    def site_dir(self) -> str:
        """Directory name for this wheel: one per interpreter/ABI, e.g. ``site-cp312-abi3``."""
        interp, abi, _ = self.tags[0].split("-", 2)
        return f"site-{interp}-{abi}"


@dataclass(frozen=True)
class ManifestEntry:
    wheel: str
    version: str
    tags: list[str]
    sha256: str
    site_dir: str
    requires_python: str | None


def fits_target(name: WheelName, target_os: str) -> bool:
    """True when the wheel can be loaded on ``target_os`` (pure wheels fit everywhere)."""
    plats = name.platforms()
    if plats == {"any"}:
        return True
    return any(p.startswith(PLATFORM_PREFIXES[target_os]) for p in plats)


def select_wheels(wheels_dir: Path, target_os: str) -> list[Path]:
    """Recorder wheels in ``wheels_dir`` for ``target_os``; one per site dir."""
    prefix = config.RECORDER_DIST_NAME
    chosen: dict[str, Path] = {}
    for wheel in sorted(wheels_dir.glob(f"{prefix}-*.whl")):
        name = WheelName.parse(wheel.name)
        if not fits_target(name, target_os):
            continue
        site = name.site_dir()
        if site in chosen:
            raise StageError(
                f"two wheels for {site}: {chosen[site].name} and {wheel.name}; "
                f"clean {wheels_dir} and rebuild"
            )
        chosen[site] = wheel
    if not chosen:
        raise StageError(
            f"no {prefix} wheel for {target_os} in {wheels_dir}; run `nox -s build_wheels`"
        )
    return list(chosen.values())


def unpack_wheel(wheel: Path, site: Path) -> str | None:
    """Extract ``wheel`` into ``site`` (``.data/purelib|platlib`` merged into the root).

    Returns the wheel's Requires-Python, read from its METADATA.
    """
    requires_python = None
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            path = PurePosixPath(info.filename)
            if path.is_absolute() or ".." in path.parts:
                raise StageError(f"{wheel.name}: unsafe member {info.filename}")
            parts = path.parts
            if parts[0].endswith(".data"):
                if len(parts) > 2 and parts[1] in ("purelib", "platlib"):
                    path = PurePosixPath(*parts[2:])
                else:
                    continue  # scripts/headers/data are not needed to import the recorder
            if info.is_dir():
                continue
            dest = site / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                dest.chmod(mode | 0o644)
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                meta = HeaderParser().parsestr(zf.read(info).decode("utf-8"))
                requires_python = meta.get("Requires-Python")
    return requires_python


def stage(
    wheels_dir: Path,
    out: Path,
    *,
    target_os: str,
    bootstrap: Path = config.COMMON_DIR / "ct_bootstrap.py",
) -> dict:
    """Populate ``out`` (a ``resources/python`` dir) and return the manifest written there."""
    wheels = select_wheels(wheels_dir, target_os)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    entries = []
    for wheel in wheels:
        name = WheelName.parse(wheel.name)
        site_dir = name.site_dir()
        requires_python = unpack_wheel(wheel, out / site_dir)
        entries.append(
            ManifestEntry(
                wheel=wheel.name,
                version=name.version,
                tags=list(name.tags),
                sha256=sha256_file(wheel),
                site_dir=site_dir,
                requires_python=requires_python,
            )
        )
    manifest = {"wheels": [asdict(e) for e in entries]}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    shutil.copy2(bootstrap, out / "ct_bootstrap.py")
    for shared in config.BOOTSTRAP_SHARED:
        shutil.copy2(shared, out / shared.name)
    return manifest
