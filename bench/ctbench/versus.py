"""Head to head with upstream, at a size where upstream runs for seconds.

At the calibration sizes of the main table upstream runs for about 0.5 s, most of it start-up
(imports, its own set-up), so ratios there say little about the cost per event. Here each
program runs at `Program.versus_size`, chosen so upstream takes roughly 5-20 s on the 2-core dev
machine; ours and upstream alternate run by run, and the report gives two speed-ups: of the
whole wall time, and of the wall time above each tool's own empty-script start-up (the
recording work itself). Trace sizes are the trace file bytes of the same run (ours: trace.ct,
upstream: trace.json).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .modes import MODES
from .programs import Program
from .stats import ratio, summarize
from .suite import Cell, Settings, _fail_reason, _run_mode, _say

MODE_BY_NAME = {m.name: m for m in MODES}


@dataclass
class Side:
    """One tool's runs at the head-to-head size."""

    cell: Cell
    startup_s: float | None

    @property
    def median(self) -> float | None:
        walls = [r.wall_s for r in self.cell.runs]
        return summarize(walls)["median"] if walls else None

    @property
    def work_s(self) -> float | None:
        """Median wall above the tool's empty-script start-up (never below a millisecond)."""
        if self.median is None or self.startup_s is None:
            return None
        return max(self.median - self.startup_s, 1e-3)

    def to_dict(self) -> dict:
        trace = self.cell.trace or {}
        return {
            "status": self.cell.status, "reason": self.cell.reason,
            "wall_s": summarize([r.wall_s for r in self.cell.runs]),
            "startup_s": self.startup_s, "work_s": self.work_s,
            "peak_rss_kb": max((r.max_rss_kb for r in self.cell.runs if r.max_rss_kb),
                               default=None),
            "trace_bytes": trace.get("trace_bytes"), "steps": trace.get("steps"),
        }


def compare(ours: Side, upstream: Side) -> dict:
    """How many times faster and smaller ours is (None where either side has no number)."""
    ours_bytes = (ours.cell.trace or {}).get("trace_bytes")
    up_bytes = (upstream.cell.trace or {}).get("trace_bytes")
    return {
        "faster": ratio(upstream.median, ours.median),
        "faster_work": ratio(upstream.work_s, ours.work_s),
        "smaller": ratio(up_bytes, ours_bytes),
    }


def startup_wall(mode_name: str, python: Path, tag: str, settings: Settings) -> float | None:
    """The fastest of two recordings of an empty script: the tool's fixed cost."""
    empty = Program("empty", "empty.py", 0, 0, 0, "empty script")  # bench/programs/empty.py
    cell = Cell(tag, "empty", mode_name, 0)
    walls = []
    for _ in range(2):
        result = _run_mode(cell, MODE_BY_NAME[mode_name], python, empty, settings, 60.0)
        if result.ok:
            walls.append(result.wall_s)
    return min(walls) if walls else None


def run(tag: str, program: Program, ours_python: Path, up_python: Path,
        startups: dict[str, float | None], settings: Settings, runs: int = 3) -> dict:
    """Alternate ours and upstream `runs` times each at `program.versus_size`."""
    size = program.versus_size
    sides = {name: Side(Cell(tag, program.name, name, size), startups.get(name))
             for name in ("ours", "upstream")}
    budget = settings.upstream_budget_s
    for _ in range(runs):
        for name, python in (("ours", ours_python), ("upstream", up_python)):
            side = sides[name]
            if side.cell.status != "ok":
                continue
            result = _run_mode(side.cell, MODE_BY_NAME[name], python, program, settings, budget)
            if not result.ok:
                side.cell.status = "skipped" if result.timed_out else "failed"
                side.cell.reason = _fail_reason(result, budget)
                side.cell.runs = []
                continue
            side.cell.runs.append(result)
    ratios = compare(sides["ours"], sides["upstream"])
    shown = ", ".join(f"{k} {v:.1f}x" for k, v in ratios.items() if v is not None)
    _say(settings, f"  {tag} {program.name:<11} versus upstream at {size}: {shown or 'no ratio'}")
    return {"python": tag, "program": program.name, "size": size,
            "ours": sides["ours"].to_dict(), "upstream": sides["upstream"].to_dict(), **ratios}

