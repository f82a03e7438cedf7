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
