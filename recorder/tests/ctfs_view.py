"""What CodeTracer shows of a `trace.ct`, read with the project's own reader (`ct.ctfs`).

`read_spans` reads the request span stream the way the db-backend's request panel does
(`docs/spans.md`), written from those format facts, not from the recorder's Rust writer.

On the split-stream route the db-backend shows at a step exactly that step's `StepValues`
(values.dat), decodes every value blob as CBOR into a runtime_tracing `ValueRecord`, and knows
types by name only. This module gives the same per-step view, with type ids replaced by type
names, so tests can hold it against a `--format json` recording of the same run.
"""

from __future__ import annotations

import struct
from pathlib import Path

import zstandard

from ct.ctfs import Container, Stream, parse_meta, read_varint

SPAN_STREAM_FLAG = 1 << 13


def _cbor(data: bytes, pos: int):
    """One CBOR item at ``pos`` -> (value, next pos); the subset value records use."""
    initial = data[pos]
    pos += 1
    major, info = initial >> 5, initial & 0x1F
    if major == 7:
        simple = {20: False, 21: True, 22: None}
        if info in simple:
            return simple[info], pos
        size = {25: 2, 26: 4, 27: 8}[info]
        fmt = {2: ">e", 4: ">f", 8: ">d"}[size]
        return struct.unpack_from(fmt, data, pos)[0], pos + size
    if info == 31 and major in (4, 5):  # indefinite length, up to a break (0xFF)
        items, pairs = [], []
        while data[pos] != 0xFF:
            item, pos = _cbor(data, pos)
            if major == 5:
                value, pos = _cbor(data, pos)
                pairs.append((item, value))
            else:
                items.append(item)
        return (items if major == 4 else dict(pairs)), pos + 1
    if info < 24:
        arg = info
    else:
        size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        arg = int.from_bytes(data[pos:pos + size], "big")
        pos += size
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - arg, pos
    if major in (2, 3):
        raw = data[pos:pos + arg]
        return (raw if major == 2 else raw.decode("utf-8")), pos + arg
    if major == 4:
        items = []
        for _ in range(arg):
            item, pos = _cbor(data, pos)
            items.append(item)
        return items, pos
    if major == 5:
        out = {}
        for _ in range(arg):
            key, pos = _cbor(data, pos)
            out[key], pos = _cbor(data, pos)
        return out, pos
    raise ValueError(f"CBOR major type {major} is not used by value records")


def cbor(blob: bytes):
    value, end = _cbor(blob, 0)
    assert end == len(blob), "trailing bytes after a value blob"
    return value


def _blob(data: bytes, pos: int) -> tuple[bytes, int]:
    n, pos = read_varint(data, pos)
    return data[pos:pos + n], pos + n


def _table(c: Container, name: str) -> list[bytes]:
    dat = c.read(name + ".dat")
    off = c.read(name + ".off")
    offsets = list(struct.unpack(f"<{len(off) // 8}Q", off))
    return [dat[a:b] for a, b in zip(offsets, offsets[1:], strict=False)]


class CtfsView:
    """A decoded `trace.ct`: interning tables, step positions, values and calls."""

    def __init__(self, trace_dir: Path) -> None:
        c = Container(Path(trace_dir) / "trace.ct")
        self.varnames = [r.decode() for r in _table(c, "varnames")]
        self.types = [r.decode() for r in _table(c, "types")]
        self.functions = [r.decode() for r in _table(c, "funcs")]
        self.paths, self.bases = [], []
        base = 0
        for record in _table(c, "paths"):  # Layout A: path, then its line lengths
            n, pos = read_varint(record, 0)
            self.paths.append(record[pos:pos + n].decode())
            count, pos = read_varint(record, pos + n)
            starts, at, previous = [], 0, 0
            for i in range(count):
                zz, pos = read_varint(record, pos)
                delta = (zz >> 1) ^ -(zz & 1)
                length = delta if i == 0 else previous + delta
                starts.append(at)
                at += length
                previous = length
            self.bases.append((base, starts))
            base += at
        self.slots = self._steps(Stream(c, "steps"))
        self.values = [self._step_values(raw[a:b]) for raw, a, b in Stream(c, "values").records()]
        self.calls = [self._call(raw[a:b]) for raw, a, b in Stream(c, "calls").records()]
        self.events = [self._event(raw[a:b]) for raw, a, b in Stream(c, "events").records()]
        c.close()

    def _position(self, gli: int) -> tuple[str, int]:
        for path, (base, starts) in zip(self.paths, self.bases, strict=True):
            if starts and base <= gli < base + starts[-1] + 1 or gli == base:
                line = max(i for i, s in enumerate(starts) if base + s <= gli) + 1
                return path, line
        raise AssertionError(f"position {gli} is in no file")

    def _steps(self, stream: Stream) -> list:
        slots, position = [], 0
        for raw in stream.iter_chunks():
            pos = 0
            while pos < len(raw):
                tag = raw[pos]
                value, pos = read_varint(raw, pos + 1)
                if tag == 0:
                    position = value
                    slots.append(self._position(position))
                elif tag == 1:
                    position += (value >> 1) ^ -(value & 1)
                    slots.append(self._position(position))
                elif tag == 4:
                    slots.append(None)  # a thread switch
                else:
                    raise AssertionError(f"steps.dat tag {tag}")
        return slots

    def named(self, value):
        """``value`` with type ids replaced by type names."""
        if isinstance(value, dict):
            return {k: (self.types[v] if k == "type_id" else self.named(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.named(v) for v in value]
        return value

    def _step_values(self, record: bytes) -> dict:
        out, pos = {}, 0
        while pos < len(record):
            assert record[pos] == 0, "only StepValues records are written"
            count, pos = read_varint(record, pos + 1)
            for _ in range(count):
                vid, pos = read_varint(record, pos)
                blob, pos = _blob(record, pos)
                out[self.varnames[vid]] = self.named(cbor(blob))
        return out

    def _call(self, record: bytes) -> dict:
        pos, fields = 0, []
        for _ in range(5):
            v, pos = read_varint(record, pos)
            fields.append(v)
        nargs, pos = read_varint(record, pos)
        args = {}
        for _ in range(nargs):
            vid, pos = read_varint(record, pos)
            blob, pos = _blob(record, pos)
            args[self.varnames[vid]] = self.named(cbor(blob))
        ret, pos = _blob(record, pos)
        return {"function": self.functions[fields[0]], "args": args,
                "return": None if ret == b"\xff" else self.named(cbor(ret)),
                "first_step": fields[2], "last_step": fields[3]}

    def _event(self, record: bytes) -> dict:
        kind = record[0]
        step, pos = read_varint(record, 1)
        metadata, pos = _blob(record, pos)
        content, pos = _blob(record, pos)
        return {"kind": kind, "step": step, "metadata": metadata.decode(),
                "content": content.decode()}

    def step_views(self) -> list[tuple[tuple[str, int], dict]]:
        """((path, line), {name: value}) per step, thread switches left out."""
        assert len(self.slots) == len(self.values), "values.dat is parallel to steps.dat"
        return [(slot, values) for slot, values in zip(self.slots, self.values, strict=True)
                if slot is not None]


def json_as_ctfs_shows(trace, value):
    """A raw value of a JSON trace (`rt_helpers.Trace`) as the CTFS route shows it: type ids
    as type names, and a struct as a sequence of (field name, value) pairs under its type."""
    if isinstance(value, list):
        return [json_as_ctfs_shows(trace, v) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("kind") == "Struct":
        fields = trace.types[value["type_id"]]["specific_info"]["fields"]
        pairs = [{"kind": "Tuple", "type_id": "field", "elements": [
            {"kind": "String", "type_id": "str", "text": field["name"]},
            json_as_ctfs_shows(trace, v)]}
            for field, v in zip(fields, value["field_values"], strict=True)]
        return {"kind": "Sequence", "type_id": trace.types[value["type_id"]]["lang_type"],
                "elements": pairs, "is_slice": False}
    return {k: (trace.types[v]["lang_type"] if k == "type_id" else json_as_ctfs_shows(trace, v))
            for k, v in value.items()}


def _text(data: bytes, pos: int) -> tuple[str, int]:
    raw, pos = _blob(data, pos)
    return raw.decode("utf-8"), pos


def _span(record: bytes) -> dict:
    """One `spans.dat` record; anything left over or out of range fails, as the db-backend's
    decoder does."""
    span = {}
    pos = 0
    for key in ("span_id", "parent_span_id"):
        span[key], pos = read_varint(record, pos)
    flags, status = record[pos], record[pos + 1]
    pos += 2
    assert span["span_id"] >= 1 and flags & ~0b11 == 0 and status <= 2, (span, flags, status)
    span["open"], span["external"] = bool(flags & 1), bool(flags & 2)
    span["status"] = ("unknown", "ok", "error")[status]
    for key in ("start_wall_ns", "end_wall_ns", "process_ord", "thread_id", "start_step",
                "end_step"):
        span[key], pos = read_varint(record, pos)
    if span["external"]:
        span["external_recording"], pos = _text(record, pos)
        span["external_path"], pos = _text(record, pos)
    span["span_type"], pos = _text(record, pos)
    span["label"], pos = _text(record, pos)
    structural = record[pos]
    assert structural & ~0b111 == 0, structural
    span["structural"] = structural
    count, pos = read_varint(record, pos + 1)
    metadata = []
    for _ in range(count):
        key, pos = _text(record, pos)
        value, pos = _text(record, pos)
        metadata.append((key, value))
    span["metadata"] = metadata
    assert pos == len(record), "trailing bytes in a span record"
    if span["open"]:
        assert span["end_wall_ns"] == 0 and span["end_step"] == 0, span
    return span


def _span_types(ns: bytes) -> dict[str, list[int]]:
    """`spantype.ns`: "SPTY" (a little-endian u32), version 1, then a table of types."""
    magic, version, count, table = struct.unpack_from("<IHIQ", ns, 0)
    assert (magic, version) == (0x53505459, 1), (magic, version)
    types = {}
    for i in range(count):
        _tid, name_len, name_at, n, ids_at = struct.unpack_from("<IIQIQ", ns, table + 28 * i)
        name = ns[name_at:name_at + name_len].decode()
        types[name] = list(struct.unpack_from(f"<{n}Q", ns, ids_at))
    return types


def read_spans(trace: Path) -> dict | None:
    """The span stream of ``trace`` (a `trace.ct` or its folder), or None when `meta.dat` does
    not declare one (bit 13). ``records``: raw records in file order; ``spans``: the last
    record of each span id, by id (what the request panel lists); ``types``: `spantype.ns`."""
    path = Path(trace)
    with Container(path / "trace.ct" if path.is_dir() else path) as c:
        meta = parse_meta(c.read("meta.dat"))
        if not meta.flags & SPAN_STREAM_FLAG:
            return None
        dat, idx, ns = c.read("spans.dat"), c.read("spans.idx"), c.read("spantype.ns")
    chunk_size, version, reserved = struct.unpack_from("<IHH", idx, 0)
    assert chunk_size > 0 and version == 2 and reserved == 0, (chunk_size, version, reserved)
    assert (len(idx) - 8) % 16 == 0, "spans.idx entries are 16 bytes"
    entries = [struct.unpack_from("<QQ", idx, 8 + 16 * i) for i in range((len(idx) - 8) // 16)]
    records, before = [], 0
    for i, (offset, cumulative) in enumerate(entries):
        end = entries[i + 1][0] if i + 1 < len(entries) else len(dat)
        frame = dat[offset:end]
        assert zstandard.get_frame_parameters(frame).content_size != zstandard.CONTENTSIZE_UNKNOWN
        raw = zstandard.ZstdDecompressor().decompress(frame)
        pos, in_chunk = 0, 0
        while pos < len(raw):
            record, pos = _blob(raw, pos)
            records.append(_span(record))
            in_chunk += 1
        assert cumulative == before + in_chunk, "spans.idx counts records up to each chunk"
        before = cumulative
    settled = {}
    for record in records:
        settled[record["span_id"]] = record
    return {"records": records, "spans": [settled[k] for k in sorted(settled)],
            "types": _span_types(ns)}


def request_rows(spans: list[dict]) -> list[dict]:
    """What the request panel shows per web-request span (db-backend `to_request_record`)."""
    rows = []
    for span in spans:
        if span["span_type"] != "web-request":
            continue
        meta = dict(reversed(span["metadata"]))  # the first value of a key wins

        def number(key, meta=meta):
            try:
                return int(meta.get(key, "").strip())
            except ValueError:
                return 0

        rows.append({"id": span["span_id"], "method": meta.get("http.method", ""),
                     "url": meta.get("http.url", ""), "status_code": number("http.status_code"),
                     "duration_ms": number("http.duration_ms"), "start_geid": span["start_step"],
                     "open": span["open"], "status": span["status"]})
    return rows
