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


def arm(capture_data: dict, source: str, miss: str = "error"):
    """Answers the program's dependency calls from the capture's records (nothing reaches the
    services, connection set-up included) and turns the integrations' own capture off."""
    capture.replaying = True
    return scopes.replay(capture_data.get("deps") or [], miss=miss, source=source)


def disarm(exit_status: int) -> None:
    scopes.finish(exit_status)


def start(argv, *, prog: str, doc: str, kind: str, other: str, what: str):
    """The command line both replays take (CAPTURE --app module:attr --deps-miss), the capture
    loaded and checked to be of ``kind`` (``other`` replays the rest), the replay armed and the
    app imported: (capture, engine, app). Raises ReplayUsageError or CaptureFileError."""
    import argparse

    p = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[1])
    p.add_argument("capture", metavar="CAPTURE", help=f"a {kind} capture file")
    p.add_argument("--app", required=True, help=f"the {what} as module:attribute")
    p.add_argument("--deps-miss", choices=("error", "live"), default="error",
                   help="a dependency call with no recorded answer fails (default) or goes live")
    a = p.parse_args(argv)
    recorded = capture.load(a.capture)
    if recorded.get("kind") != kind:
        raise ReplayUsageError(f"{a.capture} is a {recorded.get('kind')} capture; "
                               f"replay it with {other}")
    engine = arm(recorded, a.capture, a.deps_miss)
    return recorded, engine, import_app(a.app, what)


def import_app(spec: str, what: str):
    """``module:attr`` (attr may be dotted) -> the object; the current directory is importable,
    as it is for ``python -m``."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ReplayUsageError(f"--app {spec!r} is not module:attribute (for example "
                               f"main:app); name the {what}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ReplayUsageError(f"--app {spec}: no module named {module_name!r} from "
                                   f"{os.getcwd()}; run from the project folder or fix "
                                   "PYTHONPATH") from None
        raise
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ReplayUsageError(f"--app {spec}: module {module_name} has no attribute "
                                   f"{attr!r}; name the {what}") from None
    return obj


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
