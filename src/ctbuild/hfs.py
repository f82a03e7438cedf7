"""Make a raw HFS+ volume from a directory on Linux (the DMG payload without hdiutil).

`xorriso -as mkisofs -hfsplus` is the one Debian tool that writes HFS+ with exec bits and
symlinks intact, but only as a hybrid ISO with an Apple Partition Map. A UDIF image holds a
bare volume, so we cut the `Apple_HFS` partition out of the map ourselves: APM is a handful of
fixed big-endian fields, simpler and stricter than scraping `7z x -tapm` output.
"""

from __future__ import annotations

import struct
from pathlib import Path

from . import proc
from .errors import BuildError

APM_BLOCK = 2048  # -apm-block-size: HFS+ allocation blocks line up with the partition


def mkisofs_hfsplus(src: Path, volume_name: str, out: Path) -> Path:
    """Hybrid ISO/HFS+ image of `src` (Rock Ridge keeps modes and symlinks)."""
    proc.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", volume_name, "-R", "-hfsplus",
              "-apm-block-size", str(APM_BLOCK), "-o", out, src], capture=True)
    return out


def apm_partitions(image: bytes) -> list[tuple[str, str, int, int]]:
    """(name, type, byte offset, byte length) of each Apple Partition Map entry."""
    if image[:2] != b"ER":
        raise BuildError("xorriso wrote no Apple Partition Map driver descriptor ('ER') at offset 0")
    (block,) = struct.unpack(">H", image[2:4])
    parts, index, count = [], 1, 1
    while index <= count:
        entry = image[index * block:(index + 1) * block]
        if entry[:2] != b"PM":
            raise BuildError(f"APM entry {index} lacks its 'PM' signature")
        count, start, blocks = struct.unpack(">III", entry[4:16])
        name = entry[16:48].split(b"\0")[0].decode("ascii", "replace")
        kind = entry[48:80].split(b"\0")[0].decode("ascii", "replace")
        parts.append((name, kind, start * block, blocks * block))
        index += 1
    return parts


def hfsplus_volume(image: bytes) -> bytes:
    """The bytes of the single Apple_HFS partition, checked for the HFS+ 'H+' signature."""
    hfs = [p for p in apm_partitions(image) if p[1] == "Apple_HFS"]
    if len(hfs) != 1:
        raise BuildError(f"expected one Apple_HFS partition, found {len(hfs)}")
    _name, _kind, offset, length = hfs[0]
    volume = image[offset:offset + length]
    if volume[1024:1026] != b"H+":
        raise BuildError("Apple_HFS partition does not hold an HFS+ volume header")
    return volume


def make_volume(src: Path, volume_name: str, scratch: Path) -> bytes:
    """Raw HFS+ volume bytes holding the tree `src`, named `volume_name` in Finder."""
    scratch.mkdir(parents=True, exist_ok=True)
    iso = mkisofs_hfsplus(src, volume_name, scratch / "hybrid.iso")
    return hfsplus_volume(iso.read_bytes())
