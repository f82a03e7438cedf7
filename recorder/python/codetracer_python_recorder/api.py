"""Upstream's public library API (codetracer-python-recorder 0.3.0), on our ``Session``.

Code written for upstream keeps working after an upgrade::

    import codetracer_python_recorder as codetracer
    with codetracer.trace("out"):
        work()

One recording per process: ``start`` while one is active raises ``RuntimeError``, as upstream
did. Where we differ from upstream on purpose (exit status, the target folder, ``flush``) is
written in recorder/README.md ("Library API").
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from . import _native
from .errors import RecorderError, make_error
from .session import Session

#: Upstream's name for the compact format. Here it is CTFS: ``trace.ct``, the container
#: today's CodeTracer opens (the native recorder takes "binary" as an alias of "ctfs").
TRACE_BINARY: str = "binary"
TRACE_CTFS: str = "ctfs"
#: The legacy ``trace.json`` event array, for debugging and old readers.
TRACE_JSON: str = "json"
DEFAULT_FORMAT: str = TRACE_BINARY
SUPPORTED_FORMATS: frozenset[str] = frozenset({TRACE_BINARY, TRACE_CTFS, TRACE_JSON})
_SESSION_FORMAT = {TRACE_BINARY: "ctfs", TRACE_CTFS: "ctfs", TRACE_JSON: "json"}

ENV_TRACE_PATH = "CODETRACER_TRACE"
ENV_TRACE_FORMAT = "CODETRACER_FORMAT"
ENV_TRACE_FILTER = "CODETRACER_TRACE_FILTER"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_IO_CAPTURE = {"off": (False, False), "none": (False, False), "proxies": (True, False),
               "proxies+fd": (True, True), "proxies,fd": (True, True)}

# The process-wide policy, as upstream's configure_policy/policy_snapshot show it. Ours
# defaults to on_recorder_error="disable": a recorder failure never breaks the program.
_POLICY_DEFAULTS: dict[str, object] = {
    **_native.resolve_policy({}, []),
    "log_level": None,
    "module_name_from_globals": True,
    "propagate_script_exit": False,
    "io_capture_line_proxies": True,
    "io_capture_fd_fallback": False,
}
_policy: dict[str, object] = dict(_POLICY_DEFAULTS)
# the flag each policy key is checked as (by the native resolver, so the words match the CLI's)
_NATIVE_FLAGS = {
    "on_recorder_error": "--on-recorder-error",
    "require_trace": "--require-trace",
    "keep_partial_trace": "--keep-partial-trace",
    "log_level": "--log-level",
    "log_file": "--log-file",
    "json_errors": "--json-errors",
}
_BOOL_ENV = {
    "CODETRACER_MODULE_NAME_FROM_GLOBALS": "module_name_from_globals",
    "CODETRACER_PROPAGATE_SCRIPT_EXIT": "propagate_script_exit",
}

_active_session: TraceSession | None = None


class TraceSession:
    """The handle ``start`` returns: ``path`` and ``format`` as given, ``stop``, ``flush``."""

    def __init__(self, path: Path, format: str, session: Session | None = None) -> None:
        self.path = path
        self.format = format
        self._session = session

    def stop(self, *, exit_code: int | None = None) -> Path | None:
        """Stops this recording (a no-op once stopped); returns the trace folder."""
        if _active_session is self:
            return stop(exit_code=exit_code)
        return None

    def flush(self) -> None:
        flush()

    def __enter__(self) -> TraceSession:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"TraceSession(path={str(self.path)!r}, format={self.format!r})"


def start(
    path: str | os.PathLike[str],
    *,
    format: str = DEFAULT_FORMAT,
    start_on_enter: str | os.PathLike[str] | None = None,
    trace_filter: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    policy: Mapping[str, object] | None = None,
    apply_env_policy: bool = True,
) -> TraceSession:
    """Starts recording this process into the folder ``path`` (created; must be empty).

    ``start_on_enter`` delays recording until execution first enters that file;
    ``trace_filter`` adds filter files (``a.toml::b.toml`` chains allowed) after the project's
    and ``CODETRACER_TRACE_FILTER``'s; ``policy`` overrides :func:`configure_policy` keys for
    this and later recordings, applied after the environment's unless ``apply_env_policy`` is
    false.
    """
    global _active_session
    if is_tracing():
        raise RuntimeError("tracing already active; call codetracer_python_recorder.stop() first")
    trace_path = _validate_trace_path(Path(path))
    fmt = _coerce_format(format)
    activation = _normalize_activation_path(start_on_enter)
    filters = _normalize_trace_filter(trace_filter) or []
    if apply_env_policy:
        configure_policy_from_env()
    if policy:
        configure_policy(**policy)
    program, args = _program()
    session = Session(
        trace_path,
        program,
        args,
        activation_path=activation,
        format=_SESSION_FORMAT[fmt],
        on_recorder_error=str(_policy["on_recorder_error"]),
        keep_partial=bool(_policy["keep_partial_trace"]),
        capture_io=bool(_policy["io_capture_line_proxies"]),
        trace_filters=filters,
        script_dir=os.path.dirname(program) if os.path.isabs(program) else os.getcwd(),
        extra_metadata={"run_as": "library", "policy": policy_snapshot()},
    )
    session.start()  # before logging: a log file inside the trace folder is the user's choice
    _configure_logging(session.trace_id)
    handle = TraceSession(trace_path, fmt, session)
    _active_session = handle
    return handle


def stop(*, exit_code: int | None = None) -> Path | None:
    """Finishes and publishes the active recording; a no-op when none is active.

    ``exit_code`` is what ``<toplevel>`` returns and ``trace_metadata.json`` records
    (``None``: unknown, written as ``null``; the trace itself then shows 0). Returns the
    trace folder, or ``None`` when the trace was discarded. A failed recording raises its
    ``RecorderError`` under ``require_trace`` or ``on_recorder_error="abort"``, and is
    otherwise reported in one line on stderr.
    """
    global _active_session
    handle, _active_session = _active_session, None
    if handle is None or handle._session is None:
        return None
    try:
        return handle._session.stop(exit_code)
    except RecorderError as err:
        if _policy["require_trace"] or _policy["on_recorder_error"] == "abort":
            raise
        sys.stderr.write(f"codetracer-python-recorder: warning: {err} [{err.code}]\n")
        return None


def is_tracing() -> bool:
    """True while a recording is active in this process (also one started by the CLI)."""
    return bool(_native.is_tracing())


def flush() -> None:
    """Kept for upstream's callers; nothing to do. A trace is published whole, at ``stop``
    (written into a staging folder and renamed into place), so a flush would make nothing
    readable sooner."""


@contextmanager
def trace(
    path: str | os.PathLike[str],
    *,
    format: str = DEFAULT_FORMAT,
    start_on_enter: str | os.PathLike[str] | None = None,
    trace_filter: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    policy: Mapping[str, object] | None = None,
    apply_env_policy: bool = True,
) -> Iterator[TraceSession]:
    """Records the ``with`` block: ``with trace("out") as session: ...``."""
    session = start(path, format=format, start_on_enter=start_on_enter,
                    trace_filter=trace_filter, policy=policy, apply_env_policy=apply_env_policy)
    try:
        yield session
    finally:
        session.stop()


def configure_policy(**overrides: object) -> None:
    """Sets policy keys for this and later recordings (upstream's names; ``""`` clears
    ``log_level`` / ``log_file``). A bad value is a ``UsageError`` naming key and choices."""
    unknown = sorted(set(overrides) - set(_POLICY_DEFAULTS))
    if unknown:
        raise TypeError(
            f"configure_policy() got unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_POLICY_DEFAULTS))}"
        )
    updates: dict[str, object] = {}
    flags: list[tuple[str, str]] = []
    for key, value in overrides.items():
        if value is None:
            continue
        if key in ("log_level", "log_file"):
            text = os.fspath(value)  # type: ignore[arg-type]
            if not text:
                updates[key] = None
                continue
            flags.append((_NATIVE_FLAGS[key], str(text)))
        elif key == "on_recorder_error":
            flags.append((_NATIVE_FLAGS[key], str(value)))
        elif isinstance(value, bool):
            updates[key] = value
        else:
            raise make_error(
                "ERR_INVALID_POLICY_VALUE",
                f"invalid value {value!r} for policy key {key} (allowed: True, False)",
            )
    if flags:
        resolved = _native.resolve_policy({}, flags)
        for flag_key in ("on_recorder_error", "log_level", "log_file"):
            if _NATIVE_FLAGS[flag_key] in dict(flags):
                updates[flag_key] = resolved[flag_key]
    _policy.update(updates)


def configure_policy_from_env(environ: Mapping[str, str] | None = None) -> None:
    """Applies the policy variables that are set (``CODETRACER_ON_RECORDER_ERROR``,
    ``_REQUIRE_TRACE``, ``_KEEP_PARTIAL_TRACE``, ``_LOG_LEVEL``, ``_LOG_FILE``,
    ``_JSON_ERRORS``, ``_CAPTURE_IO``, ``_MODULE_NAME_FROM_GLOBALS``,
    ``_PROPAGATE_SCRIPT_EXIT``); unset ones leave the policy as it is."""
    env = os.environ if environ is None else environ
    native_env = {k: v for k, v in env.items() if k.startswith("CODETRACER_")}
    resolved = _native.resolve_policy(native_env, [])
    updates: dict[str, object] = {}
    for key in _NATIVE_FLAGS:
        if env.get("CODETRACER_" + key.upper()):
            updates[key] = resolved[key]
    for var, key in _BOOL_ENV.items():
        if env.get(var):
            updates[key] = parse_bool(env[var], var)
    if env.get("CODETRACER_CAPTURE_IO"):
        proxies, fd = parse_io_capture(env["CODETRACER_CAPTURE_IO"], "CODETRACER_CAPTURE_IO")
        updates["io_capture_line_proxies"] = proxies
        updates["io_capture_fd_fallback"] = fd
    _policy.update(updates)


def policy_snapshot() -> dict[str, object]:
    """The current policy as a plain dict (a copy)."""
    return dict(_policy)


def parse_bool(value: str, source: str) -> bool:
    """Booleans as the CLI reads them: 1/0, true/false, yes/no, on/off."""
    text = value.strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise make_error(
        "ERR_INVALID_POLICY_VALUE",
        f"invalid value '{value}' for {source} (allowed: 1/0, true/false, yes/no, on/off)",
    )


def parse_io_capture(value: str, source: str) -> tuple[bool, bool]:
    """Upstream's IO capture modes: ``off``, ``proxies``, ``proxies+fd`` (or a boolean).
    Returns (record ``sys.stdout``/``stderr``/``stdin`` traffic, mirror raw fd writes)."""
    text = value.strip().lower()
    if text in _IO_CAPTURE:
        return _IO_CAPTURE[text]
    if text in _TRUE or text in _FALSE:
        return (text in _TRUE, False)
    raise make_error(
        "ERR_INVALID_POLICY_VALUE",
        f"invalid value '{value}' for {source} (allowed: off, proxies, proxies+fd, on)",
    )


def split_filter_chain(specs: Sequence[str | os.PathLike[str]]) -> list[str]:
    """``a.toml::b.toml`` entries split into files, in order (upstream's chain syntax)."""
    out: list[str] = []
    for spec in specs:
        out.extend(part for part in os.fspath(spec).split("::") if part)
    return out


def _coerce_format(value: str) -> str:
    fmt = str(value).lower()
    if fmt not in SUPPORTED_FORMATS:
        raise make_error(
            "ERR_INVALID_ARGUMENT",
            f"unsupported trace format '{value}'; use one of: "
            f"{', '.join(sorted(SUPPORTED_FORMATS))} (binary = ctfs, trace.ct)",
        )
    return fmt


def _validate_trace_path(path: Path) -> Path:
    path = path.expanduser()
    if path.exists() and not path.is_dir():
        raise make_error(
            "ERR_TRACE_DIR_CONFLICT",
            f"trace path {path} is a file; pass a folder that does not exist yet or is empty",
            path=path,
        )
    return path


def _normalize_activation_path(value: str | os.PathLike[str] | None) -> str | None:
    if value is None:
        return None
    return os.path.abspath(Path(value).expanduser())


def _normalize_trace_filter(
    value: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None,
) -> list[str] | None:
    if value is None:
        return None
    specs = [value] if isinstance(value, (str, os.PathLike)) else list(value)
    out = []
    for part in split_filter_chain(specs):
        path = Path(part).expanduser()
        if not path.is_file():
            raise make_error(
                "ERR_INVALID_FILTER",
                f"trace filter {part} does not exist; pass the path of a TOML filter file",
                path=part,
            )
        out.append(str(path.resolve()))
    return out


def _program() -> tuple[str, list[str]]:
    """What the trace names as the program: the running script and its arguments when there
    is one, else ``<library>`` (``python -c``, an interactive session, an embedding)."""
    argv = getattr(sys, "argv", None) or [""]
    if argv[0] and os.path.isfile(argv[0]):
        return os.path.abspath(argv[0]), list(argv[1:])
    return "<library>", []


def _configure_logging(trace_id: str) -> None:
    level = _policy["log_level"]
    log_file = _policy["log_file"]
    if level is None and log_file is not None:
        level = "warn"
    _native.configure_logging(level, log_file, os.urandom(16).hex(), trace_id)


def _launched_as_recorder_cli() -> bool:
    """True when this process is the recorder's own CLI (``-m codetracer_python_recorder``,
    its console script, or the bundle's bootstrap), which records by its own options."""
    argv0 = os.path.basename(sys.argv[0]) if getattr(sys, "argv", None) else ""
    if argv0.startswith(("codetracer-python-recorder", "ct-python-recorder", "ct_bootstrap")):
        return True
    orig = list(getattr(sys, "orig_argv", []))[1:]
    for i, arg in enumerate(orig):
        if arg == "-m":
            return i + 1 < len(orig) and orig[i + 1] == "codetracer_python_recorder"
        if arg.startswith("-m"):
            return arg[2:] == "codetracer_python_recorder"
        if arg in ("-c", "-") or not arg.startswith("-"):
            return False
    return False


def auto_start_from_env() -> TraceSession | None:
    """Upstream's auto-start: ``CODETRACER_TRACE=DIR`` records the whole process from the
    import of this package to interpreter exit (``CODETRACER_FORMAT``; filters from
    ``CODETRACER_TRACE_FILTER``, which the native recorder reads itself). A failure to start
    is one line on stderr: the program runs on unrecorded rather than failing at an import."""
    path = os.environ.get(ENV_TRACE_PATH)
    if not path or is_tracing() or _launched_as_recorder_cli():
        return None
    try:
        session = start(path, format=os.environ.get(ENV_TRACE_FORMAT) or DEFAULT_FORMAT)
    except RecorderError as err:
        sys.stderr.write(
            f"codetracer-python-recorder: warning: {ENV_TRACE_PATH}={path} not recorded: "
            f"{err} [{err.code}]\n"
        )
        return None
    atexit.register(stop)
    return session


__all__ = [
    "DEFAULT_FORMAT",
    "TRACE_BINARY",
    "TRACE_CTFS",
    "TRACE_JSON",
    "TraceSession",
    "configure_policy",
    "configure_policy_from_env",
    "flush",
    "is_tracing",
    "policy_snapshot",
    "start",
    "stop",
    "trace",
]
