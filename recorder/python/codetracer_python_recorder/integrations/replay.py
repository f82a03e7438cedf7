"""What ``replay_request`` and ``replay_task`` share: arming the dependency replay with one
capture's calls, importing the user's ``module:attr``, and saying how two outcomes differ."""

from __future__ import annotations

import difflib
import importlib
import os
import sys

from ..deps import scopes
from . import capture


class ReplayUsageError(Exception):
    """A bad ``--app`` or capture: reported in one line, exit status 2."""


def arm(capture_data: dict, source: str, miss: str = "error", extra=()):
    """Answers the program's dependency calls from the capture's records (after ``extra``: the
    app's start-up calls, made first), so nothing reaches the services, connection set-up
    included, and turns the integrations' own capture off."""
    from ..errors import UsageError

    capture.replaying = True
    try:
        return scopes.replay([*extra, *(capture_data.get("deps") or [])], miss=miss,
                             source=source)
    except UsageError as exc:  # the [deps] table of a trace filter file
        raise ReplayUsageError(str(exc)) from None


def disarm(exit_status: int) -> None:
    scopes.finish(exit_status)


def start(argv, *, prog: str, doc: str, kind: str, what: str):
    """The command line both replays take (CAPTURE --app module:attr [--factory] --deps-miss),
    the capture loaded and checked to be of ``kind``, the replay armed and the app imported
    (or made by its factory, whose calls are answered from the capture too): (capture, engine,
    app, number of start-up calls). Raises ReplayUsageError or CaptureFileError."""
    import argparse

    p = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[1])
    p.add_argument("capture", metavar="CAPTURE", help=f"a {kind} capture file")
    p.add_argument("--app", required=True,
                   help=f"the {what} as module:attribute, or module:factory() to call it")
    p.add_argument("--factory", action="store_true",
                   help="the attribute is a function that returns the app (like uvicorn's)")
    p.add_argument("--deps-miss", choices=("error", "live"), default="error",
                   help="a dependency call with no recorded answer fails (default) or goes live")
    a = p.parse_args(argv)
    recorded = capture.load(a.capture)
    if recorded.get("kind") != kind:
        raise ReplayUsageError(f"{a.capture} is a {recorded.get('kind')} capture; "
                               f"{OTHER.get(recorded.get('kind'), 'it cannot be replayed')}")
    startup = startup_records(recorded, a.capture)
    engine = arm(recorded, a.capture, a.deps_miss, extra=startup)
    return recorded, engine, load_app(a.app, what, factory=a.factory), len(startup)


#: what to do with a capture given to the other replay command
OTHER = {"request": "replay it with ct replay-request",
         "task": "replay it with ct replay-task",
         "startup": "it answers the start-up calls of the request captures that name it: "
                    "replay one of those"}


def startup_records(recorded: dict, path: str) -> list[dict]:
    """The call records of the start-ups a request or task capture names (``"startup"``, and
    a Celery worker's ``"worker_startup"``: capture files beside it), so the start-up calls
    are answered in the replay too. A missing file is reported in one line; its start-up
    calls then miss."""
    records = []
    for field in ("worker_startup", "startup"):
        name = recorded.get(field)
        if not name:
            continue
        startup_path = os.path.join(os.path.dirname(os.path.abspath(path)),
                                    os.path.basename(name))
        try:
            startup = capture.load(startup_path)
        except capture.CaptureFileError as exc:
            print(f"codetracer replay: the app's start-up calls are not answered: {exc}",
                  file=sys.stderr)
            continue
        records += startup.get("deps") or []
    return records


def load_app(spec: str, what: str, *, factory: bool = False):
    """``module:attr`` -> the app; ``module:attr()`` or ``factory=True`` calls it first. A
    function that takes no arguments is taken for a factory, as uvicorn does. For a Celery
    app ``module`` alone works as for ``celery -A``: its ``app`` or ``celery`` attribute."""
    called = spec.endswith("()")
    if called:
        spec = spec[:-2]
    celery = what == "Celery app"
    if celery and ":" not in spec and spec and not called and not factory:
        return _celery_in_module(spec)
    obj = import_app(spec, what)
    if called or factory or _is_factory(obj, celery):
        if not callable(obj):
            raise ReplayUsageError(f"--app {spec}: {type(obj).__name__} is not callable; "
                                   "drop --factory / () to use it as the app")
        try:
            obj = obj()
        except Exception as exc:  # noqa: BLE001 - the user's factory failed: one line
            raise ReplayUsageError(f"--app {spec}: the factory raised {type(exc).__name__}: "
                                   f"{exc}{_miss_hint(exc)}") from None
    if celery and not hasattr(obj, "tasks"):
        raise ReplayUsageError(f"--app {spec} is a {type(obj).__name__}, not a Celery app")
    if not celery and not callable(obj):
        raise ReplayUsageError(f"--app {spec} is a {type(obj).__name__}, not an ASGI app")
    return obj


def _is_factory(obj, celery: bool) -> bool:
    """A plain function called with no arguments cannot be an ASGI app (that takes three),
    nor a Celery app: it is a factory."""
    import inspect

    if not inspect.isfunction(obj):
        return False
    required = [p for p in inspect.signature(obj).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return not required or celery


def _celery_in_module(name: str):
    """``celery -A proj``'s rule: ``proj.app``, ``proj.celery``, or the one Celery app in it."""
    module = _import_module(name, name)
    for attr in ("app", "celery"):
        found = getattr(module, attr, None)
        if found is not None and hasattr(found, "tasks"):
            return found
    apps = [v for v in vars(module).values() if type(v).__name__ == "Celery"]
    if len(apps) == 1:
        return apps[0]
    raise ReplayUsageError(f"--app {name}: module {name} has no Celery app named app or celery"
                           f"{' and more than one other' if apps else ''}; pass module:attribute")


def import_app(spec: str, what: str):
    """``module:attr`` (attr may be dotted) -> the object."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ReplayUsageError(f"--app {spec!r} is not module:attribute (for example "
                               f"main:app or main:create_app()); name the {what}")
    obj = _import_module(module_name, spec)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ReplayUsageError(f"--app {spec}: module {module_name} has no attribute "
                                   f"{attr!r}; name the {what}") from None
    return obj


def _import_module(module_name: str, spec: str):
    """The current directory is importable, as it is for ``python -m``."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ReplayUsageError(f"--app {spec}: no module named {module_name!r} from "
                                   f"{os.getcwd()}; run from the project folder or fix "
                                   "PYTHONPATH") from None
        raise
    except Exception as exc:  # noqa: BLE001 - the app cannot be loaded: one line
        raise ReplayUsageError(f"--app {spec}: importing {module_name} raised "
                               f"{type(exc).__name__}: {exc}{_miss_hint(exc)}") from None


def _miss_hint(exc: BaseException) -> str:
    """Calls made while the app is imported or built are in no capture (only a lifespan
    start-up's are): say so when such a call is what failed."""
    if "codetracer replay has no recorded" not in str(exc):
        return ""
    return ("; dependency calls made at import time or in a factory are not captured: "
            "move them into the app's lifespan start-up, or replay with --deps-miss live")


def body_diff(recorded: bytes, replayed: bytes, limit: int = 40) -> str:
    """A unified diff of two bodies (text), or their sizes and first differing byte."""
    try:
        a, b = recorded.decode("utf-8"), replayed.decode("utf-8")
    except UnicodeDecodeError:
        at = next((i for i, (x, y) in enumerate(zip(recorded, replayed, strict=False))
                   if x != y),
                  min(len(recorded), len(replayed)))
        return (f"  binary bodies differ: recorded {len(recorded)} bytes, replayed "
                f"{len(replayed)} bytes, first difference at byte {at}\n")
    a_lines, b_lines = _lines(a), _lines(b)
    diff = list(difflib.unified_diff(a_lines, b_lines, "recorded", "replayed", lineterm=""))
    shown = diff[:limit]
    if len(diff) > limit:
        shown.append(f"... {len(diff) - limit} more diff lines")
    return "".join(f"  {line}\n" for line in shown)


def _lines(text: str) -> list[str]:
    """JSON bodies pretty-printed so a diff points at the field that changed."""
    import json

    try:
        text = json.dumps(json.loads(text), indent=1, sort_keys=True)
    except ValueError:
        pass
    return text.splitlines()
