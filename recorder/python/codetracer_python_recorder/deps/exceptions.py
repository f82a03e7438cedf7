"""Recorded errors: what is kept of an exception, and raising the same class again.

Kept: the class as ``module:qualname``, ``str(exc)``, its ``args`` (encoded values) and its
attributes when they are plain data (asyncpg's ``detail``/``hint``, which its message shows;
psycopg's diagnostics, ``e.diag.sqlstate``). Rebuilding looks the class up only in modules the program has
already imported (never imports from a name found in a capture), calls it with the recorded
args and sets the attributes; a class whose constructor wants other arguments is created
without ``__init__``.
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
    described = {"type": f"{cls.__module__}:{cls.__qualname__}", "message": str(exc),
                 "args": args}
    state = _state(exc)
    if state:
        described["state"] = store.encode(state)
    return described


def _state(exc: BaseException) -> dict:
    """The exception's attributes as pickling sees them (``__reduce__``'s state, which a
    library may make plain: psycopg turns its result into a dict), kept when they are plain
    data: text, bytes, numbers, and lists and dicts of them."""
    try:
        reduced = exc.__reduce__()
        state = reduced[2] if isinstance(reduced, tuple) and len(reduced) >= 3 else None
    except Exception:  # noqa: BLE001
        state = None
    if not isinstance(state, dict):
        state = getattr(exc, "__dict__", None) or {}
    return {k: v for k, v in list(state.items())[:32]
            if isinstance(k, str) and not k.startswith("__") and _plain(v, 3)}


def _plain(value, depth: int) -> bool:
    if value is None or type(value) in (str, bytes, int, float, bool) or isinstance(value, int):
        return len(value) <= 65536 if isinstance(value, (str, bytes)) else True
    if depth and isinstance(value, (list, tuple)):
        return len(value) <= 64 and all(_plain(v, depth - 1) for v in value)
    if depth and isinstance(value, dict):
        return len(value) <= 64 and all(
            isinstance(k, (str, int)) and _plain(v, depth - 1) for k, v in value.items())
    return False


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
    attrs = store.decode(error.get("state") or {})
    try:
        exc = cls(*args)
        _set(exc, attrs)
        if _shows(exc, message):
            return exc
    except Exception:  # noqa: BLE001 - constructors with other signatures
        pass
    exc = cls.__new__(cls)
    exc.args = tuple(args) if args else (message,)
    _set(exc, attrs)
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


def _set(exc: BaseException, attrs: dict) -> None:
    for name, value in attrs.items():
        try:
            setattr(exc, name, value)
        except Exception:  # noqa: BLE001 - read-only attributes stay as constructed
            pass


def _shows(exc: BaseException, message: str) -> bool:
    try:
        return str(exc) == message
    except Exception:  # noqa: BLE001 - __str__ wanting attributes __init__ would have set
        return False
