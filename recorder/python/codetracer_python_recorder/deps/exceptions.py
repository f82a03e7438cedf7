"""Recorded errors: what is kept of an exception, and raising the same class again.

Kept: the class as ``module:qualname``, ``str(exc)`` and its ``args`` (encoded values).
Rebuilding looks the class up only in modules the program has already imported (never imports
from a name found in a capture) and calls it with the recorded args; a class whose constructor
wants other arguments is created without ``__init__`` and given the args.
"""

from __future__ import annotations

import builtins
import sys

from . import store


class ReplayedError(Exception):
    """A recorded error whose class is not available in this run."""


def describe(exc: BaseException) -> dict:
    cls = type(exc)
    try:
        args = store.encode(list(exc.args))
    except Exception:  # noqa: BLE001 - args of odd types are kept as text
        args = [str(a) for a in exc.args]
    return {"type": f"{cls.__module__}:{cls.__qualname__}", "message": str(exc), "args": args}


def _find_class(type_name: str):
    module_name, _, qualname = type_name.partition(":")
    module = builtins if module_name == "builtins" else sys.modules.get(module_name)
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return obj
    return None


def rebuild(error: dict) -> BaseException:
    """An exception of the recorded class with the recorded message."""
    cls = _find_class(error.get("type", ""))
    message = error.get("message", "")
    args = store.decode(error.get("args") or [])
    if cls is None:
        return ReplayedError(f"{error.get('type')}: {message}")
    try:
        exc = cls(*args)
        if str(exc) == message:
            return exc
    except Exception:  # noqa: BLE001 - constructors with other signatures
        pass
    exc = cls.__new__(cls)
    exc.args = tuple(args) if args else (message,)
    if _shows(exc, message):
        return exc
    for base in cls.__mro__[1:]:  # a class whose message needs objects the capture lacks
        if isinstance(base, type) and issubclass(base, BaseException):
            try:
                candidate = base(message)
            except Exception:  # noqa: BLE001
                continue
            if _shows(candidate, message):
                return candidate
    return ReplayedError(f"{error.get('type')}: {message}")


def _shows(exc: BaseException, message: str) -> bool:
    try:
        return str(exc) == message
    except Exception:  # noqa: BLE001 - __str__ wanting attributes __init__ would have set
        return False
