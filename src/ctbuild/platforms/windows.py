"""Windows: a 64-bit NSIS installer of `ct.exe`, `resources\\python` and the `.cmd` shim.

The installer is per-user (no admin prompt): it installs under %LOCALAPPDATA%\\Programs,
puts `<install>\\bin` on the user PATH and registers an uninstaller (logic in the template,
packaging/windows/installer.nsi.in). `makensis` runs on Linux and Windows alike; inputs only
Windows can build come from foreign.resolve, placeholders included.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .. import config, console, deps, foreign, nsis, proc, sevenzip
from ..context import BuildContext
from . import PLATFORMS, VerifyError

#: makensis and 7z: the registry's entry, the one list
TOOLS = PLATFORMS["windows"].debian
#: files every installer must carry, relative to the install dir
REQUIRED = ("ct.exe", "resources/python/manifest.json", "bin/ct-python-recorder.cmd",
            "bin/ct.cmd")
#: puts `ct` itself on PATH: the PATH entry is bin\, and ct.exe must stay beside its onedir
CT_CMD = config.PACKAGING / "windows" / "ct.cmd"


def assemble(payload: Path, inputs: foreign.ForeignInputs, shim: Path) -> Path:
    """The install-dir tree: ct onedir at the top, resources\\python, bin\\ with both shims."""
    shutil.copytree(inputs.ct_dir, payload)
    shutil.copytree(inputs.resources_python, payload / "resources" / "python")
    (payload / "bin").mkdir()
    shutil.copy2(shim, payload / "bin" / "ct-python-recorder.cmd")
    text = CT_CMD.read_text().replace("\r\n", "\n").replace("\n", "\r\n")  # cmd.exe wants CRLF
    (payload / "bin" / "ct.cmd").write_bytes(text.encode("ascii"))
    if inputs.placeholder:
        (payload / f"{foreign.PLACEHOLDER_TAG}.txt").write_text(
            "This installer tests the install layout only. Its ct.exe and/or recorder are "
            "placeholders.\n")
    return payload


def artifact_name(version: str, inputs: foreign.ForeignInputs) -> str:
    return f"{config.APP_NAME}-{version}-windows-{inputs.arch}-setup.exe"


def build(ctx: BuildContext) -> Path:
    """Build dist/CodeTracer-<version>-windows-<arch>-setup.exe (or a LAYOUT-TEST one)."""
    if sys.platform != "win32":  # Windows runners bring NSIS and 7-Zip themselves
        deps.ensure_binaries(TOOLS)
    scratch = ctx.build / "windows"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    inputs = foreign.resolve(ctx, "windows", scratch / "inputs")
    shim = foreign.shim(ctx, "windows", scratch / "inputs")
    payload = assemble(scratch / "payload", inputs, shim)
    ctx.dist.mkdir(parents=True, exist_ok=True)
    for old in ctx.dist.glob(f"{config.APP_NAME}-*-setup.exe"):  # the contract: one installer
        old.unlink()
    out = ctx.dist / artifact_name(ctx.version, inputs)
    script = scratch / "installer.nsi"
    script.write_text(nsis.render(payload, out, ctx.version), encoding="utf-8")
    with console.step("makensis"):
        proc.run(["makensis", "-V2", "-INPUTCHARSET", "UTF8", script], capture=True)
    return out


def verify(artifact: Path) -> None:
    """A PE32+ (64-bit) executable whose NSIS payload holds the required files (per 7z)."""
    head = artifact.read_bytes()[:4096]
    if head[:2] != b"MZ":
        raise VerifyError(f"{artifact.name} is not a Windows executable")
    pe = int.from_bytes(head[0x3C:0x40], "little")
    if head[pe:pe + 4] != b"PE\0\0" or head[pe + 4:pe + 6] != b"\x64\x86":
        raise VerifyError(f"{artifact.name} is not a 64-bit (amd64) executable")
    if shutil.which("7z") is None:
        deps.ensure_binaries({"7z": "p7zip-full"})
    members = {p.replace("$INSTDIR/", ""): p for p in sevenzip.listing(artifact, "nsis")}
    names = set(members)
    missing = [r for r in REQUIRED if r not in names]
    if missing:
        raise VerifyError(f"{artifact.name} does not install {', '.join(missing)}")
    if not any(n.endswith("uninstall.exe") for n in names):
        raise VerifyError(f"{artifact.name} writes no uninstaller")
    if foreign.PLACEHOLDER_TAG not in artifact.name:
        def read(name: str) -> bytes:
            return sevenzip.read_member(artifact, members[name], "nsis")

        problems = foreign.genuineness_problems(
            read("ct.exe"), read("resources/python/manifest.json"), "windows")
        if problems:
            raise VerifyError(f"{artifact.name} is not named {foreign.PLACEHOLDER_TAG} but "
                              + "; ".join(problems))
    console.info(f"{artifact.name}: 64-bit NSIS installer with the required files")
