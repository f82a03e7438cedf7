"""Checks of a recorded trace folder and of ``ct list --json`` output."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

try:
    from ct import ctfs
except ImportError:  # run from a checkout without `pip install .`: the repository's reader
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from ct import ctfs

#: functions of examples/python_script.py every recording must show
FUNCTIONS = ("main", "fib", "deposit", "withdraw")


class CheckFailed(AssertionError):
    pass


def _load(path: Path):
    if not path.is_file():
        raise CheckFailed(f"missing {path.name} in {path.parent}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CheckFailed(f"{path.name} is not JSON: {exc}") from exc


def check_trace_folder(trace_dir: Path, script: Path, args: list[str]) -> dict:
    """A recording of ``script`` that CodeTracer opens; returns the recorder's metadata.

    The layout follows the recorder's ``format``: ``ctfs`` requires a ``trace.ct`` that opens
    with ct's reader; ``json`` (or no ``format``, a recorder from before trace.ct) the
    runtime_tracing ``trace.json`` folder."""
    meta = _load(trace_dir / "trace_metadata.json")
    if not isinstance(meta, dict):
        raise CheckFailed("trace_metadata.json is not an object")
    fmt = meta.get("format")
    if fmt == "ctfs":
        return check_ctfs_folder(trace_dir, script, args, meta)
    if fmt not in (None, "json"):
        raise CheckFailed(f"trace_metadata.json: unknown format {fmt!r}")
    return check_json_folder(trace_dir, script, args, meta)


def _check_args(recorded: list, args: list[str], where: str) -> None:
    if recorded != args and recorded[-len(args):] != args:
        raise CheckFailed(f"{where} args {recorded!r} != {args!r}")


def check_ctfs_folder(trace_dir: Path, script: Path, args: list[str], meta: dict) -> dict:
    """``trace.ct`` opens as CodeTracer opens it, with steps, the script and its functions."""
    path = trace_dir / "trace.ct"
    if not path.is_file():
        raise CheckFailed(f"the recorder says format ctfs but {trace_dir} has no trace.ct "
                          f"({sorted(p.name for p in trace_dir.iterdir())})")
    try:
        with ctfs.open_trace(path) as trace:
            found = trace.meta
            steps, calls = trace.steps(), trace.calls()
            functions = set(trace.function_calls())
    except ctfs.CtfsError as exc:
        raise CheckFailed(f"trace.ct would not open in CodeTracer: {exc}") from exc
    if not steps:
        raise CheckFailed(f"trace.ct has {steps} steps")
    if not calls:
        raise CheckFailed(f"trace.ct has {calls} calls")
    if not str(found.program).endswith(script.name):
        raise CheckFailed(f"meta.dat program {found.program!r} is not {script.name}")
    _check_args(found.args, args, "meta.dat")
    if not any(str(p).endswith(script.name) for p in found.paths):
        raise CheckFailed(f"meta.dat paths do not list {script.name}: {found.paths!r:.200}")
    _check_functions(functions)
    return meta


def _check_functions(functions: set[str]) -> None:
    for name in FUNCTIONS:
        if not any(f == name or f.endswith("." + name) for f in functions):
            raise CheckFailed(f"function {name} not recorded (have {sorted(functions)[:20]})")


def check_json_folder(trace_dir: Path, script: Path, args: list[str], meta: dict) -> dict:
    """A valid runtime_tracing folder for ``script``; returns the metadata."""
    events = _load(trace_dir / "trace.json")
    paths = _load(trace_dir / "trace_paths.json")
    if not isinstance(events, list) or not events:
        raise CheckFailed("trace.json is not a non-empty array")
    kinds: Counter[str] = Counter()
    for i, event in enumerate(events):
        if not isinstance(event, dict) or len(event) != 1:
            raise CheckFailed(f"trace.json[{i}] is not a single-key object: {event!r:.80}")
        kinds[next(iter(event))] += 1
    for needed in ("Path", "Function", "Step", "Call", "Return"):
        if not kinds[needed]:
            raise CheckFailed(f"trace.json has no {needed} event ({dict(kinds)})")
    if kinds["Call"] != kinds["Return"]:
        raise CheckFailed(f"unbalanced: {kinds['Call']} Call vs {kinds['Return']} Return")
    _check_functions({e["Function"]["name"] for e in events if "Function" in e})
    if not isinstance(paths, list) or not any(str(p).endswith(script.name) for p in paths):
        raise CheckFailed(f"trace_paths.json does not list {script.name}: {paths!r:.200}")
    for key in ("workdir", "program", "args"):
        if key not in meta:
            raise CheckFailed(f"trace_metadata.json lacks {key}")
    _check_args(meta["args"], args, "metadata")
    return meta


def _mentions(value, needle: str) -> bool:
    if isinstance(value, str):
        return needle in value
    if isinstance(value, dict):
        return any(_mentions(v, needle) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, needle) for v in value)
    return False


def check_listed(list_json: str, trace_dir: Path) -> None:
    """``ct list --json`` is an array and one recording refers to ``trace_dir``."""
    try:
        items = json.loads(list_json)
    except ValueError as exc:
        raise CheckFailed(f"ct list --json is not JSON: {exc}: {list_json[:200]!r}") from exc
    if not isinstance(items, list):
        raise CheckFailed("ct list --json is not an array")
    if not any(_mentions(item, str(trace_dir)) or _mentions(item, trace_dir.name)
               for item in items):
        raise CheckFailed(f"{trace_dir} not in ct list --json ({len(items)} recordings)")
    for item in items:
        if "args" in item and not isinstance(item["args"], list):
            raise CheckFailed("ct list --json: args is not an array")
