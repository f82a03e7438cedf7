"""The recorder's exception classes and exit statuses.

The classes are defined by the native module so Rust and Python raise the same types. Every
instance carries ``code`` (a stable ``ERR_*`` string), ``kind`` and ``context`` (a dict).
Upstream's names are aliases of ours: ``EnvironmentError`` is ``RecorderEnvironmentError``
(it shadows the builtin only for ``from codetracer_python_recorder import *``).
"""

from ._native import (
    ERROR_CODES,
    EXIT_STATUS,
    InternalError,
    RecorderEnvironmentError,
    RecorderError,
    TargetError,
    UsageError,
)

# A usage error is also a ValueError, as upstream raised ValueError for a bad format or path:
# ``except ValueError`` written for upstream keeps catching it. The class is the native one,
# so this holds for errors raised in Rust too.
if not issubclass(UsageError, ValueError):
    UsageError.__bases__ = (RecorderError, ValueError)
# the native class is registered as RecorderError_ (a Rust naming constraint); show our name
RecorderError.__name__ = RecorderError.__qualname__ = "RecorderError"

EnvironmentError = RecorderEnvironmentError  # noqa: A001 - upstream's name

# EXIT_STATUS: the status used when the recorder itself fails, by error kind (the program's
# own status is used whenever recording succeeded). Defined in Rust (errors.rs), the one
# source; ct's copy for when the recorder is not importable is checked against it by test.

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
    return EXIT_STATUS.get(getattr(err, "kind", "internal"), EXIT_STATUS["internal"])


__all__ = [
    "ERROR_CODES",
    "EXIT_STATUS",
    "EnvironmentError",
    "InternalError",
    "RecorderEnvironmentError",
    "RecorderError",
    "TargetError",
    "UsageError",
    "exit_status",
    "make_error",
]
