"""Render the NSIS script of the Windows installer from `packaging/windows/installer.nsi.in`.

The template holds the logic (PATH entry, uninstall key); this module fills in what depends
on the payload. Files are listed one by one, for install and uninstall alike, so the
uninstaller deletes exactly what was installed and never runs `RMDir /r` on a directory the
user chose with `/D=` (a user pointing it at an existing folder must not lose that folder).
"""

from __future__ import annotations

import re
from pathlib import Path, PureWindowsPath

from . import config
from .errors import BuildError

TEMPLATE = config.PACKAGING / "windows" / "installer.nsi.in"


def escape(text: str) -> str:
    """Text for inside an NSIS double-quoted string: `$` and `"` escaped."""
    return text.replace("$", "$$").replace('"', '$\\"')


def quote(text: str) -> str:
    return f'"{escape(text)}"'


def source(path: Path) -> str:
    """A compile-time `File` source path. makensis takes `$` literally there (`$$` would not
    match the file), so the path is quoted with whichever of " ' ` it does not contain."""
    text = str(path.resolve())
    for q in "\"'`":
        if q not in text:
            return f"{q}{text}{q}"
    raise BuildError(f"cannot quote {text} for NSIS: it holds all three quote characters")


def inst(rel: Path) -> str:
    """The quoted NSIS path of `rel` under `$INSTDIR` (the variable itself stays live)."""
    win = str(PureWindowsPath(*rel.parts)) if rel.parts else ""
    return '"$INSTDIR' + ("\\" + escape(win) if win else "") + '"'


def vi_version(version: str) -> str:
    """VIProductVersion wants exactly four numbers: `1.2.3rc1` -> `1.2.3.0`."""
    numbers = re.findall(r"\d+", version.split("+")[0])[:3]
    numbers += ["0"] * (4 - len(numbers))
    return ".".join(numbers[:4])


def install_lines(payload: Path) -> list[str]:
    """`SetOutPath` + `File` for every file, directory by directory."""
    lines = []
    for directory in [payload, *sorted(p for p in payload.rglob("*") if p.is_dir())]:
        files = sorted(p for p in directory.iterdir() if p.is_file())
        if not files:
            continue
        lines.append("  SetOutPath " + inst(directory.relative_to(payload)))
        lines += ["  File " + source(f) for f in files]
    return lines


def uninstall_lines(payload: Path) -> list[str]:
    """Delete each installed file, the bytecode Python caches next to them, then empty dirs."""
    lines = []
    for f in sorted(p for p in payload.rglob("*") if p.is_file()):
        lines.append("  Delete " + inst(f.relative_to(payload)))
    dirs = sorted((p for p in payload.rglob("*") if p.is_dir()),
                  key=lambda p: len(p.parts), reverse=True)
    for d in dirs:
        rel = d.relative_to(payload)
        if any(d.glob("*.py")):
            # The user's interpreter may write __pycache__ here when importing the recorder.
            lines.append("  RMDir /r " + inst(rel / "__pycache__"))
        lines.append("  RMDir " + inst(rel))
    return lines


def payload_size_kb(payload: Path) -> int:
    return sum(p.stat().st_size for p in payload.rglob("*") if p.is_file()) // 1024 + 1


def render(payload: Path, outfile: Path, version: str, template: Path = TEMPLATE) -> str:
    """The complete .nsi text for installing `payload` into `$INSTDIR`."""
    text = template.read_text()
    fields = {
        "VERSION": version.replace('"', ""),
        "VI_VERSION": vi_version(version),
        "OUTFILE": str(outfile.resolve()),
        "SIZE_KB": str(payload_size_kb(payload)),
        "INSTALL_FILES": "\n".join(install_lines(payload)),
        "UNINSTALL_FILES": "\n".join(uninstall_lines(payload)),
    }
    for key, value in fields.items():
        text = text.replace(f"@{key}@", value)
    leftover = re.findall(r"@[A-Z_]+@", text)
    if leftover:
        raise ValueError(f"{template}: unfilled fields {sorted(set(leftover))}")
    return text
