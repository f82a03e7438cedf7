"""``ct install`` / ``ct install --uninstall``: put ``ct`` and ``ct-python-recorder`` on PATH.

Linux: symlinks in ``~/.local/bin`` (to ``$APPIMAGE`` when run from an AppImage: the mount
point of a running AppImage disappears when it exits, so links into it would dangle; the
frozen ``ct`` acts as ``ct-python-recorder`` when invoked under that name), a ``.desktop``
entry in ``~/.local/share/applications`` and an icon in ``~/.local/share/icons/hicolor``.
macOS: the same links, plus a PATH line in the shell profile only when ``~/.local/bin`` is
not on PATH already. Idempotent; every change is printed; uninstall removes only what points
at a CodeTracer bundle or carries our marker.
"""

from __future__ import annotations

import os
import shutil
import struct
import sys
import zlib
from pathlib import Path

from ct import recorder_locate
from ct.errors import ENVIRONMENT, CtError

DESKTOP_NAME = "codetracer-ct.desktop"
ICON_NAME = "codetracer"
PROFILE_MARK = "# added by `ct install` (CodeTracer)"
SHIM = "ct-python-recorder"


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def bin_dir() -> Path:
    return _home() / ".local" / "bin"


def _ct_target() -> Path:
    """What ``~/.local/bin/ct`` should point at."""
    if os.environ.get("APPIMAGE"):
        return Path(os.environ["APPIMAGE"])
    if getattr(sys, "frozen", False):
        return Path(sys.executable)
    found = shutil.which("ct")
    if found and Path(found).absolute() != (bin_dir() / "ct"):
        return Path(found).absolute()
    raise CtError(
        "install: cannot tell where the ct executable is; run `ct install` from the CodeTracer "
        "bundle (AppImage or app) or from an installed `ct`",
        ENVIRONMENT,
    )


def _bundle_dir() -> Path | None:
    if os.environ.get("APPDIR"):
        return Path(os.environ["APPDIR"])
    try:
        res = recorder_locate.find_resources()
    except CtError:
        res = None
    return recorder_locate.bundle_root(res) if res else None


def _shim_target(ct_target: Path) -> Path | None:
    """What ``~/.local/bin/ct-python-recorder`` should point at (None: not available)."""
    if os.environ.get("APPIMAGE"):
        return ct_target  # AppRun/ct dispatch on the invoked name ($ARGV0)
    bundle = _bundle_dir()
    if bundle is not None:
        for cand in (bundle / "bin" / SHIM, bundle / "Resources" / "bin" / SHIM):
            if cand.is_file():
                return cand
    return None


def _png(size: int = 256) -> bytes:
    """A small generated icon (no data files to find at run time in a frozen app)."""
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            cx, cy = x - size / 2, y - size / 2
            ring = (size * 0.28) ** 2 <= cx * cx + cy * cy <= (size * 0.42) ** 2
            row += bytes((30, 144, 255, 255) if ring else (24, 26, 33, 255))
        rows.append(bytes(row))
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")


def _icon_bytes() -> bytes:
    bundle = _bundle_dir()
    if bundle is not None:
        for name in ("codetracer.png", "ct.png", ".DirIcon"):
            p = bundle / name
            if p.is_file():
                try:
                    data = p.read_bytes()
                    if data.startswith(b"\x89PNG"):
                        return data
                except OSError:
                    pass
    return _png()


def _desktop_entry(target: Path) -> str:
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=CodeTracer ct\n"
        "Comment=Record Python programs with CodeTracer\n"
        f"Exec=\"{target}\" %F\n"
        f"Icon={ICON_NAME}\n"
        "Terminal=true\n"
        "Categories=Development;Debugger;\n"
        "X-CodeTracer-Installed-By=ct install\n"
    )


class Changes:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, text: str) -> None:
        self.lines.append(text)
        print(f"ct install: {text}")


def _link(link: Path, target: Path, ch: Changes) -> None:
    if link.is_symlink():
        if os.readlink(link) == str(target):
            return
        link.unlink()
        link.symlink_to(target)
        ch.add(f"updated {link} -> {target}")
        return
    if link.exists():
        raise CtError(
            f"install: {link} exists and is not a symlink; move it away and rerun `ct install`",
            ENVIRONMENT,
        )
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    ch.add(f"created {link} -> {target}")


def _write(path: Path, data: bytes, ch: Changes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    existed = path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    ch.add(f"{'updated' if existed else 'created'} {path}")


def _on_path(directory: Path) -> bool:
    want = os.path.normpath(str(directory))
    return any(os.path.normpath(os.path.expanduser(p)) == want for p in os.environ.get("PATH", "").split(os.pathsep) if p)


def _profile() -> Path:
    shell = os.path.basename(os.environ.get("SHELL", ""))
    if shell == "zsh":
        return _home() / ".zprofile"
    if shell == "bash":
        return _home() / ".bash_profile"
    return _home() / ".profile"


def _paths() -> tuple[Path, Path, Path, Path]:
    home = _home()
    return (
        bin_dir() / "ct",
        bin_dir() / SHIM,
        home / ".local" / "share" / "applications" / DESKTOP_NAME,
        home / ".local" / "share" / "icons" / "hicolor" / "256x256" / "apps" / f"{ICON_NAME}.png",
    )


def install(platform: str = sys.platform) -> int:
    """Create or refresh the links (and desktop entry / PATH line); print each change."""
    if platform == "win32":
        raise CtError("install: on Windows the installer adds ct to PATH; nothing to do", ENVIRONMENT)
    ch = Changes()
    ct_link, shim_link, desktop, icon = _paths()
    target = _ct_target()
    try:
        _link(ct_link, target, ch)
        shim = _shim_target(target)
        if shim is not None:
            _link(shim_link, shim, ch)
        else:
            print(f"ct install: skipped {shim_link}: no bundle with bin/{SHIM} found")
        if platform == "darwin":
            if not _on_path(bin_dir()):
                prof = _profile()
                text = prof.read_text(encoding="utf-8") if prof.exists() else ""
                if PROFILE_MARK not in text:
                    line = f'\n{PROFILE_MARK}\nexport PATH="$HOME/.local/bin:$PATH"\n'
                    with prof.open("a", encoding="utf-8") as fh:
                        fh.write(line)
                    ch.add(f"added {bin_dir()} to PATH in {prof} (open a new shell)")
        else:
            _write(desktop, _desktop_entry(target).encode(), ch)
            _write(icon, _icon_bytes(), ch)
            if not _on_path(bin_dir()):
                print(f"ct install: note: {bin_dir()} is not on PATH; add it in your shell profile")
    except OSError as exc:
        raise CtError(f"install: {exc.filename or ''}: {exc.strerror or exc}; check permissions under {_home()}", ENVIRONMENT) from exc
    if not ch.lines:
        print("ct install: already installed, nothing changed")
    return 0


def _ours(link: Path) -> bool:
    """Only remove links we would have made (to an AppImage, bundle, or a ct executable)."""
    try:
        target = os.readlink(link)
    except OSError:
        return False
    name = os.path.basename(target).lower()
    return (
        name in ("ct", SHIM) or name.endswith(".appimage") or "codetracer" in target.lower()
        or target == os.environ.get("APPIMAGE")
    )


def uninstall() -> int:
    """Remove what ``install`` added (links only if they are ours, the marked profile line)."""
    ch = Changes()
    ct_link, shim_link, desktop, icon = _paths()
    try:
        for link in (ct_link, shim_link):
            if link.is_symlink() and _ours(link):
                link.unlink()
                ch.add(f"removed {link}")
            elif link.exists() or link.is_symlink():
                print(f"ct install: left {link} alone (not made by ct install)")
        if desktop.is_file() and "X-CodeTracer-Installed-By" in desktop.read_text(encoding="utf-8", errors="replace"):
            desktop.unlink()
            ch.add(f"removed {desktop}")
        if icon.is_file():
            icon.unlink()
            ch.add(f"removed {icon}")
        for prof in {_profile(), _home() / ".zprofile", _home() / ".bash_profile", _home() / ".profile"}:
            if prof.is_file():
                text = prof.read_text(encoding="utf-8")
                if PROFILE_MARK in text:
                    kept, skip = [], 0
                    for ln in text.splitlines(keepends=True):
                        if skip:
                            skip -= 1
                            continue
                        if ln.strip() == PROFILE_MARK:
                            skip = 1
                            if kept and kept[-1].strip() == "":
                                kept.pop()
                            continue
                        kept.append(ln)
                    prof.write_text("".join(kept), encoding="utf-8")
                    ch.add(f"removed the PATH line from {prof}")
    except OSError as exc:
        raise CtError(f"install --uninstall: {exc.filename or ''}: {exc.strerror or exc}", ENVIRONMENT) from exc
    if not ch.lines:
        print("ct install: nothing to remove")
    return 0
