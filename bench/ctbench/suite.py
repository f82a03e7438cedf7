"""The measurement loop for one program on one Python, plus the upstream time budget.

plain, floor and ours are run round-robin (run i of every mode before run i+1 of any) so load
from other users of the machine hits all modes alike. A slow mode gets fewer runs: after its
warm-up, runs are capped so one cell stays within `cell_budget_s`.
Upstream is far slower, so it is run after a prediction: event counts (floor launcher in
counting mode) at a small calibration size and at the full size, times upstream's measured cost
per event at the calibration size. A program is skipped for upstream when the calibration run
alone takes over a third of the budget or the prediction exceeds it, and killed (and reported
as exceeding) if a real run goes past it anyway. In quick mode upstream runs once, at the quick
size, with the budget as its timeout.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import envs, trace_stats
from .measure import RunResult, run_once
from .modes import FLOOR_LAUNCHER, MODES, Mode
from .programs import Program
from .stats import per, ratio, summarize

TRACES = envs.REPO / "build" / "bench-traces"
MODE_BY_NAME = {m.name: m for m in MODES}


@dataclass
class Settings:
    runs: int = 5
    quick: bool = False
    upstream_budget_s: float = 60.0
    upstream_max_runs: int = 3
    run_timeout_s: float = 300.0
    cell_budget_s: float = 30.0
    mem_cap_mb: int = 8192
    log: object = sys.stderr


@dataclass
class Cell:
    """What one (python, program, mode) produced: samples, trace stats, or why it has none."""

    python: str
    program: str
    mode: str
    size: int
    status: str = "ok"  # ok | unavailable | skipped | failed
    reason: str = ""
    runs: list[RunResult] = field(default_factory=list)
    trace: dict | None = None
    calibration: dict | None = None

    def to_dict(self, plain: Cell | None, floor: Cell | None) -> dict:
        wall = summarize([r.wall_s for r in self.runs])
        rss = [r.max_rss_kb for r in self.runs]
        median = wall["median"] if wall else None
        trace = self.trace or {}
        return {
            "python": self.python, "program": self.program, "mode": self.mode,
            "size": self.size, "status": self.status, "reason": self.reason,
            "wall_s": wall,
            "peak_rss_kb": max(rss) if rss else None,
            "ratio_plain": ratio(median, _median(plain)),
            "ratio_floor": ratio(median, _median(floor)),
            "trace": self.trace,
            "bytes_per_step": per(trace.get("trace_bytes"), trace.get("steps")),
            "events_per_s": per(trace.get("events"), median),
            "calibration": self.calibration,
            "runs": [r.to_dict() for r in self.runs],
        }


def _median(cell: Cell | None) -> float | None:
    if cell is None or cell.status != "ok" or not cell.runs:
        return None
    return summarize([r.wall_s for r in cell.runs])["median"]


def _say(settings: Settings, msg: str) -> None:
    print(msg, file=settings.log, flush=True)


def _trace_dir(python: str, program: str, mode: str, tag: str) -> Path:
    path = TRACES / python / program / f"{mode}-{tag}"
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _run_mode(cell: Cell, mode: Mode, python: Path, program: Program, settings: Settings,
              timeout: float, size: int | None = None) -> RunResult:
    """One run of `mode`; collects trace stats from the first good recording, then deletes it."""
    size = cell.size if size is None else size
    trace_dir = _trace_dir(cell.python, cell.program, mode.name, str(len(cell.runs))) \
        if mode.records else None
    result = run_once(mode.command(python, program.path, size, trace_dir),
                      cwd=program.path.parent, timeout=timeout, mem_cap_mb=settings.mem_cap_mb)
    if trace_dir is not None:
        if result.ok and cell.trace is None:
            cell.trace = trace_stats.trace_stats(trace_dir)
        shutil.rmtree(trace_dir, ignore_errors=True)
        for staging in trace_dir.parent.glob(f".{trace_dir.name}.*"):  # a killed run's leftovers
            shutil.rmtree(staging, ignore_errors=True)
    return result


def _mark_failed(cell: Cell, result: RunResult, timeout: float) -> None:
    """A run past its time limit is a skip (budget), any other bad exit a failure."""
    cell.status = "skipped" if result.timed_out else "failed"
    cell.reason = _fail_reason(result, timeout)
    cell.runs = []


def _fail_reason(result: RunResult, timeout: float) -> str:
    if result.timed_out:
        cpu = result.cpu_at_kill_s
        if cpu is not None and cpu < 0.2 * timeout:
            return f"exceeded {timeout:.0f} s budget (killed; only {cpu:.1f} s CPU: hung)"
        return f"exceeded {timeout:.0f} s budget (killed)"
    last = result.stderr_tail.strip().splitlines()[-1:] or [""]
    return f"exit status {result.exit_code}: {last[0][:200]}"


def measure_fast_modes(tag: str, program: Program, pythons: dict[str, Path], modes: list[Mode],
                       unavailable: dict[str, str], settings: Settings) -> list[Cell]:
    """plain/floor/ours for one program on one python, round-robin, after a warm-up run each."""
    size = program.size_for(settings.quick)
    cells: list[Cell] = []
    for mode in modes:
        cell = Cell(tag, program.name, mode.name, size)
        if mode.name in unavailable:
            cell.status, cell.reason = "unavailable", unavailable[mode.name]
        cells.append(cell)
    live = [(c, MODE_BY_NAME[c.mode]) for c in cells if c.status == "ok"]
    wanted: dict[str, int] = {}
    for cell, mode in live:  # warm-up: .pyc files, page cache; not measured unless slow
        warm = _run_mode(cell, mode, pythons[mode.name], program, settings,
                         settings.run_timeout_s)
        if not warm.ok:
            _mark_failed(cell, warm, settings.run_timeout_s)
            continue
        wanted[cell.mode] = max(1, min(settings.runs,
                                       int(settings.cell_budget_s // max(warm.wall_s, 1e-3))))
        if warm.wall_s >= settings.cell_budget_s / 3:
            cell.runs.append(warm)  # start-up effects are noise at this length; save a run
        if wanted[cell.mode] < settings.runs:
            cell.reason = (f"{wanted[cell.mode]} run(s): one run took {warm.wall_s:.1f} s, "
                           f"cell budget {settings.cell_budget_s:.0f} s")
    for _ in range(settings.runs):
        for cell, mode in live:
            if cell.status != "ok" or len(cell.runs) >= wanted[cell.mode]:
                continue
            result = _run_mode(cell, mode, pythons[mode.name], program, settings,
                               settings.run_timeout_s)
            if not result.ok:
                _mark_failed(cell, result, settings.run_timeout_s)
                continue
            cell.runs.append(result)
    for cell in cells:
        med = _median(cell)
        shown = f"{med:.3f} s" if med is not None else f"{cell.status}: {cell.reason}"
        _say(settings, f"  {tag} {program.name:<11} {cell.mode:<8} {shown}")
    return cells


def count_events(python: Path, program: Program, size: int,
                 settings: Settings) -> tuple[int, int] | None:
    """(all, user-code) monitoring events a run fires (floor launcher counting); None on failure."""
    with tempfile.NamedTemporaryFile(suffix=".count", delete=False) as fh:
        out = Path(fh.name)
    try:
        env = {**os.environ, "BENCH_FLOOR_COUNT": str(out)}
        result = run_once([str(python), str(FLOOR_LAUNCHER), str(program.path), str(size)],
                          cwd=program.path.parent, env=env, timeout=settings.run_timeout_s,
                          mem_cap_mb=settings.mem_cap_mb)
        fields = out.read_text().split() if out.exists() else []
        if not result.ok or len(fields) != 2 or not all(f.isdigit() for f in fields):
            return None
        return int(fields[0]), int(fields[1])
    finally:
        out.unlink(missing_ok=True)


def measure_upstream(tag: str, program: Program, base_python: Path, up_python: Path,
                     empty_up_wall: float | None, settings: Settings) -> Cell:
    """Upstream for one program: calibrate, predict, then run within the budget (or skip)."""
    size = program.size_for(settings.quick)
    budget = settings.upstream_budget_s
    cell = Cell(tag, program.name, "upstream", size)
    mode = MODE_BY_NAME["upstream"]
    calib_size = size if settings.quick else min(program.calib_size, size)
    calib_timeout = budget if calib_size == size else budget / 3
    calib = Cell(tag, program.name, "upstream", calib_size)
    first = _run_mode(calib, mode, up_python, program, settings, calib_timeout, size=calib_size)
    if not first.ok:
        if first.timed_out:
            cell.status = "skipped"
            cell.reason = (_fail_reason(first, budget) if calib_size == size else
                           f"even size {calib_size} took over {calib_timeout:.0f} s")
            cpu = first.cpu_at_kill_s
            if calib_size != size and cpu is not None and cpu < 0.2 * calib_timeout:
                cell.reason += f" (only {cpu:.1f} s CPU: hung)"
        else:
            cell.status = "failed"
            cell.reason = f"at size {calib_size}: " + _fail_reason(first, calib_timeout)
        _say(settings, f"  {tag} {program.name:<11} upstream {cell.status}: {cell.reason}")
        return cell
    if calib_size == size:
        cell.runs.append(first)
        cell.trace = calib.trace
        _say(settings, f"  {tag} {program.name:<11} upstream {first.wall_s:.3f} s")
        return cell
    plain_calib = run_once(MODE_BY_NAME["plain"].command(base_python, program.path, calib_size,
                                                         None), cwd=program.path.parent)
    ev_calib = count_events(base_python, program, calib_size, settings)
    ev_full = count_events(base_python, program, size, settings)
    startup = empty_up_wall or 0.0
    predicted = None
    if ev_calib and ev_full:
        # upstream's variable cost follows the program's own events (it records those); fixed
        # costs such as importing asyncio stay in the calibration run and scale with them a bit
        pick = 1 if ev_calib[1] and ev_full[1] else 0
        predicted = startup + max(first.wall_s - startup, 0.0) * ev_full[pick] / ev_calib[pick]
    cell.calibration = {
        "size": calib_size, "wall_s": first.wall_s, "peak_rss_kb": first.max_rss_kb,
        "plain_wall_s": plain_calib.wall_s if plain_calib.ok else None,
        "ratio_plain": ratio(first.wall_s, plain_calib.wall_s if plain_calib.ok else None),
        "trace": calib.trace,
        "bytes_per_step": per((calib.trace or {}).get("trace_bytes"),
                              (calib.trace or {}).get("steps")),
        "monitoring_events": ev_calib, "monitoring_events_full": ev_full,  # (all, user code)
        "predicted_wall_s": predicted,
    }
    if predicted is not None and predicted > budget:
        cell.status = "skipped"
        cell.reason = (f"predicted {predicted:.0f} s > {budget:.0f} s budget "
                       f"(measured {first.wall_s:.2f} s at size {calib_size})")
    runs_wanted = settings.upstream_max_runs
    if predicted:
        runs_wanted = max(1, min(runs_wanted, int(budget // max(predicted, 1e-3))))
    while cell.status == "ok" and len(cell.runs) < min(runs_wanted, settings.runs):
        result = _run_mode(cell, mode, up_python, program, settings, budget)
        if not result.ok:
            cell.status = "skipped" if result.timed_out else "failed"
            cell.reason = _fail_reason(result, budget)
            break
        cell.runs.append(result)
    if cell.status != "ok":
        cell.runs, cell.trace = [], None
    med = _median(cell)
    shown = f"{med:.3f} s" if med is not None else f"{cell.status}: {cell.reason}"
    _say(settings, f"  {tag} {program.name:<11} upstream {shown}")
    return cell


def ours_at_calibration(upstream: Cell, ours_python: Path, program: Program,
                        settings: Settings) -> None:
    """Record the calibration size with ours too, so a skipped upstream cell still gets a
    like-for-like comparison (same size: wall time and bytes per step side by side)."""
    cal = upstream.calibration
    if not cal:
        return
    probe = Cell(upstream.python, program.name, "ours", cal["size"])
    result = _run_mode(probe, MODE_BY_NAME["ours"], ours_python, program, settings,
                       settings.run_timeout_s, size=cal["size"])
    trace = probe.trace or {}
    cal["ours"] = {
        "wall_s": result.wall_s if result.ok else None,
        "status": "ok" if result.ok else _fail_reason(result, settings.run_timeout_s),
        "peak_rss_kb": result.max_rss_kb if result.ok else None,
        "trace_bytes": trace.get("trace_bytes"),
        "bytes_per_step": per(trace.get("trace_bytes"), trace.get("steps")),
    }
