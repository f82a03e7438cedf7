"""Start-up benchmarks: how long `ct` takes before any user code runs.

Compares the frozen onedir `ct` with `python -m ct`, the AppImage mounted through FUSE with the
same AppImage extracted (APPIMAGE_EXTRACT_AND_RUN=1), and `ct record` of an empty script with
plain `python` of it. Each needs artifacts other sessions build (dist/*.AppImage,
build/freeze/ct/ct, src/ct); missing ones are reported as unavailable, never as errors.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import envs
from .measure import run_once
from .programs import PROGRAMS_DIR
from .stats import summarize

EMPTY = PROGRAMS_DIR / "empty.py"
FROZEN_CT = envs.REPO / "build" / "freeze" / "ct" / "ct"


@dataclass
class Case:
    """One start-up case: a command factory (fresh per run) or why it cannot run."""

    group: str
    name: str
    make: Callable[[Path], list[str]] | None
    env: dict | None = None
    reason: str = ""


def _appimage() -> Path | None:
    found = sorted((envs.REPO / "dist").glob("*.AppImage"))
    return found[-1] if found else None


def cases(ct_python: Path | None, bench_python: Path | None, ct_reason: str) -> list[Case]:
    """The start-up cases, with unavailable ones carrying their reason."""
    base_env = dict(os.environ)
    out: list[Case] = []
    frozen = FROZEN_CT if FROZEN_CT.exists() else None
    out.append(Case("ct --version", "frozen onedir (build/freeze/ct/ct)",
                    (lambda _d: [str(FROZEN_CT), "--version"]) if frozen else None,
                    reason="" if frozen else "build/freeze/ct/ct not built"))
    out.append(Case("ct --version", "python -m ct",
                    (lambda _d: [str(ct_python), "-m", "ct", "--version"]) if ct_python else None,
                    reason=ct_reason))
    image = _appimage()
    fuse_ok = Path("/dev/fuse").exists()
    mounted_reason = "" if image and fuse_ok else (
        "no dist/*.AppImage" if not image else "no /dev/fuse: cannot mount")
    out.append(Case("ct --version", "AppImage mounted (FUSE)",
                    (lambda _d: [str(image), "--version"]) if image and fuse_ok else None,
                    env={k: v for k, v in base_env.items() if k != "APPIMAGE_EXTRACT_AND_RUN"},
                    reason=mounted_reason))
    out.append(Case("ct --version", "AppImage extracted (APPIMAGE_EXTRACT_AND_RUN=1)",
                    (lambda _d: [str(image), "--version"]) if image else None,
                    env={**base_env, "APPIMAGE_EXTRACT_AND_RUN": "1"},
                    reason="" if image else "no dist/*.AppImage"))
    if bench_python is not None:
        out.append(Case("empty script", "python empty.py",
                        lambda _d: [str(bench_python), str(EMPTY)]))
    ct_exe = ct_python.parent / "ct" if ct_python else None
    rec_env = {**base_env, "CODETRACER_PYTHON_INTERPRETER": str(bench_python or "")}
    out.append(Case("empty script", "ct record --quiet -o DIR empty.py (venv ct)",
                    (lambda d: [str(ct_exe), "record", "--quiet", "-o", str(d / "t"), str(EMPTY)])
                    if ct_exe and bench_python else None, env=rec_env,
                    reason=ct_reason or ("" if bench_python else "no bench interpreter")))
    if frozen and bench_python:
        out.append(Case("empty script", "ct record --quiet -o DIR empty.py (frozen ct)",
                        lambda d: [str(FROZEN_CT), "record", "--quiet", "-o", str(d / "t"),
                                   str(EMPTY)], env=rec_env))
    return out


def run_cases(case_list: list[Case], runs: int, log) -> list[dict]:
    """Time each case `runs` times (plus one warm-up) in a throwaway data dir."""
    results = []
    for case in case_list:
        entry = {"group": case.group, "name": case.name, "status": "ok", "reason": case.reason,
                 "wall_s": None, "peak_rss_kb": None}
        if case.make is None:
            entry["status"] = "unavailable"
        else:
            samples, rss = [], []
            for i in range(runs + 1):
                with tempfile.TemporaryDirectory(prefix="ct-bench-") as tmp:
                    env = {**(case.env or os.environ), "CODETRACER_DATA_DIR": tmp}
                    res = run_once(case.make(Path(tmp)), env=env, timeout=120, cwd=Path(tmp))
                if not res.ok:
                    entry["status"] = "failed"
                    tail = res.stderr_tail.strip().splitlines()[-1:] or [""]
                    entry["reason"] = f"exit {res.exit_code}: {tail[0][:200]}"
                    break
                if i:  # run 0 is the warm-up
                    samples.append(res.wall_s)
                    rss.append(res.max_rss_kb)
            if entry["status"] == "ok":
                entry["wall_s"] = summarize(samples)
                entry["peak_rss_kb"] = max(rss)
        shown = (f"{entry['wall_s']['median'] * 1000:.0f} ms" if entry["wall_s"]
                 else f"{entry['status']}: {entry['reason']}")
        print(f"  startup {case.group}: {case.name}: {shown}", file=log, flush=True)
        results.append(entry)
    return results
