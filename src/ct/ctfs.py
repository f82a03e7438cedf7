"""Read CTFS ``trace.ct`` containers the way today's CodeTracer does, lazily.

Written from the format facts (docs in ``ctfs.md``: the spec's container chapters and what
CodeTracer's readers really apply), not from any reader's code. ``ct`` needs two things from a
container: whether CodeTracer will open it (and if not, why, in one line) and cheap numbers
for the index and ``ct show``: steps, calls, events, exceptions and calls per function.

Traces reach many GB, so nothing is read whole: the container is memory-mapped, internal files
are read by byte range through their mapping blocks, and a stream's record count comes from
its ``.idx`` (chunk size x full chunks) plus the last chunk, the only one decompressed.

Layout (all integers little-endian):

* header (16 bytes): magic ``C0 DE 72 AC E2``, version 2..4, 2 bytes CodeTracer ignores,
  block size u32 in {1024, 2048, 4096}, MaxRootEntries u32;
* MaxRootEntries file entries of 24 bytes from byte 16: size u64, level-1 mapping block u64,
  base40 name u64 (all zero: empty slot);
* a mapping block holds block_size/8 u64 pointers; all but the last point down (data blocks
  at level 1, level k-1 mapping blocks at level k), the last chains to the next level's block;
* ``meta.dat``: ``CTMD``, version u16 = 3, flags u16, then LEB128-length strings
  (recording_id as a lowercase UUIDv7, program, args, workdir, recorder_id, paths) and the
  optional blocks flagged by bits 0-3; nothing may follow;
* split streams ``X.dat`` + ``X.idx``: idx = chunk size u32 + one u64 offset per chunk; each
  chunk one zstd frame that states its content size; steps are tagged records, values, calls
  and events are LEB128-length-prefixed records.
"""

from __future__ import annotations

import mmap
import os
import re
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"\xc0\xde\x72\xac\xe2"
VERSIONS = (2, 3, 4)
BLOCK_SIZES = (1024, 2048, 4096)
HEADER_BYTES = 16
ENTRY_BYTES = 24
MAX_LEVELS = 5
#: what the Nim reader behind CodeTracer's split-stream route assumes, whatever the header says
NIM_BLOCK_SIZE = 4096
NIM_ROOT_ENTRIES = 31
BASE40 = "\0" + "0123456789" + "abcdefghijklmnopqrstuvwxyz" + "./-"

META_MAGIC = b"CTMD"
META_VERSION = 3
META_KNOWN_FLAGS = (1 << 14) - 1  # bits 0-13; CodeTracer rejects any higher bit
FLAG_MCR, FLAG_REPLAY_LAUNCH, FLAG_LAYOUT, FLAG_FILTERS = 1, 2, 4, 8
FLAG_COLUMN_AWARE = 1 << 4
FLAG_RICH_TABLES = 1 << 12  # the Rust writer's funcs/types records (position + name)
UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")

#: EventLogKind ordinals (the ``kind`` byte of an events.dat record)
EVENT_ERROR = 11
SPLIT_STREAMS = ("steps", "values", "calls", "events")
TABLES = ("paths", "funcs", "types", "varnames")


class CtfsError(Exception):
    """Why a container cannot be read or would not open in CodeTracer: one line."""


# -- small decoders --------------------------------------------------------------------------

def base40_decode(value: int) -> str:
    """A file entry's name; the first padding digit ends it."""
    out = []
    while value:
        value, digit = divmod(value, 40)
        if not digit:
            break
        out.append(BASE40[digit])
    return "".join(out)


def base40_encode(name: str) -> int:
    """The inverse of :func:`base40_decode` (names of at most 12 characters)."""
    if len(name) > 12 or any(c not in BASE40[1:] for c in name):
        raise ValueError(f"{name!r} is not a base40 name of at most 12 characters")
    value = 0
    for c in reversed(name):
        value = value * 40 + BASE40.index(c)
    return value


def read_varint(buf, pos: int) -> tuple[int, int]:
    """Unsigned LEB128 at ``pos``; returns (value, next position)."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise CtfsError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise CtfsError("varint longer than 10 bytes")


# -- container -------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    map_block: int
    slot: int  # index among the root entries (the Nim reader sees slots < 31 only)


class Container:
    """A CTFS container opened read-only through ``mmap``; internal files read by range."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < HEADER_BYTES:
                    raise CtfsError(f"{self.path.name} is {size} bytes, too short for a CTFS header")
                self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise CtfsError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        self.file_size = size
        try:
            self._parse_header()
        except BaseException:
            self.close()
            raise

    def _parse_header(self) -> None:
        m = self._map
        if m[:5] != MAGIC:
            raise CtfsError(f"{self.path.name} is not a CTFS container (no C0 DE 72 AC E2 magic)")
        self.version = m[5]
        if self.version not in VERSIONS:
            raise CtfsError(f"CTFS version {self.version}; CodeTracer reads versions 2 to 4")
        self.block_size, self.max_root_entries = struct.unpack_from("<II", m, 8)
        if self.block_size not in BLOCK_SIZES:
            raise CtfsError(f"block size {self.block_size}; CodeTracer reads 1024, 2048 or 4096")
        if self.max_root_entries == 0:
            raise CtfsError("MaxRootEntries is 0: CodeTracer finds no files in the container")
        end = HEADER_BYTES + self.max_root_entries * ENTRY_BYTES
        if end > self.file_size:
            raise CtfsError(f"{self.max_root_entries} root entries run past the end of the file")
        self.entries: dict[str, FileEntry] = {}
        for slot in range(self.max_root_entries):
            size, map_block, name = struct.unpack_from("<QQQ", m, HEADER_BYTES + slot * 24)
            if not name:
                continue  # an empty slot (or a nameless one no reader can ask for)
            decoded = base40_decode(name)
            self.entries.setdefault(decoded, FileEntry(decoded, size, map_block, slot))
            if self.entries[decoded].slot == slot and size and not map_block:
                raise CtfsError(f"{decoded}: {size} bytes but no mapping block")

    # lifecycle
    def close(self) -> None:
        m = getattr(self, "_map", None)
        if m is not None:
            m.close()
            self._map = None

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # files
    def has(self, name: str) -> bool:
        return name in self.entries

    def size(self, name: str) -> int:
        return self.entries[name].size

    def levels(self, name: str) -> int:
        """How many mapping levels the file's data blocks span (1 up to 5)."""
        usable = self.block_size // 8 - 1
        blocks = -(-self.entries[name].size // self.block_size)
        level, capacity = 1, usable
        while blocks > capacity:
            level += 1
            capacity += usable**level
        return level

    def _pointer(self, block: int, index: int) -> int:
        offset = block * self.block_size + index * 8
        if block <= 0 or offset + 8 > self.file_size:
            raise CtfsError(f"mapping block {block} lies outside the {self.file_size}-byte file")
        return struct.unpack_from("<Q", self._map, offset)[0]

    def data_block(self, entry: FileEntry, index: int) -> int:
        """Block number of the file's ``index``-th data block, through the level chain."""
        usable = self.block_size // 8 - 1
        block, level, capacity = entry.map_block, 1, usable
        while index >= capacity:  # climb: each level's block is the chain slot of the one below
            index -= capacity
            level += 1
            if level > MAX_LEVELS:
                raise CtfsError(f"{entry.name}: block {index} needs more than {MAX_LEVELS} levels")
            block = self._pointer(block, usable)
            if not block:
                raise CtfsError(f"{entry.name}: level-{level} mapping block missing (file truncated?)")
            capacity = usable**level
        while level > 1:  # descend: each pointer covers usable**(level-1) data blocks
            below = usable ** (level - 1)
            block = self._pointer(block, index // below)
            index %= below
            level -= 1
            if not block:
                raise CtfsError(f"{entry.name}: mapping pointer missing (file truncated?)")
        data = self._pointer(block, index)
        if not data or (data + 1) * self.block_size > self.file_size:
            raise CtfsError(f"{entry.name}: data block {data} is missing or past the end of the file")
        return data

    def read(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        """Bytes ``[offset, offset+length)`` of an internal file (clamped to its size)."""
        entry = self.entries.get(name)
        if entry is None:
            raise CtfsError(f"no {name} in the container")
        end = entry.size if length is None else min(entry.size, offset + length)
        parts = []
        bs = self.block_size
        while offset < end:
            index, within = divmod(offset, bs)
            take = min(bs - within, end - offset)
            start = self.data_block(entry, index) * bs + within
            parts.append(self._map[start:start + take])
            offset += take
        return b"".join(parts)


# -- meta.dat --------------------------------------------------------------------------------

@dataclass
class Meta:
    version: int
    flags: int
    recording_id: str
    program: str
    args: list[str]
    workdir: str
    recorder_id: str
    paths: list[str]
    filter_provenance: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def varint(self) -> int:
        value, self.pos = read_varint(self.data, self.pos)
        return value

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise CtfsError(f"meta.dat: {what} runs past the end")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def text(self, what: str) -> str:
        raw = self.take(self.varint(), what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CtfsError(f"meta.dat: {what} is not UTF-8") from exc

    def texts(self, what: str) -> list[str]:
        return [self.text(what) for _ in range(self.varint())]


def parse_meta(data: bytes) -> Meta:
    """meta.dat v3 with CodeTracer's rules: any deviation is a CtfsError naming it."""
    if len(data) < 8:
        raise CtfsError(f"meta.dat is {len(data)} bytes, shorter than its 8-byte header")
    if data[:4] != META_MAGIC:
        raise CtfsError("meta.dat does not start with CTMD")
    version, flags = struct.unpack_from("<HH", data, 4)
    if version != META_VERSION:
        raise CtfsError(f"meta.dat version {version}; CodeTracer reads version 3 only")
    if flags & ~META_KNOWN_FLAGS:
        raise CtfsError(f"meta.dat sets unknown flag bits {flags & ~META_KNOWN_FLAGS:#06x}")
    cur = _Cursor(data)
    cur.pos = 8
    try:
        rid = cur.text("recording_id")
        if not UUID7.match(rid):
            raise CtfsError(f"meta.dat recording_id {rid!r} is not a canonical lowercase UUIDv7")
        meta = Meta(version, flags, rid, cur.text("program"), cur.texts("args"),
                    cur.text("workdir"), cur.text("recorder_id"), cur.texts("paths"))
        if flags & FLAG_MCR:
            for _ in range(6):
                cur.varint()
            for _ in range(6):
                cur.text("MCR field")
            cur.texts("hook strategies")
        if flags & FLAG_REPLAY_LAUNCH:
            cur.take(1, "replay-launch byte")
        if flags & FLAG_LAYOUT:
            cur.take(8, "layout hash")
            cur.take(cur.varint(), "layout fingerprint")
        if flags & FLAG_FILTERS:
            for _ in range(cur.varint()):
                path = cur.text("filter path")
                meta.filter_provenance.append({"path": path, "sha256": cur.take(32, "sha256").hex()})
    except CtfsError as exc:
        msg = str(exc)
        raise CtfsError(msg if msg.startswith("meta.dat") else f"meta.dat: {msg}") from None
    if cur.pos != len(data):
        raise CtfsError(f"meta.dat has {len(data) - cur.pos} trailing bytes after its fields")
    return meta


# -- split streams ---------------------------------------------------------------------------

def _count_prefixed(raw: bytes) -> int:
    """Records in a chunk of LEB128-length-prefixed records."""
    pos = count = 0
    end = len(raw)
    while pos < end:
        length, pos = read_varint(raw, pos)
        pos += length
        count += 1
    if pos != end:
        raise CtfsError("a record runs past the end of its chunk")
    return count


def _count_steps(raw: bytes) -> int:
    """Records in a steps.dat chunk: tag byte, then varints (Raise also carries its message)."""
    pos = count = 0
    end = len(raw)
    while pos < end:
        tag = raw[pos]
        pos += 1
        if tag > 7:
            raise CtfsError(f"steps.dat: unknown record tag {tag}")
        value, pos = read_varint(raw, pos)
        if tag == 2:  # Raise: exception type id, message length, message
            length, pos = read_varint(raw, pos)
            pos += length
        count += 1
    if pos != end:
        raise CtfsError("steps.dat: a record runs past the end of its chunk")
    return count


class Stream:
    """A chunked stream ``NAME.dat`` + ``NAME.idx``: seekable, decompressed chunk by chunk."""

    def __init__(self, container: Container, name: str) -> None:
        self.container, self.name = container, name
        for suffix in (".dat", ".idx"):
            if not container.has(name + suffix):
                raise CtfsError(f"{name}.dat needs {name}.idx and the container lacks {name}{suffix}")
        idx_size = container.size(name + ".idx")
        if idx_size < 4 or (idx_size - 4) % 8:
            raise CtfsError(f"{name}.idx is {idx_size} bytes, not a u32 chunk size plus u64 offsets")
        (self.chunk_size,) = struct.unpack("<I", container.read(name + ".idx", 0, 4))
        self.chunks = (idx_size - 4) // 8
        self.dat_size = container.size(name + ".dat")
        if self.chunks and not self.chunk_size:
            raise CtfsError(f"{name}.idx: chunk size 0")

    def _offset(self, i: int) -> int:
        if i >= self.chunks:
            return self.dat_size
        return struct.unpack("<Q", self.container.read(self.name + ".idx", 4 + 8 * i, 8))[0]

    def offsets(self) -> list[int]:
        raw = self.container.read(self.name + ".idx", 4)
        return [*struct.unpack(f"<{self.chunks}Q", raw), self.dat_size]

    def compressed(self, i: int, bounds: tuple[int, int] | None = None) -> bytes:
        start, end = bounds or (self._offset(i), self._offset(i + 1))
        if not start <= end <= self.dat_size:
            raise CtfsError(f"{self.name}.idx: chunk {i} spans {start}..{end} outside "
                            f"{self.name}.dat ({self.dat_size} bytes)")
        return self.container.read(self.name + ".dat", start, end - start)

    def chunk(self, i: int, bounds: tuple[int, int] | None = None) -> bytes:
        """Chunk ``i`` decompressed; a frame without its content size is refused, as the Nim
        reader behind CodeTracer's split route refuses it."""
        import zstandard

        frame = self.compressed(i, bounds)
        try:
            size = zstandard.get_frame_parameters(frame).content_size
        except zstandard.ZstdError as exc:
            raise CtfsError(f"{self.name}.dat chunk {i} is not a zstd frame ({exc})") from exc
        if size == zstandard.CONTENTSIZE_UNKNOWN:
            raise CtfsError(f"{self.name}.dat chunk {i}: zstd frame without its content size "
                            "(CodeTracer's reader rejects it; compress each chunk in one shot)")
        try:
            return zstandard.ZstdDecompressor().decompress(frame, max_output_size=size)
        except zstandard.ZstdError as exc:
            raise CtfsError(f"{self.name}.dat chunk {i} does not decompress ({exc})") from exc

    def iter_chunks(self) -> Iterator[bytes]:
        offsets = self.offsets()
        for i in range(self.chunks):
            yield self.chunk(i, (offsets[i], offsets[i + 1]))

    def count(self) -> int:
        """Records in the stream: full chunks from the index, the last one decoded."""
        if not self.chunks:
            return 0
        counter = _count_steps if self.name == "steps" else _count_prefixed
        last = counter(self.chunk(self.chunks - 1))
        if last > self.chunk_size:
            raise CtfsError(f"{self.name}.dat: last chunk holds {last} records, more than the "
                            f"chunk size {self.chunk_size}")
        return (self.chunks - 1) * self.chunk_size + last

    def records(self) -> Iterator[tuple[bytes, int, int]]:
        """(chunk, start, end) of every length-prefixed record, in order."""
        for raw in self.iter_chunks():
            pos, end = 0, len(raw)
            while pos < end:
                length, pos = read_varint(raw, pos)
                yield raw, pos, pos + length
                pos += length


# -- the trace view ct uses ------------------------------------------------------------------

def find_container(trace_dir: str | os.PathLike) -> Path | None:
    """The container CodeTracer would pick in a folder: ``trace.ct``, else the only ``*.ct``."""
    folder = Path(trace_dir)
    if (folder / "trace.ct").is_file():
        return folder / "trace.ct"
    found = [p for p in folder.glob("*.ct") if p.is_file()] if folder.is_dir() else []
    return found[0] if len(found) == 1 else None


class Trace:
    """A container CodeTracer would open, with lazily computed numbers.

    ``Trace(path)`` raises :class:`CtfsError` naming the first reason today's CodeTracer
    would refuse the container; ``route`` says which of its readers would take it.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.container = Container(path)
        try:
            self.meta = self._check()
        except BaseException:
            self.container.close()
            raise
        self._cache: dict[str, object] = {}

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> Trace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check(self) -> Meta:
        c = self.container
        if not c.has("meta.dat"):
            raise CtfsError("no meta.dat: today's CodeTracer refuses a container without one")
        meta = parse_meta(c.read("meta.dat"))
        if meta.flags & FLAG_MCR:
            raise CtfsError("meta.dat carries MCR fields: CodeTracer opens it as an MCR "
                            "recording, not as a trace")
        if c.has("steps.dat") and not c.has("events.log"):
            self.route = "split"
            if c.block_size != NIM_BLOCK_SIZE:
                raise CtfsError(f"block size {c.block_size}: the split-stream reader assumes "
                                f"{NIM_BLOCK_SIZE}")
            hidden = [e.name for e in c.entries.values() if e.slot >= NIM_ROOT_ENTRIES]
            if hidden:
                raise CtfsError(f"{', '.join(hidden)} beyond root entry {NIM_ROOT_ENTRIES}: the "
                                "split-stream reader does not see them")
            Stream(c, "steps")  # its index must be there and well formed
        elif c.has("events.log"):
            self.route = "events.log"
        else:
            raise CtfsError("neither steps.dat nor events.log: CodeTracer finds no trace in it")
        return meta

    # numbers
    def _stream(self, name: str) -> Stream | None:
        if not (self.container.has(name + ".dat") and self.container.has(name + ".idx")):
            return None
        return Stream(self.container, name)

    def _count(self, name: str) -> int | None:
        key = "count:" + name
        if key not in self._cache:
            stream = self._stream(name)
            self._cache[key] = stream.count() if stream else None
        return self._cache[key]  # type: ignore[return-value]

    def steps(self) -> int | None:
        """Step slots (every steps.dat record, markers included)."""
        return self._count("steps")

    def calls(self) -> int | None:
        return self._count("calls")

    def events(self) -> int | None:
        return self._count("events")

    def event_kinds(self) -> Counter[int]:
        """events.dat records by EventLogKind ordinal (reads the whole events stream)."""
        if "kinds" not in self._cache:
            kinds: Counter[int] = Counter()
            stream = self._stream("events")
            for raw, start, end in stream.records() if stream else ():
                if start < end:
                    kinds[raw[start]] += 1
            self._cache["kinds"] = kinds
        return self._cache["kinds"]  # type: ignore[return-value]

    def exceptions(self) -> int | None:
        """Error events (kind 11): how exceptions reach CodeTracer's event log."""
        return self.event_kinds()[EVENT_ERROR] if self._stream("events") else None

    def table(self, name: str) -> list[str]:
        """An interning table (``paths``, ``funcs``, ``types``, ``varnames``) as names."""
        c = self.container
        if not (c.has(name + ".dat") and c.has(name + ".off")):
            return []
        off = c.read(name + ".off")
        if len(off) % 8:
            raise CtfsError(f"{name}.off is {len(off)} bytes, not a list of u64 offsets")
        bounds = struct.unpack(f"<{len(off) // 8}Q", off)
        data = c.read(name + ".dat")
        if bounds and bounds[-1] > len(data):
            raise CtfsError(f"{name}.off points past the end of {name}.dat")
        return [_name_of(name, data[a:b], self.meta.flags)
                for a, b in zip(bounds, bounds[1:], strict=False)]

    def function_calls(self, max_chunks: int | None = None) -> Counter[str]:
        """Calls per function name: calls.dat function_id (each record's first field) through
        funcs.dat, one varint per call. With ``max_chunks``, a longer stream is sampled at
        evenly spread chunks and the counts scaled to the whole (``self.sampled`` says so):
        a Python loop over tens of millions of calls would take minutes."""
        ids: dict[int, int] = {}
        stream = self._stream("calls")
        self.sampled = False
        if stream and stream.chunks:
            offsets = stream.offsets()
            picks = range(stream.chunks)
            if max_chunks is not None and stream.chunks > max_chunks:
                step = stream.chunks / max_chunks
                picks = sorted({int(k * step) for k in range(max_chunks)} | {stream.chunks - 1})
                self.sampled = True
            for i in picks:
                _function_ids(stream.chunk(i, (offsets[i], offsets[i + 1])), ids)
            if self.sampled:
                total, seen = self.calls() or 0, sum(ids.values()) or 1
                ids = {i: round(n * total / seen) for i, n in ids.items()}
        names = self.table("funcs")
        return Counter({(names[i] if 0 <= i < len(names) else f"#{i}"): n for i, n in ids.items()})

    def stats(self, exceptions: bool = True) -> dict:
        """What the index stores; ``exceptions`` costs a pass over the events stream."""
        out = {"steps": self.steps(), "calls": self.calls(), "events": self.events()}
        if exceptions:
            out["exceptions"] = self.exceptions()
        return out

    def describe(self) -> dict:
        c = self.container
        return {
            "path": str(c.path), "version": c.version, "block_size": c.block_size,
            "max_root_entries": c.max_root_entries, "route": self.route,
            "files": {e.name: e.size for e in c.entries.values()},
            "meta": self.meta.as_dict(),
        }


def _name_of(table: str, record: bytes, flags: int) -> str:
    """The name in an interning record: raw text, except a column-aware trace's path (length,
    path, then its line lengths) and the Rust writer's funcs (position, length, name)."""
    try:
        if table == "paths" and flags & FLAG_COLUMN_AWARE:
            length, pos = read_varint(record, 0)
            record = record[pos:pos + length]
        elif table == "funcs" and flags & FLAG_RICH_TABLES:
            _position, pos = read_varint(record, 0)
            length, pos = read_varint(record, pos)
            record = record[pos:pos + length]
    except CtfsError:
        pass  # not the layout the flag promised: show the bytes as they are
    return record.decode("utf-8", "replace")


def _function_ids(raw: bytes, ids: dict[int, int]) -> None:
    """Add the function_id of every call record in a decompressed calls chunk to ``ids``
    (the hot loop of ``ct show``: one- and two-byte varints are read inline)."""
    get = ids.get
    pos, end = 0, len(raw)
    while pos < end:
        length = raw[pos]
        if length < 0x80:
            pos += 1
        else:
            length, pos = read_varint(raw, pos)
        if not length:
            continue
        fid = raw[pos]
        if fid >= 0x80:
            second = raw[pos + 1] if pos + 1 < end else 0x80
            fid = (fid & 0x7F) | (second << 7) if second < 0x80 else read_varint(raw, pos)[0]
        ids[fid] = get(fid, 0) + 1
        pos += length


def open_trace(path: str | os.PathLike) -> Trace:
    """Open ``path`` (a ``.ct`` file or a folder holding one) as CodeTracer would."""
    p = Path(path)
    if p.is_dir():
        found = find_container(p)
        if found is None:
            raise CtfsError(f"no trace.ct (or single *.ct) in {p}")
        p = found
    return Trace(p)
