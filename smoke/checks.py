"""Checks of a recorded trace folder and of ``ct list --json`` output."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path


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
    """A valid runtime_tracing folder for ``script``; returns the metadata."""
    events = _load(trace_dir / "trace.json")
    paths = _load(trace_dir / "trace_paths.json")
    meta = _load(trace_dir / "trace_metadata.json")
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
    functions = {e["Function"]["name"] for e in events if "Function" in e}
    for name in ("main", "fib", "deposit", "withdraw"):
        if not any(f == name or f.endswith("." + name) for f in functions):
            raise CheckFailed(f"function {name} not recorded (have {sorted(functions)[:20]})")
    if not isinstance(paths, list) or not any(str(p).endswith(script.name) for p in paths):
        raise CheckFailed(f"trace_paths.json does not list {script.name}: {paths!r:.200}")
    for key in ("workdir", "program", "args"):
        if key not in meta:
            raise CheckFailed(f"trace_metadata.json lacks {key}")
    if meta["args"] != args and meta["args"][-len(args):] != args:
        raise CheckFailed(f"metadata args {meta['args']!r} != {args!r}")
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
