"""Per-request and per-task captures: one JSON file per unit of work, with its dependency calls.

A capture is opened for one scope (an ASGI request, a Celery task run) with :func:`open_scope`.
Dependency calls go through the ``deps`` package's :class:`~..deps.record.Recorder`; its writer
is replaced by :class:`ScopedWriter`, which hands each finished call record to the capture
open in the calling context (a :mod:`contextvars` variable: each asyncio task, and each thread
started with a copied context such as Starlette's threadpool, sees only its own request), so
concurrent requests never mix their calls. Calls made outside any scope go to the process-wide
capture when one runs (``--deps record``), else nowhere.

File format (UTF-8 JSON, one object): ``{"format": "codetracer-capture", "version": 1, "kind":
"request"|"task", "id", "started_at" (epoch s), "duration" (s), ..., "exception": {"type",
"message", "traceback"} | null, "deps": [call records as in deps.jsonl]}``. Bodies are text
when they are UTF-8, else ``{"$b64": ...}``; other values use the ``deps`` store's tags. Files
are written to a temporary name and renamed, so a reader never sees half a capture.
"""

from __future__ import annotations

import atexit
import collections
import contextvars
import json
import os
import re
import threading
import time
import traceback

from ..deps import hook, state, store
from ..deps.libs import PATCHES

FORMAT = "codetracer-capture"
VERSION = 1
ENV_DIR = "CODETRACER_CAPTURE_DIR"

_current = contextvars.ContextVar("codetracer_capture_scope", default=None)
_install_lock = threading.Lock()
_fork_hook: list = []

#: set by the replay commands: integrations pass requests and tasks through uncaptured
replaying = False


class CaptureFileError(Exception):
    """A capture file that cannot be used (missing, not a capture, newer format)."""


class Scope:
    """The dependency calls of one request or task run."""

    __slots__ = ("calls", "t0", "offset", "token")

    def __init__(self, offset: float) -> None:
        self.calls: list[dict] = []
        self.t0 = time.perf_counter()
        self.offset = offset  # this scope's start on the deps recorder's clock
        self.token = None


class ScopedWriter:
    """Stands in for the deps recorder's writer: routes each call record to the capture open
    in the calling context, and to the process-wide capture file when there is one."""

    def __init__(self, fallback=None) -> None:
        self.fallback = fallback

    def write(self, record: dict) -> None:
        scope = _current.get()
        if scope is not None:
            scope.calls.append(record if self.fallback is None else dict(record))
        if self.fallback is not None:
            self.fallback.write(record)

    def close(self, footer: dict | None = None) -> None:
        if self.fallback is not None:
            self.fallback.close(footer)


def ensure_recording() -> bool:
    """Makes sure dependency calls are recorded and routed per scope. Returns ``False`` when
    the process replays dependencies (nothing to capture then)."""
    with _install_lock:
        if not _fork_hook:
            _fork_hook.append(True)
            _register_fork_hook()
        engine = state.engine
        if engine is not None:
            if engine.mode != "record":
                return False
            if not isinstance(engine.writer, ScopedWriter):
                engine.writer = ScopedWriter(engine.writer)
            return True
        from .. import deps
        from ..deps.record import Recorder

        state.engine = Recorder(ScopedWriter())
        hook.install({name: deps._patcher(lib) for name, (lib, _c) in PATCHES.items()})
        return True


def _forked() -> None:
    """A forked worker (Celery's prefork pool) keeps capturing per scope. A process-wide
    ``--deps record`` stops in a forked child (the deps package's own fork hook, which runs
    first); the child's per-task captures then go on without it."""
    if state.engine is None:
        from ..deps.record import Recorder

        state.engine = Recorder(ScopedWriter())
    elif isinstance(getattr(state.engine, "writer", None), ScopedWriter):
        state.engine.writer.fallback = None


def _register_fork_hook() -> None:
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_forked)


def open_scope() -> Scope:
    engine = state.engine
    t0 = getattr(engine, "_t0", None)
    scope = Scope(0.0)
    if t0 is not None:
        scope.offset = scope.t0 - t0
    scope.token = _current.set(scope)
    return scope


def close_scope(scope: Scope) -> list[dict]:
    """Ends the scope (in the context that opened it) and returns its completed call records."""
    if scope.token is not None:
        try:
            _current.reset(scope.token)
        except ValueError:  # reset from another context (a signal handler): clear it here
            _current.set(None)
        scope.token = None
    return scope.calls


def complete_calls(scope: Scope) -> list[dict]:
    """The scope's call records, completed like deps.jsonl lines (writer-side work: lazy
    fields computed, values encoded), with ``start`` relative to the scope."""
    out = []
    for record in sorted(scope.calls, key=lambda r: r["seq"]):
        record = dict(record)
        record["start"] = record["start"] - scope.offset
        out.append(store._finish(record))
    return out


# --- values ---------------------------------------------------------------------------

def body_value(data: bytes):
    """Text when the bytes are UTF-8, else the store's ``$b64`` tag."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return store.encode(data)


def body_bytes(value) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    decoded = store.decode(value)
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
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(started_at))
    micros = int((started_at % 1) * 1_000_000)
    slugs = [(_SLUG.sub("-", p).strip("-._") or "root")[:60] for p in parts]
    return f"{stamp}.{micros:06d}Z_{'_'.join(slugs)}_{_SLUG.sub('', ident)[:12]}.json"


def write_file(directory: str, name: str, capture: dict) -> str:
    """Writes atomically: a temporary file in the same directory renamed into place."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(capture, f, ensure_ascii=False, separators=(",", ":"))
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
        """``build()`` returns the capture dict; it runs on the writer thread."""
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


# --- the time-travel trace --------------------------------------------------------------

def trace_event(metadata: str, summary) -> None:
    """An event in the time-travel trace when one is being recorded (else nothing)."""
    from ..deps import events

    if not events.active():
        return
    try:
        events._native.record_event("socket", metadata,
                                    summary() if callable(summary) else summary)
    except Exception:  # noqa: BLE001 - the event is a courtesy
        pass


def capture_dir(explicit: str | None) -> str | None:
    return explicit or os.environ.get(ENV_DIR) or None
