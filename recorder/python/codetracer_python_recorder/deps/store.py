"""The capture file (``deps.jsonl``): writing, reading, and the value codec.

One JSON object per line. Line 1 is the header ``{"format": "codetracer-deps", "version": N,
...}``; every other line with a ``"seq"`` is one call. Lines are written when a call ends, so
the file is in completion order; ``seq`` is the start order, which replay uses. Loading uses
``json.loads`` only and rebuilds a fixed set of value types: a capture never runs code.

Values that JSON cannot hold are tagged objects with one ``$`` key: ``{"$b64": ...}`` bytes,
``{"$tuple": [...]}``, ``{"$dict": [[k, v], ...]}`` (non-string keys), ``{"$decimal": "1.5"}``,
``{"$datetime"|"$date"|"$time": iso}`` (``[iso, zone name]`` for a ZoneInfo), ``{"$timedelta": seconds}``, ``{"$uuid": ...}``,
``{"$float": "nan"}``, ``{"$set": [...]}``, ``{"$oid": hex}`` (bson ObjectId),
``{"$timestamp": [time, inc]}`` (bson Timestamp: a change's ``clusterTime``),
``{"$repr": text}`` (not rebuildable), ``{"$file": "deps-bodies/<sha256>.bin"}`` (bytes over
``SIDE_FILE_BYTES``, stored beside the capture).
"""

from __future__ import annotations

import _thread
import base64
import json
import os
import re
import sys
import threading
import time

from .. import _native
from . import tape

FORMAT = "codetracer-deps"
VERSION = 1
FILE_NAME = "deps.jsonl"
#: bytes values longer than this go to side files ``deps-bodies/<sha256>.bin`` beside the
#: capture, referenced as ``{"$file": "deps-bodies/<sha256>.bin"}`` (content-addressed, so a
#: body fetched twice is stored once)
SIDE_FILE_BYTES = 256 * 1024
SIDE_DIR = "deps-bodies"
_SIDE_B64 = (SIDE_FILE_BYTES + 2) // 3 * 4


class CaptureError(Exception):
    """A capture file that cannot be used (missing, not a capture, newer format)."""


class Encoded:
    """A value already encoded (a snapshot of something the program may change later)."""

    __slots__ = ("value",)

    def __init__(self, value) -> None:
        self.value = value


def snapshot(value):
    """What the writer thread may encode later: immutable values as they are, others encoded
    now (the program may mutate a list or dict it was handed)."""
    if value is None or type(value) in (bytes, str, int, float, bool):
        return value
    return Encoded(encode(value))


_SCALARS = frozenset({str, int, bool, type(None)})  # JSON-ready as they are


def encode(value, side=None):
    """Python value -> JSON-ready value (see the module docstring for the tags). ``side``:
    called with bytes over ``SIDE_FILE_BYTES``, returns their ``$file`` tag (the writer's
    side files). Exact types take a fast path and scalar items are not recursed into: this
    runs once per value of every recorded call."""
    t = type(value)
    if t in _SCALARS:
        return value
    if t is dict:
        for k in value:
            if type(k) is not str or k[:1] == "$":
                break
        else:
            return {k: v if type(v) in _SCALARS else encode(v, side) for k, v in value.items()}
    elif t is list:
        return [v if type(v) in _SCALARS else encode(v, side) for v in value]
    elif t is tuple:
        return {"$tuple": [v if type(v) in _SCALARS else encode(v, side) for v in value]}
    elif t is float:
        return value if value - value == 0.0 else {"$float": repr(value)}  # nan, inf: tagged
    elif t is bytes:
        if side is not None and len(value) > SIDE_FILE_BYTES:
            return side(value)
        return {"$b64": base64.b64encode(value).decode("ascii")}
    elif t is Encoded:
        return _side_files(value.value, side) if side is not None else value.value
    return _encode_other(value, side)


def _encode_other(value, side):
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, tape.Spilled):  # a long streamed body, in a file already
        return side(value) if side is not None else encode(value.read())
    if isinstance(value, tape.Lost):
        raise ValueError(value.reason)
    if isinstance(value, Encoded):
        return value.value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else {
            "$float": repr(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return encode(bytes(value), side)
    if isinstance(value, list):
        return [encode(v, side) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [encode(v, side) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: encode(v, side) for k, v in value.items()}
        return {"$dict": [[encode(k, side), encode(v, side)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"$set": [encode(v, side) for v in value]}
    name = type(value).__name__
    if name == "Decimal":
        return {"$decimal": str(value)}
    if name in ("datetime", "date", "time") and hasattr(value, "isoformat"):
        zone = getattr(getattr(value, "tzinfo", None), "key", None)  # a ZoneInfo keeps its name
        return {"$" + name: [value.isoformat(), zone] if zone else value.isoformat()}
    if name == "timedelta":
        return {"$timedelta": value.total_seconds()}
    if name == "UUID":
        return {"$uuid": str(value)}
    if name == "ObjectId":
        return {"$oid": str(value)}
    if name == "Timestamp" and hasattr(value, "inc"):
        return {"$timestamp": [value.time, value.inc]}
    return {"$repr": f"<{type(value).__qualname__}>"}


def _side_files(value, side):
    """Long ``{"$b64": ...}`` values inside an already encoded snapshot -> ``side``'s tag."""
    if isinstance(value, list):
        return [_side_files(v, side) for v in value]
    if not isinstance(value, dict):
        return value
    b64 = value.get("$b64")
    if isinstance(b64, str) and len(value) == 1:
        return side(base64.b64decode(b64)) if len(b64) > _SIDE_B64 else value
    return {k: _side_files(v, side) for k, v in value.items()}


def decode(value):
    """The inverse of :func:`encode`; unknown tags stay as they are."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (tag, inner), = value.items()
        if tag.startswith("$"):
            return _decode_tag(tag, inner, value)
    return {k: decode(v) for k, v in value.items()}


def _decode_tag(tag, inner, whole):
    if tag == "$b64":
        return base64.b64decode(inner)
    if tag == "$tuple":
        return tuple(decode(v) for v in inner)
    if tag == "$dict":
        return {_hashable(decode(k)): decode(v) for k, v in inner}
    if tag == "$set":
        return {_hashable(decode(v)) for v in inner}
    if tag == "$float":
        return float(inner)
    if tag == "$decimal":
        import decimal

        return decimal.Decimal(inner)
    if tag in ("$datetime", "$date", "$time"):
        import datetime

        if isinstance(inner, list):
            import zoneinfo

            iso, zone = inner
            return getattr(datetime, tag[1:]).fromisoformat(iso).replace(
                tzinfo=zoneinfo.ZoneInfo(zone))
        return getattr(datetime, tag[1:]).fromisoformat(inner)
    if tag == "$timedelta":
        import datetime

        return datetime.timedelta(seconds=inner)
    if tag == "$uuid":
        import uuid

        return uuid.UUID(inner)
    if tag == "$oid":  # bson's ObjectId when bson is loaded (a Mongo replay), else its text
        bson = sys.modules.get("bson")
        return bson.ObjectId(inner) if bson is not None else inner
    if tag == "$timestamp":
        bson = sys.modules.get("bson")
        return bson.Timestamp(*inner) if bson is not None else inner
    if tag == "$repr":
        return inner
    return {k: decode(v) for k, v in whole.items()}


def _hashable(value):
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


class Writer:
    """Appends call records to ``deps.jsonl``. The calling thread only queues a record; a
    writer thread completes queued records (lazy fields, masking: Python) and turns them into
    lines (``_native.dumps``) within ``FLUSH_S``, so that work overlaps the program's waits on
    the network (the GIL is free while it waits), and a crash loses at most that much.
    ``background=False``: each record is written when its call ends, by that thread (a forked
    child, which may leave by ``os._exit``). ``close()`` writes what is queued; idempotent."""

    FLUSH_S = 0.1
    IDLE_BATCH = 2  # records ``drain_some`` writes: two, so a backlog shrinks

    def __init__(self, path: str, header: dict, *, background: bool = True) -> None:
        self.path = path
        #: where side files go (a :class:`tape.Tape` spills a long body there)
        self.side_folder = os.path.join(os.path.dirname(path), SIDE_DIR)
        self._sink = _native.LineSink(path, _dump({"format": FORMAT, "version": VERSION,
                                                   **header}))
        self._queue: list = []
        self._closed = False
        self._background = background
        self._draining = threading.Lock()  # one thread at a time takes queued records
        if background:
            self._wake = threading.Condition(threading.Lock())
            # a bare OS thread: not in threading.enumerate() or active_count(), so the
            # program sees the same threads as without capture
            self._stopped = _thread.allocate_lock()
            self._stopped.acquire()
            _thread.start_new_thread(self._run, ())

    def write(self, record: dict) -> None:
        if self._background:
            self._queue.append(record)  # list.append is atomic under the GIL
        else:
            self._sink.write(line(record, self._side_file))

    def drain_some(self) -> None:
        """Called by the program's thread when it has sent a request and is about to wait
        for the answer: writes up to ``IDLE_BATCH`` queued records now, while the server
        works. Done by the writer thread instead, that work holds the GIL when the answer
        arrives, and the program's thread waits for it (up to the 5 ms switch interval).
        Skipped while the writer thread is writing."""
        if not self._queue or not self._background or not self._draining.acquire(False):
            return
        try:
            batch = self._queue[:self.IDLE_BATCH]
            del self._queue[:len(batch)]  # one C call: appends from other threads stay
            side = self._side_file
            try:
                data = b"".join([line(record, side) for record in batch])
            except Exception:  # noqa: BLE001 - never the program's error: the writer
                self._queue[:0] = batch  # thread takes them again
                return
            self._sink.write(data)
        finally:
            self._draining.release()

    def _drain(self, yielding: bool = False) -> None:
        with self._draining:
            queue, self._queue = self._queue, []
            if not queue:
                return
            lines = []
            side = self._side_file
            for n, record in enumerate(queue, start=1):
                lines.append(line(record, side))
                if yielding and n % 32 == 0:
                    time.sleep(0)  # hand the GIL back now and then: the program's thread
                    # waiting on a socket must not queue behind a long batch (5 ms switch
                    # interval), and yielding after every record costs more CPU than it saves
            self._sink.write(b"".join(lines))  # without the GIL

    def _run(self) -> None:
        try:
            with self._wake:
                while not self._closed:
                    self._wake.wait(self.FLUSH_S)
                    self._drain(yielding=True)
        finally:
            self._stopped.release()

    def _side_file(self, data) -> dict:
        """Stores a long bytes value in a side file (once per content); returns its tag. A
        :class:`tape.Spilled` body is in a file of that folder already: it is renamed."""
        import hashlib

        spilled = isinstance(data, tape.Spilled)
        digest = data.sha256 if spilled else hashlib.sha256(data).hexdigest()
        target = os.path.join(self.side_folder, f"{digest}.bin")
        if spilled and data.path != target:
            os.makedirs(self.side_folder, exist_ok=True)
            os.replace(data.path, target)  # the same content if it existed: either is it
            data.path = target
        elif not spilled and not os.path.exists(target):
            os.makedirs(self.side_folder, exist_ok=True)
            with open(target, "wb") as f:
                f.write(data)
        return {"$file": f"{SIDE_DIR}/{digest}.bin"}

    def close(self, footer: dict | None = None) -> None:
        if self._background:
            with self._wake:
                if self._closed:
                    return
                self._closed = True
                self._wake.notify()
            self._stopped.acquire()
            self._drain()
        self._closed = True
        self._sink.close(_dump({"end": True, **footer}) if footer is not None else None)


_LAZY = ("key", "match", "request", "result")
_TAGGED = ("request", "result")


def _complete(record: dict) -> dict:
    """Computes a record's fields given as functions (keys, masking, header parsing) and
    rounds its times. On failure the record is kept with what went wrong."""
    try:
        for field in _LAZY:
            if callable(record.get(field)):
                record[field] = record[field]()
    except Exception as exc:  # noqa: BLE001 - keep the record, say what went wrong
        record["capture_error"] = f"{type(exc).__name__}: {exc}"
        for field in _LAZY:
            if callable(record.get(field)):
                record[field] = None
    record["start"] = round(record["start"], 6)
    record["duration"] = round(record["duration"], 6)
    return record


def _finish(record: dict, side=None) -> dict:
    """A completed record as JSON-ready values (long bytes through ``side``, see
    ``encode``): what a per-request capture embeds."""
    _complete(record)
    for field in _TAGGED:
        if field in record:
            record[field] = encode(record[field], side)
    return record


def line(record: dict, side=None) -> bytes:
    """A completed record as its ``deps.jsonl`` line (UTF-8). A value that cannot be written
    (nested past the native encoder's depth limit, a side file the disk refuses) leaves the
    record with what went wrong."""
    _complete(record)
    try:
        return _native.dumps(record, tagged=_TAGGED, encode=encode, side=side,
                             side_bytes=SIDE_FILE_BYTES, newline=True)
    except (ValueError, OSError) as exc:  # too deep; a side file that cannot be written
        record["capture_error"] = f"{type(exc).__name__}: {exc}"
        for field in _TAGGED:
            if field in record:
                record[field] = None
        return _dump(record)


def _dump(obj: dict) -> bytes:
    """One line of plain JSON-ready values."""
    return _native.dumps(obj, newline=True)


def resolve(path: str) -> str:
    """A trace folder or a capture file -> the capture file's path."""
    if os.path.isdir(path):
        candidate = os.path.join(path, FILE_NAME)
        if not os.path.isfile(candidate):
            raise CaptureError(
                f"{path} holds no {FILE_NAME}; record it with --deps record (or pass the file)")
        return candidate
    if not os.path.isfile(path):
        raise CaptureError(f"capture {path} does not exist; pass a trace folder or a deps.jsonl")
    return path


_SIDE_NAME = re.compile(rf"{SIDE_DIR}/([0-9a-f]{{64}})\.bin")


def _load_side_files(value, base: str):
    """``{"$file": name}`` -> ``{"$b64": ...}`` from the side file, checked by its sha256
    (only names of the form ``deps-bodies/<sha256>.bin`` are read)."""
    if isinstance(value, list):
        return [_load_side_files(v, base) for v in value]
    if not isinstance(value, dict):
        return value
    name = value.get("$file")
    if isinstance(name, str) and len(value) == 1:
        import hashlib

        m = _SIDE_NAME.fullmatch(name)
        if m is None:
            raise CaptureError(f"capture in {base} names an unexpected side file {name!r}")
        try:
            with open(os.path.join(base, name), "rb") as f:
                data = f.read()
        except OSError as exc:
            raise CaptureError(f"capture in {base} lacks its body file {name} ({exc.strerror}); "
                               "copy the whole trace folder") from None
        if hashlib.sha256(data).hexdigest() != m.group(1):
            raise CaptureError(f"body file {os.path.join(base, name)} is damaged (sha256 differs)")
        return {"$b64": base64.b64encode(data).decode("ascii")}
    return {k: _load_side_files(v, base) for k, v in value.items()}


def load(path: str) -> tuple[dict, list[dict]]:
    """Reads a capture: (header, call records sorted by start order)."""
    path = resolve(path)
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    try:
        header = json.loads(lines[0]) if lines else {}
    except ValueError:
        header = {}
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CaptureError(f"{path} is not a codetracer dependency capture (no '{FORMAT}' header)")
    version = header.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise CaptureError(
            f"{path} is capture format version {version}; this recorder reads up to version "
            f"{VERSION}: upgrade codetracer-python-recorder to replay it")
    records = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            if number == len(lines):
                break  # the last line of a killed recording may be cut short
            raise CaptureError(f"{path}:{number} is not valid JSON; the capture is damaged") from None
        if isinstance(obj, dict) and "seq" in obj:
            for field in ("request", "result"):
                if field in obj:
                    obj[field] = _load_side_files(obj[field], os.path.dirname(path))
            records.append(obj)
    records.sort(key=lambda r: r["seq"])
    return header, records
