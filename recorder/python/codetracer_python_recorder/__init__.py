"""CodeTracer's Python recorder.

Records a Python program through ``sys.monitoring`` into a runtime_tracing JSON trace folder.
Command line: ``python -m codetracer_python_recorder [options] SCRIPT [ARGS...]``.
Library: :func:`record` / :func:`start` + :func:`stop` (see ``session``).
"""

import sys

MIN_PYTHON = (3, 12)

if sys.version_info < MIN_PYTHON:  # checked before the native module (it needs 3.12's ABI)
    found = ".".join(map(str, sys.version_info[:3]))
    raise SystemExit(
        f"codetracer-python-recorder requires Python >= {MIN_PYTHON[0]}.{MIN_PYTHON[1]}; "
        f"this is Python {found} ({sys.executable})"
    )

from .errors import (  # noqa: E402
    InternalError,
    RecorderEnvironmentError,
    RecorderError,
    TargetError,
    UsageError,
)
from .session import Session, record  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "InternalError",
    "RecorderEnvironmentError",
    "RecorderError",
    "Session",
    "TargetError",
    "UsageError",
    "__version__",
    "record",
]
