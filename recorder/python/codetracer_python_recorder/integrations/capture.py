"""Per-request and per-task captures: one JSON file per unit of work, with its dependency calls.

A capture is opened for one scope (an ASGI request, a Celery task run) with :func:`open_scope`;
the dependency calls made in it are collected by the ``deps`` package's public per-scope
interface (``deps.scopes``: a :mod:`contextvars` value per request or task run, so concurrent
requests never mix their calls). Calls made outside any scope go to the process-wide capture
when one runs (``--deps record``), else nowhere.

File format (UTF-8 JSON, one object): ``{"format": "codetracer-capture", "version": 1, "kind":
"request"|"task", "id", "started_at" (epoch s), "duration" (s), ..., "exception": {"type",
"message", "traceback"} | null, "deps": [call records as in deps.jsonl]}``. Bodies are text
when they are UTF-8, else ``{"$b64": ...}``; other values use the ``deps`` store's tags. Files
are written to a temporary name and renamed, so a reader never sees half a capture.
"""

from __future__ import annotations

import atexit
import collections
import functools
import json
import os
import re
import sys
import threading
import time
import traceback

from ..deps import scopes

FORMAT = "codetracer-capture"
VERSION = 1
ENV_DIR = "CODETRACER_CAPTURE_DIR"

#: set by the replay commands: integrations pass requests and tasks through uncaptured
replaying = False


class CaptureFileError(Exception):
    """A capture file that cannot be used (missing, not a capture, newer format)."""


# the deps package's public per-scope interface, under the names the integrations use
ensure_recording = scopes.record
open_scope = scopes.open_scope
trace_event = scopes.trace_event
tracing = scopes.tracing

PYTHON = ".".join(map(str, sys.version_info[:3]))
pid = os.getpid()  # os.getpid() is a system call; this one follows forks


def _forked() -> None:
    global pid
    pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


# --- values ---------------------------------------------------------------------------

def body_value(data: bytes):
    """Text when the bytes are UTF-8, else the store's ``$b64`` tag."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return scopes.encode(data)


def body_bytes(value) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    decoded = scopes.decode(value)
    return decoded if isinstance(decoded, bytes) else str(decoded).encode("utf-8")


def describe_exception(exc: BaseException, tb_text: str | None = None) -> dict:
    cls = type(exc)
    if tb_text is None:
        tb_text = "".join(traceback.format_exception(cls, exc, exc.__traceback__))
    return {"type": f"{cls.__module__}:{cls.__qualname__}", "message": str(exc),
            "traceback": tb_text}


# --- files ----------------------------------------------------------------------------

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def file_name(started_at: float, parts: list[str], ident: str) -> str:
    """``20261130T131500.123456Z_GET_items-item_id_3f9a2c1d.json``."""
    micros = int((started_at % 1) * 1_000_000)
    if not (ident.isascii() and ident.isalnum()):  # the middleware's ids are
        ident = _SLUG.sub("", ident)
    slugs = "_".join(map(_slug, parts))
    return f"{_stamp(int(started_at))}.{micros:06d}Z_{slugs}_{ident[:12]}.json"


@functools.lru_cache(maxsize=64)
def _stamp(second: int) -> str:
    """Captures come many to a second (and the same routes again: ``_slug``)."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(second))


@functools.lru_cache(maxsize=1024)
def _slug(part: str) -> str:
    return (_SLUG.sub("-", part).strip("-._") or "root")[:60]


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_made_dirs: set[str] = set()


def write_file(directory: str, name: str, capture: dict) -> str:
    """Writes atomically: a temporary file in the same directory renamed into place, so no
    reader sees half a capture under its name (no fsync: a machine crash may lose the newest
    ones). The text is built in one go by the C encoder (``json.dump`` streams through the
    pure-Python one, 3x slower); the directory is made once per process, or again if it went."""
    data = _ENCODER.encode(capture).encode("utf-8")
    if directory not in _made_dirs:
        os.makedirs(directory, exist_ok=True)
        _made_dirs.add(directory)
    path = os.path.join(directory, name)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    try:
        f = open(tmp, "wb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        os.makedirs(directory, exist_ok=True)
        f = open(tmp, "wb")  # noqa: SIM115
    with f:
        f.write(data)
    os.replace(tmp, path)
    return path


class BackgroundWriter:
    """Writes captures on a thread of its own, off the request path, in batches every
    ``FLUSH_S`` (one wake-up per batch: a thread woken for every capture costs the app more in
    GIL hand-offs than the writing itself). One per process (a forked worker starts its own).
    ``flush()`` writes what is pending, on the calling thread."""

    FLUSH_S = 0.05
    #: captures waiting to be written; past this a new capture is dropped (and counted), so
    #: a disk slower than the request rate costs captures, never the app's memory
    MAX_QUEUED = 10_000

    def __init__(self) -> None:
        self._pending: collections.deque = collections.deque()
        self._pid = None
        self._start_lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self.dropped = 0

    def submit(self, directory: str, name: str, build) -> None:
        """``build()`` returns the capture dict; it runs on the writer thread, and so does
        ``name()`` when the name is given as a function."""
        if self._pid != os.getpid():
            with self._start_lock:
                if self._pid != os.getpid():
                    self._pending = collections.deque()
                    threading.Thread(target=self._run, name="codetracer-capture-writer",
                                     daemon=True).start()
                    atexit.register(self.flush)
                    self._pid = os.getpid()
        if len(self._pending) >= self.MAX_QUEUED:
            self.dropped += 1
            if self.dropped == 1:
                import sys

                sys.stderr.write(f"codetracer capture: {self.MAX_QUEUED} captures are waiting "
                                 "for the disk; dropping new ones (lower the sample rate)\n")
            return
        self._pending.append((directory, name, build))  # deque.append: atomic

    def _run(self) -> None:
        while True:
            time.sleep(self.FLUSH_S)
            self.flush(yielding=True)

    def flush(self, yielding: bool = False) -> None:
        """``yielding``: let other threads run between two files (the app's event loop must
        not wait for a whole batch)."""
        with self._drain_lock:
            pending = self._pending
            while True:
                try:
                    directory, name, build = pending.popleft()
                except IndexError:
                    return
                try:
                    if callable(name):
                        name = name()
                    write_file(directory, name, build())
                except Exception as exc:  # noqa: BLE001 - a lost capture must not stop the app
                    import sys

                    sys.stderr.write(f"codetracer capture: cannot write {name} in {directory}: "
                                     f"{type(exc).__name__}: {exc}\n")
                if yielding:
                    time.sleep(0)


writer = BackgroundWriter()


def load(path: str) -> dict:
    """Reads a capture file (JSON only; nothing in it is run)."""
    try:
        with open(path, encoding="utf-8") as f:
            capture = json.load(f)
    except FileNotFoundError:
        raise CaptureFileError(f"capture {path} does not exist; pass a file written by the "
                               f"middleware or enable_celery ({ENV_DIR})") from None
    except (OSError, ValueError) as exc:
        raise CaptureFileError(f"capture {path} cannot be read ({exc}); pass a capture "
                               "file written by the middleware or enable_celery") from None
    if not isinstance(capture, dict) or capture.get("format") != FORMAT:
        raise CaptureFileError(f"{path} is not a codetracer capture (no '{FORMAT}' format "
                               "field); pass a file written by the middleware or enable_celery")
    version = capture.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise CaptureFileError(f"{path} is capture format version {version}; this recorder "
                               f"reads up to {VERSION}: upgrade codetracer-python-recorder")
    return capture


def capture_dir(explicit: str | None) -> str | None:
    return explicit or os.environ.get(ENV_DIR) or None
