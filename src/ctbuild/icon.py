"""The application icon, drawn in code: a PNG writer in a few lines of zlib and struct.

Generating it keeps binary blobs out of the repository and makes the icon reproducible
(same bytes on every build, so the AppImage digest depends only on real inputs).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

BACKGROUND = (0x1E, 0x2A, 0x3A, 0xFF)
RING = (0xF5, 0xF5, 0xF5, 0xFF)
DOT = (0xE5, 0x39, 0x35, 0xFF)
CLEAR = (0, 0, 0, 0)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int, height: int, pixel) -> bytes:
    """Encode an RGBA image given as ``pixel(x, y) -> (r, g, b, a)``."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type: none
        for x in range(width):
            rows.extend(pixel(x, y))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )


def icon_pixel(size: int):
    """A record button on a rounded dark square."""
    radius_corner = size * 0.18
    centre = (size - 1) / 2

    def pixel(x: int, y: int) -> tuple[int, int, int, int]:
        # rounded square mask
        dx = max(abs(x - centre) - (centre - radius_corner), 0)
        dy = max(abs(y - centre) - (centre - radius_corner), 0)
        if dx * dx + dy * dy > radius_corner * radius_corner:
            return CLEAR
        r = ((x - centre) ** 2 + (y - centre) ** 2) ** 0.5
        if r < size * 0.22:
            return DOT
        if size * 0.28 < r < size * 0.34:
            return RING
        return BACKGROUND

    return pixel


def write_icon(path: Path, size: int = 256) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(size, size, icon_pixel(size)))
    return path
