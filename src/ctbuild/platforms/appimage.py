"""Linux AppImage: AppDir assembled from the staged inputs, squashed, joined to a runtime.

AppDir layout (design.md §5, docs/architecture.md)::

    AppRun                         sh dispatcher (ct, or the shim), exports nothing
    ct.desktop, codetracer.png, .DirIcon (+ copies under usr/share/{applications,icons})
    usr/lib/ct/                    PyInstaller onedir of ct (ct + _internal/)
    usr/bin/ct -> ../lib/ct/ct     so usr/bin holds commands only
    resources/python/              manifest.json, ct_bootstrap.py, site-*/ (recorder)
    bin/ct-python-recorder         POSIX sh shim

The frozen ct walks up from ``usr/lib/ct`` and finds ``resources/python/manifest.json``
three levels up. The image is ``mksquashfs ... -comp gzip`` (the type-2 runtime we can get
offline reads gzip/xz only) appended to the runtime.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

from .. import config, console, tools
from ..context import BuildContext
from ..icon import write_icon
from ..proc import run
from ..shims import render
from . import VerifyError

ICON_NAME = "codetracer"
ARCH = "x86_64"

#: members every CodeTracer AppImage must contain (relative to the squashfs root)
REQUIRED = (
    "AppRun",
    "ct.desktop",
    f"{ICON_NAME}.png",
    ".DirIcon",
    "usr/bin/ct",
    "usr/lib/ct/ct",
    "resources/python/manifest.json",
    "resources/python/ct_bootstrap.py",
    "resources/python/contract.py",
    "resources/python/bundle_match.py",
    "bin/ct-python-recorder",
)


def artifact_name(version: str) -> str:
    return f"{config.APP_NAME}-{version}-{ARCH}.AppImage"


def assemble_appdir(ctx: BuildContext, appdir: Path) -> Path:
    """Lay out the AppDir from the frozen ct, the staged recorder and the shims."""
    ctx.require_inputs()
    if appdir.exists():
        shutil.rmtree(appdir)
    appdir.mkdir(parents=True)
    templates = config.APPIMAGE_TEMPLATES

    shutil.copy2(templates / "AppRun", appdir / "AppRun")
    (appdir / "AppRun").chmod(0o755)
    desktop = render((templates / "ct.desktop.in").read_text(), {"VERSION": ctx.version})
    (appdir / "ct.desktop").write_text(desktop)
    write_icon(appdir / f"{ICON_NAME}.png")
    os.symlink(f"{ICON_NAME}.png", appdir / ".DirIcon")
    # desktop integrators (appimaged, AppImageLauncher) also look in the usual XDG places
    share = appdir / "usr" / "share"
    (share / "applications").mkdir(parents=True)
    (share / "applications" / "ct.desktop").write_text(desktop)
    hicolor = share / "icons" / "hicolor" / "256x256" / "apps"
    hicolor.mkdir(parents=True)
    shutil.copy2(appdir / f"{ICON_NAME}.png", hicolor / f"{ICON_NAME}.png")

    shutil.copytree(ctx.frozen_ct, appdir / "usr" / "lib" / "ct", symlinks=True)
    (appdir / "usr" / "bin").mkdir(parents=True)
    os.symlink("../lib/ct/ct", appdir / "usr" / "bin" / "ct")

    shutil.copytree(ctx.resources_python, appdir / "resources" / "python", symlinks=True)
    shutil.copytree(ctx.shims_dir, appdir / "bin", symlinks=True)
    return appdir


def validate_desktop(desktop: Path) -> None:
    """desktop-file-validate must print nothing (it prints hints, warnings and errors)."""
    out = run(["desktop-file-validate", str(desktop)], capture=True, check=False)
    messages = (out.stdout + out.stderr).strip()
    if out.returncode != 0 or messages:
        raise VerifyError(f"{desktop.name} fails desktop-file-validate:\n{messages}")


def squash(appdir: Path, image: Path) -> Path:
    image.unlink(missing_ok=True)
    run(["mksquashfs", str(appdir), str(image), "-root-owned", "-noappend", "-comp", "gzip",
         "-no-progress", "-quiet"])
    return image


def join(runtime: Path, image: Path, out: Path) -> Path:
    """AppImage = runtime bytes + squashfs image; executable."""
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "wb") as dst:
        for part in (runtime, image):
            with open(part, "rb") as src:
                shutil.copyfileobj(src, dst)
    tmp.chmod(0o755)
    tmp.replace(out)
    return out


def build(ctx: BuildContext) -> Path:
    """Assemble, validate, squash and join; returns ``dist/CodeTracer-<v>-x86_64.AppImage``."""
    work = ctx.build / "appimage"
    with console.step("assemble AppDir"):
        appdir = assemble_appdir(ctx, work / "AppDir")
        validate_desktop(appdir / "ct.desktop")
    with console.step("resolve AppImage runtime"):
        runtime = tools.appimage_runtime()
    with console.step("mksquashfs (gzip)"):
        image = squash(appdir, work / "image.squashfs")
    ctx.dist.mkdir(parents=True, exist_ok=True)
    for old in ctx.dist.glob("*.AppImage"):  # contract: one dist/*.AppImage
        old.unlink()
    return join(runtime, image, ctx.dist / artifact_name(ctx.version))


# --- verification ------------------------------------------------------------------------
def squashfs_offset(artifact: Path) -> int:
    """Where the image starts: the end of the runtime ELF (its section header table)."""
    with open(artifact, "rb") as fh:
        head = fh.read(64)
    if head[:4] != tools.ELF_MAGIC:
        raise VerifyError(f"{artifact.name}: not an ELF executable")
    if head[8:11] != tools.APPIMAGE_TYPE2_MAGIC:
        raise VerifyError(f"{artifact.name}: no AppImage type-2 magic (AI\\x02) at offset 8")
    shoff = struct.unpack_from("<Q", head, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", head, 0x3A)
    return shoff + shentsize * shnum


def list_contents(artifact: Path) -> set[str]:
    """Paths in the embedded squashfs, relative to its root."""
    offset = squashfs_offset(artifact)
    out = run(["unsquashfs", "-l", "-o", str(offset), str(artifact)], capture=True, check=False)
    if out.returncode != 0:
        raise VerifyError(f"{artifact.name}: unsquashfs cannot read the image at {offset}:\n"
                          f"{out.stderr.strip()}")
    prefix = "squashfs-root/"
    return {line[len(prefix):] for line in out.stdout.splitlines() if line.startswith(prefix)}


def verify(artifact: Path) -> None:
    """Structural checks: runtime magic, readable squashfs, required members, executable."""
    if not os.access(artifact, os.X_OK):
        raise VerifyError(f"{artifact.name} is not executable")
    with open(artifact, "rb") as fh:
        fh.seek(squashfs_offset(artifact))
        if fh.read(4) != b"hsqs":
            raise VerifyError(f"{artifact.name}: no squashfs superblock after the runtime")
    contents = list_contents(artifact)
    missing = [m for m in REQUIRED if m not in contents]
    if missing:
        raise VerifyError(f"{artifact.name} lacks {', '.join(missing)}")
    if not any(p.startswith("resources/python/site-") for p in contents):
        raise VerifyError(f"{artifact.name}: no recorder site dir under resources/python")
