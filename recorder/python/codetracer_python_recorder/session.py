"""A recording session: staging folder, native tracer, metadata, atomic publication.

Trace files are written into a staging folder beside the target folder and renamed into
place only once complete, so a half-written trace never sits at the final path. With
``keep_partial=True`` a failed recording is published anyway, marked ``"partial": true``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import _native, own_threads
from .errors import make_error
from .io_capture import IOCapture
from .native_text import native_text, native_value
from .scope import default_scope

RECORDER_NAME = "codetracer-python-recorder"
# the file each format writes, and how it shows threads
TRACE_FILES = {"ctfs": "trace.ct", "json": "trace.json"}
THREADS = {
    "ctfs": "all threads in one step stream; a thread change is a ThreadSwitch step slot "
    "(tag 4) and each thread has its own call stack in calls.dat",
    "json": "all threads in one stream; a thread change is an Event "
    "(kind TraceLogEvent, metadata 'thread', content = thread ident)",
}


def check_target_dir(trace_dir: Path) -> None:
    """Rejects a target that is a file or a folder that already holds files."""
    if trace_dir.exists() and not trace_dir.is_dir():
        raise make_error(
            "ERR_TRACE_DIR_CONFLICT",
            f"trace dir {trace_dir} is a file; pass a folder path that does not exist yet",
            path=trace_dir,
        )
    if trace_dir.is_dir() and any(trace_dir.iterdir()):
        raise make_error(
            "ERR_TRACE_DIR_CONFLICT",
            f"trace dir {trace_dir} is not empty (it may hold an earlier trace); "
            "choose a new folder or remove it",
            path=trace_dir,
        )


class Session:
    """One recording into ``trace_dir``; ``start()`` then ``stop(exit_status)``."""

    def __init__(
        self,
        trace_dir: str | os.PathLike[str],
        program: str,
        args: Sequence[str] = (),
        *,
        activation_path: str | None = None,
        caps: dict[str, int] | None = None,
        format: str = "ctfs",
        on_recorder_error: str = "disable",
        keep_partial: bool = False,
        capture_io: bool = True,
        trace_filters: Sequence[str] = (),
        script_dir: str | None = None,
        extra_metadata: dict | None = None,
        skip_dirs: Sequence[str] = (),
    ) -> None:
        self.trace_dir = Path(trace_dir).absolute()
        self.program = program
        self.args = list(args)
        self.activation_path = activation_path
        self.caps = caps or {}
        self.format = format
        self.on_recorder_error = on_recorder_error
        self.keep_partial = keep_partial
        self.trace_filters = [os.path.abspath(f) for f in trace_filters]
        self.script_dir = script_dir
        self.extra_metadata = dict(extra_metadata or {})
        self.skip_dirs = list(skip_dirs)  # never recorded, like the recorder's own files
        self.trace_id = os.urandom(16).hex()
        self._io = IOCapture() if capture_io else None
        self._staging: Path | None = None
        self._pid = os.getpid()
        self._started_at = 0.0
        self._t0 = 0.0

    def start(self) -> None:
        check_target_dir(self.trace_dir)
        parent = self.trace_dir.parent
        _remove_dead_staging(parent, self.trace_dir.name)
        try:
            parent.mkdir(parents=True, exist_ok=True)
            staging = parent / f".{self.trace_dir.name}.staging-{os.getpid()}-{self.trace_id[:8]}"
            staging.mkdir()
        except OSError as exc:
            raise make_error(
                "ERR_IO",
                f"cannot create the trace folder next to {self.trace_dir}: {exc.strerror or exc}; "
                "choose a writable location",
                path=self.trace_dir,
            ) from None
        self._staging = staging
        self._started_at = time.time()
        self._t0 = time.perf_counter()
        scope = default_scope(self.skip_dirs)
        try:
            _native.start(  # str arguments as UTF-8 text (native_text.py); paths as they are
                str(staging),
                native_text(self.program),
                activation_path=native_value(self.activation_path),
                caps=self.caps,
                format=self.format,
                args=native_value(self.args),
                workdir=native_text(os.getcwd()),
                on_error=self.on_recorder_error,
                script_dir=native_value(self.script_dir),
                trace_filters=native_value(self.trace_filters),
                **native_value(scope),
            )
        except BaseException:
            _remove_tree(staging)
            self._staging = None
            raise
        if self._io is not None:
            self._io.install()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forked)
        own_threads.hide_fork_warning()  # the trace's compressing thread

    def _forked(self) -> None:
        """In a forked child: the trace belongs to the parent; record nothing, write nothing."""
        if self._staging is not None:
            _native.abandon()

    def stop(
        self,
        exit_status: int | None,
        *,
        interrupted: str | None = None,
        ended_by: str | None = None,
    ) -> Path | None:
        """Finishes the trace and publishes it. Returns the trace folder, or ``None`` when
        the trace was discarded (recording failed and partial traces are not kept).
        ``exit_status=None`` (a library recording, or an exec: unknown) is metadata ``null``,
        trace 0. ``ended_by`` names a call that ended the process early (``os._exit``)."""
        if self._io is not None:
            self._io.uninstall()
        staging = self._staging
        if staging is None or os.getpid() != self._pid:
            return None
        self._staging = None
        failure: str | None = None
        failure_code = "ERR_TRACE_INCOMPLETE"
        try:
            stats = _native.stop(0 if exit_status is None else exit_status)
        except BaseException as exc:  # the trace could not be closed: it is incomplete
            stats = {}
            failure_code = getattr(exc, "code", "ERR_INTERNAL")
            failure = f"{failure_code}: {exc}"
        if stats.get("failure_code"):
            failure_code = stats["failure_code"]
            failure = f"{failure_code}: {stats.get('failure_message', '')}"
        paths = stats.pop("paths", [])
        import json  # deferred: start-up time matters more than stop time

        filters = json.loads(stats.pop("filters_json", "null"))
        diagnostics = json.loads(stats.pop("diagnostics_json", "{}"))
        partial = failure is not None
        if partial and not self.keep_partial:
            _remove_tree(staging)
            raise make_error(
                failure_code,
                f"recording failed ({failure}); no trace was written to {self.trace_dir} "
                "(use --keep-partial-trace to keep what was recorded)",
                path=self.trace_dir,
            )
        try:
            (staging / "trace_paths.json").write_text(json.dumps(paths), encoding="utf-8")
            metadata = self._metadata(staging, exit_status, stats, failure, interrupted)
            if ended_by is not None:
                metadata["ended_by"] = ended_by
            metadata["filters"] = filters
            metadata["diagnostics"] = diagnostics
            (staging / "trace_metadata.json").write_text(
                json.dumps(metadata, indent=2), encoding="utf-8"
            )
            _publish(staging, self.trace_dir)
        except OSError as exc:
            _remove_tree(staging)
            raise make_error(
                "ERR_IO", f"cannot write the trace to {self.trace_dir}: {exc}", path=self.trace_dir
            ) from None
        return self.trace_dir

    def _metadata(
        self,
        staging: Path,
        exit_status: int,
        stats: dict,
        failure: str | None,
        interrupted: str | None,
    ) -> dict:
        trace_bytes = 0
        with contextlib.suppress(OSError):
            trace_bytes = (staging / TRACE_FILES[self.format]).stat().st_size
        return {
            "workdir": os.getcwd(),
            "program": self.program,
            "args": self.args,
            "recorder": {"name": RECORDER_NAME, "version": _native.__version__},
            "python": {
                "version": ".".join(map(str, sys.version_info[:3])),
                "implementation": sys.implementation.name,
                "executable": sys.executable,
            },
            "exit_status": exit_status,
            "partial": failure is not None,
            "partial_reason": failure,
            "interrupted": interrupted,
            "trace_id": self.trace_id,
            "started_at": self._started_at,
            "duration_s": round(time.perf_counter() - self._t0, 6),
            "activation_path": self.activation_path,
            "format": self.format,
            "stats": {
                **{k: v for k, v in stats.items() if not k.startswith("failure")},
                "trace_bytes": trace_bytes,
            },
            "threads": THREADS[self.format],
            **self.extra_metadata,
        }


def _remove_dead_staging(parent: Path, name: str) -> None:
    """Removes staging folders for ``name`` left by recorders that were killed (SIGKILL
    cannot be caught, so their staging folder stays behind). POSIX only: checking a pid
    with ``os.kill(pid, 0)`` would terminate it on Windows."""
    if os.name != "posix" or not parent.is_dir():
        return
    prefix = f".{name}.staging-"
    for entry in os.scandir(parent):
        pid = entry.name[len(prefix):].split("-", 1)[0] if entry.name.startswith(prefix) else ""
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            _remove_tree(Path(entry.path))
        except OSError:
            pass  # alive, but another user's


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _publish(staging: Path, final: Path) -> None:
    """Moves the finished staging folder to ``final`` in one rename. An empty folder that
    cannot be replaced (a mount point, or a symlink to a folder) is filled entry by entry
    instead, ``trace_metadata.json`` last, so the trace still counts as finished only once
    complete."""
    if final.is_dir():
        try:
            final.rmdir()  # only an empty folder can be here (checked at start)
        except OSError:
            import shutil

            names = sorted(os.listdir(staging), key=lambda n: n == "trace_metadata.json")
            for name in names:
                shutil.move(str(staging / name), str(final / name))
            staging.rmdir()
            return
    os.replace(staging, final)


@contextlib.contextmanager
def record(trace_dir: str | os.PathLike[str], program: str = "<library>", **options) -> Iterator[Session]:
    """Records the ``with`` block: ``with record("out"): work()``."""
    session = Session(trace_dir, program, **options)
    session.start()
    status = 0
    try:
        yield session
    except BaseException:
        status = 1
        raise
    finally:
        session.stop(status)


def __getattr__(name: str):
    """Upstream's ``session`` module held the library API (``session.start`` ...): those
    names resolve to :mod:`.api` on first use, so importing this module stays cheap."""
    if name.startswith("__"):  # import machinery probes (__path__ ...): never load .api
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import api

    if hasattr(api, name):
        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
