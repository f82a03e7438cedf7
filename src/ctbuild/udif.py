"""Write a raw HFS+ volume as a compressed UDIF disk image (UDZO, what `hdiutil` calls it).

Linux has no `hdiutil`, but the format is small: the data fork is a run of zlib chunks, a
`mish` block table (inside an XML plist, the "resource fork") says which chunk holds which
sectors, and a 512-byte big-endian `koly` trailer points at both and carries CRC32s. Keeping the
writer here, dependency-free, lets the DMG builder be exercised on Linux and checked with
independent readers (7z, dmg2img). Layout per Apple's UDIF, as also read by 7-Zip and dmg2img.
"""

from __future__ import annotations

import plistlib
import struct
import uuid
import zlib
from pathlib import Path

SECTOR = 512
CHUNK_SECTORS = 512  # 256 KiB per chunk: the value hdiutil uses, so macOS sizes buffers right
BUFFERS_NEEDED = CHUNK_SECTORS + 8

#: chunk types. Zero fill is type 0, not hdiutil's "ignore" (2): readers leave type-2 runs out
#: of the partition checksum, while ours covers every sector.
ZLIB, ZERO, END = 0x80000005, 0x00000000, 0xFFFFFFFF
CRC32_TYPE, CRC32_BITS = 2, 32


def _checksum(value: int) -> bytes:
    """UDIF checksum field: type, size in bits, 128 bytes of which CRC32 uses the first 4."""
    return struct.pack(">II", CRC32_TYPE, CRC32_BITS) + struct.pack(">I", value).ljust(128, b"\0")


def _mish(chunks: list[tuple[int, int, int, int, int]], sectors: int, crc: int) -> bytes:
    """The blkx table of the single partition: header, one 40-byte entry per chunk, terminator."""
    entries = chunks + [(END, sectors, 0, 0, 0)]
    head = struct.pack(">4sIQQQII24x", b"mish", 1, 0, sectors, 0, BUFFERS_NEEDED, 0)
    head += _checksum(crc) + struct.pack(">I", len(entries))
    body = b"".join(struct.pack(">IIQQQQ", kind, 0, first, count, off, length)
                    for kind, first, count, off, length in entries)
    return head + body


def _koly(data_len: int, xml_off: int, xml_len: int, data_crc: int, master_crc: int,
          sectors: int) -> bytes:
    """The 512-byte trailer; flags=1 (flattened), image variant 1 (device image)."""
    koly = struct.pack(">4sIII", b"koly", 4, 512, 1)
    koly += struct.pack(">QQQQQ", 0, 0, data_len, 0, 0)  # running/data fork, rsrc fork
    koly += struct.pack(">II", 1, 1) + uuid.uuid4().bytes  # segment 1 of 1
    koly += _checksum(data_crc)
    koly += struct.pack(">QQ", xml_off, xml_len) + bytes(120)
    koly += _checksum(master_crc)
    koly += struct.pack(">IQ", 1, sectors) + bytes(12)
    assert len(koly) == 512
    return koly


def write_udzo(volume: bytes, out: Path, partition_name: str = "Apple_HFS") -> Path:
    """Compress `volume` (a raw HFS+ filesystem, no partition map) into the UDZO image `out`.

    All-zero chunks (free space) are stored as zero-fill entries without data.
    """
    if len(volume) % SECTOR:
        volume += bytes(SECTOR - len(volume) % SECTOR)
    sectors = len(volume) // SECTOR
    data, chunks = bytearray(), []
    step = CHUNK_SECTORS * SECTOR
    for start in range(0, len(volume), step):
        raw = volume[start:start + step]
        first, count = start // SECTOR, len(raw) // SECTOR
        if raw.count(0) == len(raw):
            chunks.append((ZERO, first, count, len(data), 0))
            continue
        packed = zlib.compress(raw, 9)
        chunks.append((ZLIB, first, count, len(data), len(packed)))
        data += packed
    blkx_crc = zlib.crc32(volume)
    mish = _mish(chunks, sectors, blkx_crc)
    plist = {"resource-fork": {"blkx": [{
        "Attributes": "0x0050",
        "CFName": f"whole disk ({partition_name} : 0)",
        "Data": mish,
        "ID": "-1",
        "Name": f"whole disk ({partition_name} : 0)",
    }]}}
    xml = plistlib.dumps(plist, fmt=plistlib.FMT_XML)
    master_crc = zlib.crc32(struct.pack(">I", blkx_crc))
    trailer = _koly(len(data), len(data), len(xml), zlib.crc32(data), master_crc, sectors)
    out.write_bytes(bytes(data) + xml + trailer)
    return out


def read_koly(image: Path) -> dict[str, int]:
    """Decode the trailer fields the verifier checks (signature, fork offsets, sector count)."""
    with open(image, "rb") as fh:
        fh.seek(-512, 2)
        koly = fh.read(512)
    if koly[:4] != b"koly":
        raise ValueError(f"{image}: no 'koly' UDIF trailer in the last 512 bytes")
    version, size, flags = struct.unpack(">III", koly[4:16])
    data_off, data_len = struct.unpack(">QQ", koly[24:40])
    (data_crc,) = struct.unpack(">I", koly[88:92])
    xml_off, xml_len = struct.unpack(">QQ", koly[216:232])
    (sectors,) = struct.unpack(">Q", koly[492:500])
    return {"version": version, "header_size": size, "flags": flags, "data_offset": data_off,
            "data_length": data_len, "data_crc32": data_crc, "xml_offset": xml_off,
            "xml_length": xml_len, "sectors": sectors}


def verify_checksums(image: Path) -> None:
    """Re-compute the data-fork CRC32 the trailer claims; raise if the image is damaged."""
    koly = read_koly(image)
    blob = image.read_bytes()
    data = blob[koly["data_offset"]:koly["data_offset"] + koly["data_length"]]
    if zlib.crc32(data) != koly["data_crc32"]:
        raise ValueError(f"{image}: data fork CRC32 does not match the koly trailer")
    plist = plistlib.loads(blob[koly["xml_offset"]:koly["xml_offset"] + koly["xml_length"]])
    blkx = plist["resource-fork"]["blkx"]
    if not blkx or not bytes(blkx[0]["Data"]).startswith(b"mish"):
        raise ValueError(f"{image}: resource fork has no mish block table")


__all__ = ["write_udzo", "read_koly", "verify_checksums"]
