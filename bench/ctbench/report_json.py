"""results.json: every number the Markdown table and the chart are made from, plus raw runs."""
from __future__ import annotations

import json
from pathlib import Path


def write(results: dict, path: Path) -> None:
    """Write atomically so a crashed run never leaves a half-written results.json behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")
    tmp.replace(path)


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def merge(base: dict, update: dict) -> dict:
    """`base` with the cells `update` measured again replaced in place (keyed by python,
    program and mode), new cells appended, and a note saying which cells were re-measured."""
    key = lambda row: (row["python"], row["program"], row["mode"])  # noqa: E731
    fresh = {key(row): row for row in update["benchmarks"]}
    rows = [fresh.pop(key(row), row) for row in base["benchmarks"]]
    rows += list(fresh.values())
    meta = dict(base["meta"])
    meta["pythons"] = {**meta.get("pythons", {}), **update["meta"].get("pythons", {})}
    redone = sorted({f"{r['program']}/{r['mode']} on {r['python']}" for r in update["benchmarks"]}
                    | {f"{r['program']}/versus on {r['python']}" for r in update.get("versus", [])})
    meta["notes"] = [n for n in meta.get("notes", []) if not n.startswith("Re-measured")]
    meta["notes"] += [n for n in update["meta"].get("notes", []) if n not in meta["notes"]]
    meta["notes"].append(f"Re-measured at {update['meta']['started_at']} (load "
                         f"{update['meta']['loadavg_start']}): {', '.join(redone)}")
    vkey = lambda row: (row["python"], row["program"])  # noqa: E731
    fresh_versus = {vkey(row): row for row in update.get("versus", [])}
    versus = [fresh_versus.pop(vkey(row), row) for row in base.get("versus", [])]
    versus += list(fresh_versus.values())
    return {"meta": meta, "benchmarks": rows,
            "startup": update.get("startup") or base.get("startup", []), "versus": versus}
