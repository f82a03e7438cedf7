"""The recorder's exception classes and exit statuses.

The classes are defined by the native module so Rust and Python raise the same types. Every
instance carries ``code`` (a stable ``ERR_*`` string), ``kind`` and ``context`` (a dict).
"""

from ._native import (
    ERROR_CODES,
    InternalError,
    RecorderEnvironmentError,
    RecorderError,
    TargetError,
    UsageError,
)

#: Exit status used when the recorder itself fails, by error kind. The program's own status
#: is used whenever recording succeeded.
EXIT_STATUS = {"usage": 2, "environment": 10, "target": 20, "internal": 70}

_CLASSES = {
    "usage": UsageError,
    "environment": RecorderEnvironmentError,
    "target": TargetError,
    "internal": InternalError,
}


def make_error(code: str, message: str, **context: object) -> RecorderError:
    """Builds the exception class that matches ``code``'s kind, with its attributes set."""
    kind = ERROR_CODES.get(code, "internal")
    err = _CLASSES[kind](message)
    err.code = code
    err.kind = kind
    err.context = {k: str(v) for k, v in context.items()}
    return err


def exit_status(err: BaseException) -> int:
    return EXIT_STATUS.get(getattr(err, "kind", "internal"), 70)


__all__ = [
    "EXIT_STATUS",
    "InternalError",
    "RecorderEnvironmentError",
    "RecorderError",
    "TargetError",
    "UsageError",
    "exit_status",
    "make_error",
]
