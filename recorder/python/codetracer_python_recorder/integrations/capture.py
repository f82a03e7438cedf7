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
import functools
import json
import os
import re
import sys
import threading
import time
import traceback

from .. import _native
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


class BackgroundWriter:
    """Writes captures off the request path. The capture's dict and JSON text are built on
    the calling thread (``build()`` + ``_native.dumps``: tens of microseconds, after the
    response went out); the native sink's thread creates the files without the GIL, so the
    disk work never takes turns with the app. One sink per process (a forked worker makes
    its own). ``flush()`` waits until every submitted capture is on disk."""

    #: captures waiting to be written; past this a new capture is dropped (and counted), so
    #: a disk slower than the request rate costs captures, never the app's memory
    MAX_QUEUED = 10_000

    def __init__(self) -> None:
        self._sink = None
        self._pid = None
        self._lock = threading.Lock()
        self.dropped = 0

    def _current(self):
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:
                    self._sink = _native.FileSink()
                    if self._pid is None:
                        atexit.register(self.flush)
                    self._pid = pid
        return self._sink

    def submit(self, directory: str, name, build) -> None:
        """``build()`` returns the capture dict; ``name`` may be a function of nothing."""
        sink = self._current()
        if sink.pending() >= self.MAX_QUEUED:
            self.dropped += 1
            if self.dropped == 1:
                sys.stderr.write(f"codetracer capture: {self.MAX_QUEUED} captures are waiting "
                                 "for the disk; dropping new ones (lower the sample rate)\n")
            return
        try:
            if callable(name):
                name = name()
            sink.submit(directory, name, _native.dumps(build()))
        except Exception as exc:  # noqa: BLE001 - a lost capture must not stop the app
            _report([f"cannot write {name} in {directory}: {type(exc).__name__}: {exc}"])
        _report(sink.take_errors())

    def flush(self) -> None:
        if self._sink is not None:
            _report(self._current().flush())


def write_file(directory: str, name: str, capture: dict) -> str:
    """Writes one capture now (through the process's sink, atomically) and returns its path;
    raises ``OSError`` naming the file if it could not be written."""
    sink = writer._current()
    sink.submit(directory, name, _native.dumps(capture))
    errors = sink.flush()
    mine = [e for e in errors if e.startswith(f"cannot write {name} in ")]
    _report([e for e in errors if e not in mine])
    if mine:
        raise OSError(mine[0])
    return os.path.join(directory, name)


def _report(errors: list[str]) -> None:
    for error in errors:
        sys.stderr.write(f"codetracer capture: {error}\n")


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
