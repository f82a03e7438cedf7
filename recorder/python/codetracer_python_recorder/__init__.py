"""CodeTracer's Python recorder.

Records a Python program through ``sys.monitoring`` into a CodeTracer trace folder.
Command line: ``python -m codetracer_python_recorder [options] SCRIPT [ARGS...]``.
Library: upstream's API (:func:`start` / :func:`stop`, :func:`trace`, policies; see ``api``)
and :func:`record`. ``CODETRACER_TRACE=DIR`` records the importing process until it exits.
"""

import sys

MIN_PYTHON = (3, 12)

if sys.version_info < MIN_PYTHON:  # checked before the native module (it needs 3.12's ABI)
    found = ".".join(map(str, sys.version_info[:3]))
    raise SystemExit(
        f"codetracer-python-recorder requires Python >= {MIN_PYTHON[0]}.{MIN_PYTHON[1]}; "
        f"this is Python {found} ({sys.executable})"
    )

import os as _os  # noqa: E402

from ._native import __version__  # noqa: E402  (Cargo.toml's version, the one source)
from .errors import (  # noqa: E402
    EnvironmentError,
    InternalError,
    RecorderEnvironmentError,
    RecorderError,
    TargetError,
    UsageError,
)
from .session import Session, record  # noqa: E402

# Upstream's API lives in .api, imported on first use: the CLI never needs it, and its
# start-up time is the recorder's overhead on every run.
_API_NAMES = frozenset({
    "DEFAULT_FORMAT", "TRACE_BINARY", "TRACE_CTFS", "TRACE_JSON", "TraceSession",
    "configure_policy", "configure_policy_from_env", "flush", "is_tracing", "policy_snapshot",
    "start", "stop", "trace",
})


def __getattr__(name: str):
    if name in _API_NAMES:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EnvironmentError",
    "InternalError",
    "RecorderEnvironmentError",
    "RecorderError",
    "Session",
    "TargetError",
    "UsageError",
    "__version__",
    "record",
    *sorted(_API_NAMES),
]

if _os.environ.get("CODETRACER_TRACE"):
    from .api import auto_start_from_env  # noqa: E402

    auto_start_from_env()
