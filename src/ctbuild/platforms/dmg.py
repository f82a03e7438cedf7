"""macOS: `CodeTracer.app` in a compressed DMG with an `/Applications` link.

On macOS the image is made by `hdiutil` after signing (see macsign). On Linux the same tree
becomes an HFS+ volume (hfs) wrapped as UDZO (udif), so the layout and the image format are
tested here; inputs only macOS can build come from foreign.resolve, placeholders included.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import config, console, deps, foreign, hfs, macsign, plist, proc, sevenzip, udif
from ..context import BuildContext
from . import PLATFORMS, VerifyError

APP = f"{config.APP_NAME}.app"
README = "Read Me First.txt"
#: what the Linux build uses (xorriso, 7z, dmg2img): the registry's entry, the one list
LINUX_TOOLS = PLATFORMS["dmg"].debian
#: paths every image must hold, relative to the volume root
REQUIRED = (
    f"{APP}/Contents/Info.plist",
    f"{APP}/Contents/MacOS/ct",
    f"{APP}/Contents/Resources/python/manifest.json",
    f"{APP}/Contents/Resources/bin/ct-python-recorder",
    "Applications",
    README,
)


def assemble(root: Path, inputs: foreign.ForeignInputs, shim: Path, version: str) -> Path:
    """Lay out the volume tree under `root`; returns the .app path."""
    contents = root / APP / "Contents"
    shutil.copytree(inputs.ct_dir, contents / "MacOS", symlinks=True)
    shutil.copytree(inputs.resources_python, contents / "Resources" / "python", symlinks=True)
    (contents / "Resources" / "bin").mkdir(parents=True)
    shutil.copy2(shim, contents / "Resources" / "bin" / "ct-python-recorder")
    (contents / "Resources" / "bin" / "ct-python-recorder").chmod(0o755)
    (contents / "Info.plist").write_bytes(plist.info_plist(version))
    (root / "Applications").symlink_to("/Applications")
    template = (config.PACKAGING / "dmg" / "README.txt.in").read_text()
    (root / README).write_text(template.format(version=version))
    if inputs.placeholder:
        (root / f"{foreign.PLACEHOLDER_TAG}.txt").write_text(
            "This image tests the bundle layout only. Its ct and/or recorder are placeholders.\n")
    return root / APP


def artifact_name(version: str, inputs: foreign.ForeignInputs) -> str:
    return f"{config.APP_NAME}-{version}-macos-{inputs.arch}.dmg"


def volume_name(version: str, inputs: foreign.ForeignInputs) -> str:
    return f"{config.APP_NAME} {version}" + (" LAYOUT TEST" if inputs.placeholder else "")


def build(ctx: BuildContext) -> Path:
    """Build dist/CodeTracer-<version>-macos-<arch>.dmg (or a LAYOUT-TEST placeholder image)."""
    on_mac = sys.platform == "darwin"
    if not on_mac:
        deps.ensure_binaries(LINUX_TOOLS)
    scratch = ctx.build / "dmg"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    inputs = foreign.resolve(ctx, "macos", scratch / "inputs")
    shim = foreign.shim(ctx, "macos", scratch / "inputs")
    root = scratch / "volume"
    app = assemble(root, inputs, shim, ctx.version)
    ctx.dist.mkdir(parents=True, exist_ok=True)
    for old in ctx.dist.glob(f"{config.APP_NAME}-*.dmg"):  # the contract: one dist/*.dmg
        old.unlink()
    out = ctx.dist / artifact_name(ctx.version, inputs)
    name = volume_name(ctx.version, inputs)
    if on_mac:
        macsign.sign_app(app)
        proc.run(["hdiutil", "create", "-volname", name, "-srcfolder", root, "-fs", "HFS+",
                  "-format", "UDZO", "-ov", out])
        macsign.sign_and_notarize_dmg(out)
    else:
        with console.step("HFS+ volume"):
            volume = hfs.make_volume(root, name, scratch / "hfs")
        with console.step("UDZO image"):
            udif.write_udzo(volume, out)
    return out


def _check_tree(paths: dict[str, str], read, layout_test: bool) -> None:
    """`paths` maps volume-relative paths to modes; `read(path)` returns a member's bytes.

    An image whose name does not say LAYOUT-TEST must hold a Mach-O ct and macOS wheels.
    """
    for path in REQUIRED:
        if path not in paths:
            raise VerifyError(f"image lacks {path}")
    if not paths["Applications"].startswith("l") or read("Applications") != b"/Applications":
        raise VerifyError("Applications is not a symlink to /Applications")
    for exe in (f"{APP}/Contents/MacOS/ct", f"{APP}/Contents/Resources/bin/ct-python-recorder"):
        if "x" not in paths[exe]:
            raise VerifyError(f"{exe} is not executable (mode {paths[exe]})")
    try:
        info = plist.check_info_plist(read(f"{APP}/Contents/Info.plist"))
    except ValueError as exc:
        raise VerifyError(str(exc)) from exc
    if info["CFBundleExecutable"] not in {p.rsplit("/", 1)[-1] for p in paths}:
        raise VerifyError("Info.plist names an executable the bundle does not hold")
    if not layout_test:
        problems = foreign.genuineness_problems(
            read(f"{APP}/Contents/MacOS/ct"),
            read(f"{APP}/Contents/Resources/python/manifest.json"), "macos")
        if problems:
            raise VerifyError(f"image is not named {foreign.PLACEHOLDER_TAG} but "
                              + "; ".join(problems))


def _is_layout_test(artifact: Path) -> bool:
    return foreign.PLACEHOLDER_TAG in artifact.name


def _strip_volume(entries: dict[str, dict[str, str]]) -> dict[str, str]:
    """7z prefixes HFS+ paths with the volume name; drop it."""
    return {p.split("/", 1)[1]: e.get("Mode", "") for p, e in entries.items() if "/" in p}


def _verify_linux(artifact: Path) -> None:
    try:
        udif.verify_checksums(artifact)
    except ValueError as exc:
        raise VerifyError(str(exc)) from exc
    try:
        proc.run(["7z", "t", artifact], capture=True)  # decompresses all, checks every CRC
        entries = sevenzip.listing(artifact)
    except proc.CommandFailed as exc:
        raise VerifyError(f"7z cannot read {artifact.name}: {exc}") from exc
    volume = next((p for p in entries if "/" not in p and entries[p].get("Folder") == "+"), None)
    if volume is None:
        raise VerifyError(f"7z sees no HFS+ volume in {artifact.name}")
    paths = _strip_volume(entries)
    _check_tree(paths, lambda p: sevenzip.read_member(artifact, f"{volume}/{p}"),
                _is_layout_test(artifact))
    # Second independent reader: dmg2img must expand it to the same HFS+ tree.
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "image.hfs"
        proc.run(["dmg2img", "-s", artifact, raw], capture=True)
        if _strip_volume(sevenzip.listing(raw, "hfs")) != paths:
            raise VerifyError("dmg2img and 7z disagree about the image's contents")


def _verify_macos(artifact: Path) -> None:
    proc.run(["hdiutil", "verify", artifact])
    with tempfile.TemporaryDirectory() as mnt:
        proc.run(["hdiutil", "attach", "-nobrowse", "-readonly", "-mountpoint", mnt, artifact])
        try:
            root = Path(mnt)
            paths = {}
            for dirpath, dirnames, filenames in os.walk(root):
                for name in dirnames + filenames:
                    full = Path(dirpath) / name
                    mode = "l" if full.is_symlink() else ("x" if os.access(full, os.X_OK) else "-")
                    paths[str(full.relative_to(root))] = mode

            def read(p: str) -> bytes:
                full = root / p
                return os.readlink(full).encode() if full.is_symlink() else full.read_bytes()

            _check_tree(paths, read, _is_layout_test(artifact))
        finally:
            subprocess.run(["hdiutil", "detach", mnt], check=False)


def verify(artifact: Path) -> None:
    """Trailer and checksums, required layout, Info.plist, symlink and exec bits."""
    try:
        udif.read_koly(artifact)
    except ValueError as exc:
        raise VerifyError(str(exc)) from exc
    if sys.platform == "darwin":
        _verify_macos(artifact)
    else:
        _verify_linux(artifact)
    console.info(f"{artifact.name}: UDIF trailer, checksums and bundle layout OK")
