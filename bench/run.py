#!/usr/bin/env python3
"""Benchmark suite entry point (`nox -s bench` runs `python bench/run.py [args]`).

Self-sufficient: builds or reuses its venvs under bench/.venvs/, measures, and writes
results.json, results.md and overhead.png. Timings are reported, never asserted, so the exit
status is 0 unless the suite itself breaks (bad arguments, no interpreter at all).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ctbench import (  # noqa: E402
    envs,
    modes,
    programs,
    pythons,
    report_json,
    report_md,
    startup,
    versus,
)
from ctbench.measure import run_once  # noqa: E402
from ctbench.programs import PROGRAMS_DIR  # noqa: E402
from ctbench.suite import (  # noqa: E402
    Cell,
    Settings,
    measure_fast_modes,
    measure_upstream,
    ours_at_calibration,
)

RESULTS = Path(__file__).resolve().parent / "results"
QUICK_RESULTS = envs.REPO / "build" / "bench-quick"
NOTES = [
    "floor = Python-level callbacks that return None for PY_START, PY_RETURN, PY_YIELD, "
    "PY_RESUME, PY_THROW, PY_UNWIND, LINE, RAISE, RERAISE, EXCEPTION_HANDLED: they never return "
    "DISABLE, so they fire in the standard library too. A recorder that DISABLEs filtered code "
    "can therefore run below this floor on stdlib-heavy programs.",
    "upstream is predicted before it runs: the program's own monitoring events are counted at a "
    "small calibration size and at the full size (floor launcher in counting mode) and "
    "upstream's calibration time is scaled by their ratio. Skipped cells show the calibration "
    "run in brackets (its ratio to plain is start-up dominated; its bytes/step are comparable).",
    "A run past its budget is killed and its cell reported as skipped; 'hung' means the process "
    "group had used under a fifth of the budget in CPU when it was killed.",
    "peak RSS is the child's own maximum RSS (GNU time %M around each run), not RUSAGE_CHILDREN "
    "of the long-lived runner (which would include the runner's fork).",
    "pkg_tests runs pytest over the first SIZE test modules of toolz 1.2.0 (PyPI, tests ship in "
    "the wheel).",
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="small sizes, 2 runs, 10 s upstream budget (CI smoke)")
    p.add_argument("--runs", type=int, help="runs per cell (default 5, quick 2)")
    p.add_argument("--programs", nargs="+", metavar="NAME",
                   help=f"subset of: {' '.join(p.name for p in programs.PROGRAMS)}")
    p.add_argument("--pythons", nargs="+", metavar="VER", default=list(pythons.DEFAULT_VERSIONS),
                   help="pyenv versions (default: 3.12.1 3.13.0; '3.12' picks newest 3.12.x)")
    p.add_argument("--modes", nargs="+", metavar="MODE",
                   help=f"subset of: {' '.join(modes.MODE_NAMES)}")
    p.add_argument("--upstream-budget", type=float,
                   help="seconds one upstream run may take (default 60, quick 10)")
    p.add_argument("--versus", action="store_true",
                   help="only the head-to-head with upstream at each program's versus size "
                        "(ours and upstream alternate --runs times, default 3); use with --update "
                        "to add it to the committed results")
    p.add_argument("--no-startup", action="store_true", help="skip the start-up benchmarks")
    p.add_argument("--no-plot", action="store_true", help="skip overhead.png (no matplotlib venv)")
    p.add_argument("--out", type=Path,
                   help=f"results dir (default {RESULTS.relative_to(envs.REPO)}; with --quick "
                        f"{QUICK_RESULTS.relative_to(envs.REPO)}, so smoke runs never overwrite "
                        "the committed full results)")
    p.add_argument("--update", action="store_true",
                   help="merge into the existing results.json: re-measured cells replace theirs, "
                        "all others (and start-up, unless measured again) are kept")
    p.add_argument("--max-minutes", type=float,
                   help="stop starting new programs after this long; the rest is reported as "
                        "skipped (results are written after every program anyway)")
    p.add_argument("--run-budget", type=float,
                   help="seconds one plain/floor/ours run may take before it is killed and the "
                        "cell reported as skipped (default 60, quick 30)")
    p.add_argument("--cell-budget", type=float,
                   help="seconds one (program, python, mode) cell may take before its run count "
                        "is cut (default 30, quick 20)")
    p.add_argument("--mem-cap-mb", type=int, default=8192,
                   help="address-space cap per measured process (protects the shared machine)")
    args = p.parse_args(argv)
    args.runs = args.runs or (2 if args.quick else 3 if args.versus else 5)
    args.upstream_budget = args.upstream_budget or (10.0 if args.quick else 60.0)
    args.cell_budget = args.cell_budget or (20.0 if args.quick else 30.0)
    args.run_budget = args.run_budget or (30.0 if args.quick else 60.0)
    args.out = args.out or (QUICK_RESULTS if args.quick else RESULTS)
    return args


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _git_commit() -> str:
    out = subprocess.run(["git", "-C", str(envs.REPO), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True, check=False)
    return out.stdout.strip()


def _python_version(python: Path) -> str:
    out = subprocess.run([str(python), "-c", "import sys; print(sys.version.split()[0])"],
                         capture_output=True, text=True, check=False)
    return out.stdout.strip() or "?"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _upstream_startup(python: Path) -> float | None:
    """Upstream's fixed cost (recording an empty script): the intercept of its time model."""
    samples = []
    tmp = envs.REPO / "build" / "bench-traces" / "upstream-empty"
    upstream = next(m for m in modes.MODES if m.name == "upstream")
    for _ in range(2):
        res = run_once(upstream.command(python, PROGRAMS_DIR / "empty.py", 0, tmp), timeout=60)
        if res.ok:
            samples.append(res.wall_s)
    shutil.rmtree(tmp, ignore_errors=True)
    return min(samples) if samples else None


def _run_versus(prepared: list, chosen: list, settings: Settings, runs: int, results: dict,
                flush) -> None:
    """The head-to-head table (see ctbench/versus.py), one program at a time."""
    for tag, bench_python, unavailable, up, up_startup in prepared:
        if up is None or not up.ok or "ours" in unavailable:
            results["meta"]["notes"].append(f"Python {tag}: no head-to-head (ours or upstream "
                                            "unavailable)")
            continue
        startups = {"ours": versus.startup_wall("ours", bench_python, tag, settings),
                    "upstream": up_startup}
        for program in chosen:
            if program.versus_size is None:
                continue
            results["versus"].append(versus.run(tag, program, bench_python, up.python, startups,
                                                settings, runs))
            flush()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    chosen_programs = programs.select(args.programs)
    chosen_modes = modes.select(args.modes)
    mode_names = [m.name for m in chosen_modes]
    settings = Settings(runs=args.runs, quick=args.quick, upstream_budget_s=args.upstream_budget,
                        cell_budget_s=args.cell_budget, mem_cap_mb=args.mem_cap_mb,
                        run_timeout_s=args.run_budget)
    t0 = time.time()
    deadline = t0 + args.max_minutes * 60 if args.max_minutes else None
    results: dict = {
        "meta": {
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "host": platform.node(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "loadavg_start": _loadavg(), "quick": args.quick, "runs": args.runs,
            "upstream_budget_s": args.upstream_budget, "cell_budget_s": args.cell_budget,
            "run_budget_s": args.run_budget,
            "modes": mode_names,
            "git_commit": _git_commit(), "recorder_source_hash": envs.recorder_source_hash(),
            "pythons": {}, "notes": list(NOTES),
        },
        "benchmarks": [], "startup": [], "versus": [],
    }
    meta = results["meta"]
    json_path, md_path = args.out / "results.json", args.out / "results.md"

    base_results = report_json.read(json_path) if args.update and json_path.exists() else None

    def flush() -> None:
        meta["loadavg_end"] = _loadavg()
        meta["elapsed_s"] = round(time.time() - t0, 1)
        out = report_json.merge(base_results, results) if base_results else results
        report_json.write(out, json_path)
        report_md.write(out, md_path)

    prepared = []  # (tag, bench python, unavailable modes, upstream env or None, its start-up)
    for version in args.pythons:
        base = pythons.interpreter(version)
        tag = pythons.short(version)
        if base is None:
            meta["notes"].append(f"Python {version}: not installed under pyenv, skipped")
            _log(f"python {version}: not found, skipped")
            continue
        meta["pythons"][tag] = _python_version(base)
        _log(f"python {meta['pythons'][tag]}: preparing venvs")
        bench, recorder = envs.bench_env(base, tag, with_recorder="ours" in mode_names)
        if not bench.ok:
            meta["notes"].append(f"Python {tag}: bench venv failed: {bench.reason}")
            _log(f"  bench venv failed: {bench.reason}")
            continue
        meta.setdefault("recorder_installed", {})[tag] = recorder.source_hash
        if recorder.note:
            meta["notes"].append(f"Python {tag}: {recorder.note}")
        unavailable = {"ours": recorder.reason} if not recorder.ok and "ours" in mode_names \
            else {}
        if unavailable:
            _log(f"  ours unavailable: {recorder.reason}")
        up = envs.upstream_env(base, tag) if "upstream" in mode_names else None
        up_startup = _upstream_startup(up.python) if up and up.ok else None
        prepared.append((tag, bench.python, unavailable, up, up_startup))

    if args.versus:
        _run_versus(prepared, chosen_programs, settings, args.runs, results, flush)
        _log(f"wrote {json_path}, {md_path} in {time.time() - t0:.0f} s")
        return 0

    fast = [m for m in chosen_modes if m.name != "upstream"]
    for program in chosen_programs:  # program-major: a cut-short run still covers every Python
        for tag, bench_python, unavailable, up, up_startup in prepared:
            size = program.size_for(args.quick)
            if deadline and time.time() > deadline:
                reason = f"suite time limit ({args.max_minutes:g} min) reached"
                cells = [Cell(tag, program.name, m.name, size, "skipped", reason)
                         for m in chosen_modes]
            else:
                per_mode_python = {m: bench_python for m in ("plain", "floor", "ours")}
                cells = measure_fast_modes(tag, program, per_mode_python, fast, unavailable,
                                           settings)
                if up is not None and up.ok:
                    up_cell = measure_upstream(tag, program, bench_python, up.python, up_startup,
                                               settings)
                    if up_cell.status != "ok" and "ours" in mode_names and "ours" not in unavailable:
                        ours_at_calibration(up_cell, bench_python, program, settings)
                    cells.append(up_cell)
                elif up is not None:
                    cells.append(Cell(tag, program.name, "upstream", size, "unavailable",
                                      up.reason))
            by_mode = {c.mode: c for c in cells}
            for cell in cells:
                results["benchmarks"].append(
                    cell.to_dict(by_mode.get("plain"), by_mode.get("floor")))
        flush()
    first_bench_python = prepared[0][1] if prepared else None

    if not args.no_startup:
        _log("start-up")
        ct = envs.ct_env(pythons.interpreter(args.pythons[0]) or Path(sys.executable))
        results["startup"] = startup.run_cases(
            startup.cases(ct.python, first_bench_python, ct.reason), runs=max(args.runs, 3)
            if not args.quick else 2, log=sys.stderr)
    flush()

    if not args.no_plot and results["benchmarks"]:
        tools = envs.tools_env(pythons.interpreter(args.pythons[0]) or Path(sys.executable))
        png = args.out / "overhead.png"
        if tools.ok and json_path.exists():
            from ctbench import plot

            proc = subprocess.run([str(tools.python), plot.__file__, str(json_path), str(png)],
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                _log(f"plot failed: {proc.stderr.strip()[-500:]}")
        else:
            _log(f"plot skipped: {tools.reason}")
    _log(f"wrote {json_path}, {md_path} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
