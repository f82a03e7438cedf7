"""A small, independent CTFS writer for the tests: containers with chosen files, block size and
mapping depth, a meta.dat v3 and chunked zstd streams. Kept apart from ``ct.ctfs`` on purpose
(different code paths: it lays blocks out top-down) so a shared misunderstanding of the format
does not make both agree on something wrong; the real fixtures check both against upstream.
"""

from __future__ import annotations

import struct

import zstandard

ALPHABET = "\0" + "0123456789abcdefghijklmnopqrstuvwxyz./-"
RID = "019fb12a-cac7-78f3-96e7-fd23eb9da98b"


def name40(name: str) -> int:
    return sum(ALPHABET.index(ch) * 40**i for i, ch in enumerate(name))


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def text(s: str) -> bytes:
    raw = s.encode()
    return varint(len(raw)) + raw


def meta_dat(program="/w/app.py", args=(), workdir="/w", recorder_id="python", paths=(),
             rid=RID, version=3, flags=0, tail=b"") -> bytes:
    body = text(rid) + text(program) + varint(len(args)) + b"".join(text(a) for a in args)
    body += text(workdir) + text(recorder_id) + varint(len(paths))
    body += b"".join(text(p) for p in paths)
    return b"CTMD" + struct.pack("<HH", version, flags) + body + tail


def stream(records: list[bytes], chunk_size: int, content_size: bool = True) -> tuple[bytes, bytes]:
    """(NAME.dat, NAME.idx) for already framed records, one zstd frame per chunk."""
    cctx = zstandard.ZstdCompressor(write_content_size=content_size)
    dat, idx = bytearray(), bytearray(struct.pack("<I", chunk_size))
    for start in range(0, len(records), chunk_size):
        idx += struct.pack("<Q", len(dat))
        payload = b"".join(records[start:start + chunk_size])
        if content_size:
            dat += cctx.compress(payload)
        else:  # a streamed frame: no content size in its header
            obj = cctx.compressobj()
            dat += obj.compress(payload) + obj.flush()
    return bytes(dat), bytes(idx)


def prefixed(body: bytes) -> bytes:
    return varint(len(body)) + body


def container(files: dict[str, bytes], block_size: int = 4096, root_entries: int = 31,
              version: int = 4, magic: bytes = b"\xc0\xde\x72\xac\xe2") -> bytes:
    """Lay out files behind level-1 mapping blocks, chaining level 2, 3... as a file grows."""
    per = block_size // 8 - 1  # pointers per mapping block besides the chain slot
    blocks: list[bytes] = [b""]  # block 0: header and entries, filled in last
    entries_end = 16 + root_entries * 24
    while len(blocks) * block_size < entries_end:
        blocks.append(b"")  # root entries spilling past block 0

    def alloc(content: bytes = b"") -> int:
        blocks.append(content)
        return len(blocks) - 1

    def mapping(pointers: list[int], chain: int = 0) -> bytes:
        return struct.pack(f"<{per}Q", *(pointers + [0] * (per - len(pointers)))) + \
            struct.pack("<Q", chain)

    entries = []
    for name, data in files.items():
        data_blocks = [alloc(data[i:i + block_size]) for i in range(0, len(data), block_size)]
        # level k covers per**k data blocks; build the tree of each level from the top down
        levels, rest, k = [], data_blocks, 1
        while rest or k == 1:
            levels.append(rest[:per**k])
            rest = rest[per**k:]
            k += 1
        roots = []
        for k, level_blocks in enumerate(levels, start=1):
            nodes = level_blocks
            for _ in range(k - 1):  # group into lower mapping blocks until one level is left
                nodes = [alloc(mapping(nodes[i:i + per])) for i in range(0, len(nodes), per)]
            roots.append(nodes)
        chain = 0
        for nodes in reversed(roots):  # each level's block chains to the next level up
            chain = alloc(mapping(nodes, chain))
        entries.append((len(data), chain, name40(name)))

    head = magic + bytes([version, 0, 1]) + struct.pack("<II", block_size, root_entries)
    head += b"".join(struct.pack("<QQQ", *e) for e in entries)
    out = bytearray(head.ljust(max(entries_end, block_size), b"\0"))
    out = out.ljust(-(-len(out) // block_size) * block_size, b"\0")
    first = len(out) // block_size
    assert first <= len(blocks)
    for b in blocks[first:]:
        out += b.ljust(block_size, b"\0")
    return bytes(out)


def split_trace(steps: int = 10, calls: list[int] = (), funcs: list[str] = ("main",),
                event_kinds: list[int] = (), meta: bytes | None = None, block_size: int = 4096,
                content_size: bool = True, extra: dict[str, bytes] | None = None,
                drop: tuple[str, ...] = ()) -> bytes:
    """A split-stream trace: ``steps`` AbsoluteStep records (chunk 4096), one call record per
    entry of ``calls`` (its function id; chunk 256), one event per kind (chunk 64)."""
    step_records = [b"\x00" + varint(i) for i in range(steps)]
    call_records = [prefixed(varint(f) + b"\x00" * 5) for f in calls]
    event_records = [prefixed(bytes([k]) + varint(0) + text("") + text("x")) for k in event_kinds]
    files: dict[str, bytes] = {}
    for name, records, chunk in (("steps", step_records, 4096), ("calls", call_records, 256),
                                 ("events", event_records, 64)):
        files[name + ".dat"], files[name + ".idx"] = stream(records, chunk, content_size)
    names = [f.encode() for f in funcs]
    offsets = [0]
    for n in names:
        offsets.append(offsets[-1] + len(n))
    files["funcs.dat"] = b"".join(names)
    files["funcs.off"] = struct.pack(f"<{len(offsets)}Q", *offsets)
    files["meta.dat"] = meta_dat() if meta is None else meta
    files.update(extra or {})
    for name in drop:
        files.pop(name, None)
    return container(files, block_size=block_size)
