"""Inputs that only the target OS can build: its frozen `ct` and its recorder wheel(s).

The DMG and the Windows installer are assembled on Linux too, so their mechanics are tested
here. A Linux `ct` inside a macOS bundle would be a lie that only fails on a user's machine,
so every binary is checked by its magic bytes. Inputs come, in order, from: this host when it
is the target OS (the nox session froze/staged them), a directory of release-pipeline artifacts
(`CODETRACER_RELEASE_ARTIFACTS`), or clearly named placeholders for a layout-test build.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from . import console
from .context import BuildContext, require

ENV_ARTIFACTS = "CODETRACER_RELEASE_ARTIFACTS"
PLACEHOLDER_TAG = "LAYOUT-TEST-placeholder"

_HOST_OS = {"darwin": "macos", "win32": "windows"}.get(sys.platform, "linux")
_EXE = {"macos": "ct", "windows": "ct.exe"}
#: wheel platform-tag fragments per target OS
_WHEEL_TAGS = {"macos": ("macosx",), "windows": ("win_amd64",)}
_MACHO = (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe")  # 64/32-bit, universal


@dataclass(frozen=True)
class ForeignInputs:
    ct_dir: Path  #: directory whose contents go next to the app's executable
    resources_python: Path  #: a staged resources/python (manifest.json inside)
    placeholder: bool  #: True when any input is a placeholder: a layout-test build
    arch: str  #: machine of the ct binary ("x86_64", "arm64", ...) or PLACEHOLDER_TAG


def binary_kind(path: Path) -> str:
    """'macho', 'pe', 'elf' or 'other', by magic bytes."""
    head = path.read_bytes()[:4] if path.is_file() else b""
    if head in _MACHO:
        return "macho"
    if head[:2] == b"MZ":
        return "pe"
    if head == b"\x7fELF":
        return "elf"
    return "other"


def _arch(exe: Path, kind: str) -> str:
    data = exe.read_bytes()[:0x100]
    if kind == "macho":
        if data[:4] == b"\xca\xfe\xba\xbe":
            return "universal2"
        cputype = int.from_bytes(data[4:8], "little")
        return {0x01000007: "x86_64", 0x0100000C: "arm64"}.get(cputype, hex(cputype))
    pe_off = int.from_bytes(data[0x3C:0x40], "little")
    machine = int.from_bytes(exe.read_bytes()[pe_off + 4:pe_off + 6], "little")
    return {0x8664: "x86_64", 0xAA64: "arm64", 0x14C: "x86"}.get(machine, hex(machine))


def release_artifacts() -> Path | None:
    value = os.environ.get(ENV_ARTIFACTS)
    return Path(value) if value else None


def _find_ct(ctx: BuildContext, target: str) -> Path | None:
    """The onedir holding a genuine target-OS ct, or None."""
    want = "macho" if target == "macos" else "pe"
    candidates = []
    if _HOST_OS == target:
        candidates.append(ctx.ct_executable)
    if (artifacts := release_artifacts()) is not None:
        candidates += sorted(artifacts.glob(f"ct-{target}*/{_EXE[target]}"))
    for exe in candidates:
        kind = binary_kind(exe)
        if kind == want:
            return exe.parent
        if exe.exists():
            console.info(f"ignoring {exe}: it is a {kind} file, not a {target} executable")
    return None


def _wheel_fits(name: str, target: str, arch: str | None) -> bool:
    """Does a wheel (file name or tag) run on `target` next to a ct built for `arch`?"""
    if not any(t in name for t in _WHEEL_TAGS[target]):
        return False
    if arch in (None, "universal2"):
        return True
    aliases = {"x86_64": ("x86_64", "amd64", "universal2"), "arm64": ("arm64", "universal2")}
    return any(a in name for a in aliases.get(arch, (arch,)))


def _manifest_is_for(resources: Path, target: str, arch: str | None) -> bool:
    manifest = resources / "manifest.json"
    if not manifest.is_file():
        return False
    wheels = json.loads(manifest.read_text()).get("wheels", [])
    return bool(wheels) and all(
        _wheel_fits(" ".join(w.get("tags", [])) + " " + w.get("wheel", ""), target, arch)
        for w in wheels)


def _find_resources(ctx: BuildContext, target: str, arch: str | None,
                    scratch: Path) -> Path | None:
    """A staged resources/python with the target OS's wheels, staging them if we have some.

    With `arch` unknown (placeholder ct) the wheels of the first architecture found are used,
    since the bundle holds one wheel per Python site dir.
    """
    if _manifest_is_for(ctx.resources_python, target, arch):
        return ctx.resources_python
    artifacts = release_artifacts()
    if artifacts is None:
        return None
    wheels = [w for w in sorted(artifacts.rglob("*.whl")) if _wheel_fits(w.name, target, arch)]
    if arch is None and wheels:
        first = wheels[0].name.rsplit("-", 1)[-1]  # platform tag of the first wheel
        wheels = [w for w in wheels if w.name.endswith(first)]
    if not wheels:
        return None
    from . import stage  # the staging step of the pipeline (issue 5)

    wheel_dir = scratch / "wheels"
    shutil.rmtree(wheel_dir, ignore_errors=True)
    wheel_dir.mkdir(parents=True)
    for wheel in wheels:
        shutil.copy2(wheel, wheel_dir)
    out = scratch / "resources" / "python"
    shutil.rmtree(out, ignore_errors=True)
    stage.stage(wheel_dir, out, target_os=target)
    return out


def _placeholder_ct(scratch: Path, target: str) -> Path:
    """A directory with a `ct` that says what it is (a shell script, never a real binary)."""
    out = scratch / f"ct-{PLACEHOLDER_TAG}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    exe = out / _EXE[target]
    exe.write_text("#!/bin/sh\n"
                   f"echo 'CodeTracer {PLACEHOLDER_TAG}: this image tests the {target} layout "
                   "only; it holds no real ct binary' >&2\nexit 78\n")
    exe.chmod(0o755)
    return out


def _placeholder_resources(scratch: Path, target: str) -> Path:
    out = scratch / f"resources-{PLACEHOLDER_TAG}" / "python"
    shutil.rmtree(out.parent, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "manifest.json").write_text(json.dumps({"wheels": [], "placeholder": True}) + "\n")
    (out / f"NO-{target.upper()}-WHEEL-{PLACEHOLDER_TAG}.txt").write_text(
        f"No {target} recorder wheel was available when this image was built.\n"
        f"Set {ENV_ARTIFACTS} to a directory of release-pipeline artifacts to build a real one.\n")
    return out


def resolve(ctx: BuildContext, target: str, scratch: Path) -> ForeignInputs:
    """Genuine inputs where available, placeholders (loudly) where not."""
    ct_dir = _find_ct(ctx, target)
    arch = None
    if ct_dir is not None:
        exe = ct_dir / _EXE[target]
        arch = _arch(exe, binary_kind(exe))
    resources = _find_resources(ctx, target, arch, scratch)
    missing = [name for name, found in (("ct", ct_dir), ("recorder wheel", resources))
               if found is None]
    if missing:
        console.info(f"no {target} {' or '.join(missing)} on this host or in ${ENV_ARTIFACTS}: "
                     f"building a {PLACEHOLDER_TAG} artifact (layout test only)")
    if ct_dir is None:
        ct_dir = _placeholder_ct(scratch, target)
    if resources is None:
        resources = _placeholder_resources(scratch, target)
    label = PLACEHOLDER_TAG if missing else arch
    return ForeignInputs(ct_dir, resources, bool(missing), label)


def genuineness_problems(exe: bytes, manifest: bytes, target: str) -> list[str]:
    """Why a bundle that claims to be real (no placeholder name) is not, or [] if it is."""
    problems = []
    kind = {"macos": "macho", "windows": "pe"}[target]
    head = exe[:4]
    if not (head in _MACHO if kind == "macho" else head[:2] == b"MZ"):
        problems.append(f"its ct is not a {target} executable")
    try:
        wheels = json.loads(manifest).get("wheels", [])
    except ValueError:
        wheels = None
    if not wheels:
        problems.append("its resources/python/manifest.json lists no recorder wheel")
    elif not all(_wheel_fits(" ".join(w.get("tags", [])), target, None) for w in wheels):
        problems.append(f"its recorder wheels are not all {target} wheels")
    return problems


def shim(ctx: BuildContext, target: str, scratch: Path) -> Path:
    """The target's `ct-python-recorder` shim (text, so rendering it here is genuine)."""
    name = "ct-python-recorder.cmd" if target == "windows" else "ct-python-recorder"
    path = ctx.shims_dir / name
    if not path.is_file():
        from . import shims  # the shim renderer of the pipeline (issue 5)

        shims.render_all(scratch / "shims", target_os=target, version=ctx.version)
        path = scratch / "shims" / name
    return require(path, f"{target} launcher shim", "shims")
