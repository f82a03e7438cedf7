"""``ct deps TRACE``: the external calls a recording captured (``deps.jsonl``, written by the
recorder's ``--deps record``), one line each: start time, category, target, status or error,
duration, call site. ``--json`` prints the call records as stored. TRACE is an index id,
``latest``, a trace folder or a ``deps.jsonl``. Calls of forked children
(``deps.fork-<id>.jsonl`` beside it) follow the program's, marked with their fork id (a
``PROCESS`` column; ``"fork"`` in JSON). Reads JSON only (never runs anything from the file);
the format is described in the recorder's README."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ct.errors import TARGET, USAGE, CtError

FORMAT, VERSION, FILE_NAME = "codetracer-deps", 1, "deps.jsonl"


def _capture_path(ref: str) -> Path:
    path = Path(ref)
    if not path.exists() and not ref.endswith(".jsonl"):
        from ct import paths
        from ct.index import Index

        with Index(paths.index_path()) as index:
            path = Path(index.get(ref)["trace_dir"])
    if path.is_dir():
        path = path / FILE_NAME
    if not path.is_file():
        raise CtError(f"deps: {path} does not exist; record with `ct record --deps record ...`",
                      TARGET)
    return path


def replay_spec(spec: str) -> str:
    """``replay=ID|latest|PATH`` -> ``replay=<absolute trace folder or file>`` for the
    recorder (which may run in another directory and knows nothing of ct's index)."""
    if not spec.startswith("replay="):
        return spec
    ref = spec[len("replay="):]
    path = Path(ref)
    if not path.exists() and (ref == "latest" or ref.isdigit()):
        from ct import paths
        from ct.index import Index

        with Index(paths.index_path()) as index:
            path = Path(index.get(ref)["trace_dir"])
    return "replay=" + str(path.absolute())


_FORK_NAME = re.compile(r"deps\.fork-(\d+(?:\.\d+)*)\.jsonl")


def load(ref: str) -> tuple[dict, list[dict]]:
    """The program's calls in start order, then each forked child's (fork-tree order)."""
    path = _capture_path(ref)
    header, calls = _load_file(path)
    if path.name == FILE_NAME:
        children = [(m.group(1), child) for child in path.parent.iterdir()
                    if (m := _FORK_NAME.fullmatch(child.name))]
        for fork, child in sorted(children, key=lambda c: [int(p) for p in c[0].split(".")]):
            calls += [{**c, "fork": fork} for c in _load_file(child)[1]]
    return header, calls


def _load_file(path: Path) -> tuple[dict, list[dict]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        header = json.loads(lines[0]) if lines else {}
    except ValueError:
        header = {}
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CtError(f"deps: {path} is not a dependency capture (no '{FORMAT}' header)", TARGET)
    if not isinstance(header.get("version"), int) or header["version"] > VERSION:
        raise CtError(f"deps: {path} is capture format version {header.get('version')}; this ct "
                      f"reads up to {VERSION}: upgrade ct", TARGET)
    calls = []
    for line in lines[1:]:
        try:
            obj = json.loads(line)
        except ValueError:
            continue  # the last line of a killed recording may be cut short
        if isinstance(obj, dict) and "seq" in obj:
            calls.append(obj)
    calls.sort(key=lambda c: c["seq"])
    return header, calls


def outcome(call: dict) -> str:
    """``200``, ``3 rows``, ``OK``, or ``ConnectionRefusedError: ...`` for an error."""
    error = call.get("error")
    if error:
        text = f"{error.get('type', '?').rpartition(':')[2]}: {error.get('message', '')}"
        return text if len(text) <= 60 else text[:57] + "..."
    result = call.get("result")
    if isinstance(result, dict):
        if "status" in result:
            return str(result["status"])
        if isinstance(result.get("rows"), list):
            return f"{len(result['rows'])} rows"
    if result is None:
        return "ok"
    text = json.dumps(result)
    return text if len(text) <= 30 else text[:27] + "..."


def run(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="ct deps", description=__doc__.split("\n\n")[0],
                                allow_abbrev=False)
    p.add_argument("trace", metavar="TRACE", help="index id, latest, trace folder or deps.jsonl")
    p.add_argument("--json", action="store_true", help="print the call records as a JSON array")
    try:
        a = p.parse_args(argv)
    except SystemExit as exc:
        if exc.code:
            raise CtError("deps: usage: ct deps TRACE [--json]", USAGE) from None
        return 0
    _header, calls = load(a.trace)
    if a.json:
        json.dump(calls, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    forked = any("fork" in c for c in calls)
    rows = [("TIME", *(("PROCESS",) if forked else ()), "CATEGORY", "TARGET", "RESULT",
             "DURATION", "SITE")]
    for c in calls:
        process = (f"fork {c['fork']}" if "fork" in c else "main",) if forked else ()
        rows.append((f"{c.get('start', 0):.3f}", *process, c.get("category", "?"),
                     c.get("key", "?"), outcome(c), f"{c.get('duration', 0) * 1000:.1f} ms",
                     c.get("site", "?")))
    widths = [min(max(len(r[i]) for r in rows), 70) for i in range(len(rows[0]) - 1)]
    for r in rows:
        cells = [(v if len(v) <= w else v[:w - 3] + "...").ljust(w)
                 for v, w in zip(r[:-1], widths, strict=True)]
        print("  ".join([*cells, r[-1]]))
    return 0
