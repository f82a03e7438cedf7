#!/usr/bin/env python3
"""trace.ct (the default) against trace.json, side by side, per benchmark program.

    python bench/formats.py [--python PY ...] [--programs NAME ...] [--runs N] [--quick]
                            [--update]

Each interpreter must have the recorder installed (`pip install ./recorder`). The two formats
alternate run by run, so load hits both alike. Reported per program: median wall time of each,
trace file bytes (trace.ct / trace.json) and the ratio, peak RSS, and the share of the CTFS
recording spent compressing (the recorder's `stats.compress_s`); the rest is encoding, writing
and the program itself. `--update` writes bench/results/formats.md.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ctbench.measure import run_once  # noqa: E402
from ctbench.programs import select  # noqa: E402

FORMATS = ("ctfs", "json")
TRACE_FILE = {"ctfs": "trace.ct", "json": "trace.json"}
RESULTS = Path(__file__).resolve().parent / "results" / "formats.md"


def human(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def measure(python: str, program, size: int, runs: int, workdir: Path) -> dict:
    out: dict[str, dict] = {f: {"walls": [], "rss": [], "bytes": None, "compress": []}
                            for f in FORMATS}
    for run in range(runs + 1):  # run 0 warms caches and is not counted
        for fmt in FORMATS:
            trace = workdir / f"{program.name}-{fmt}-{run}"
            cmd = [python, "-m", "codetracer_python_recorder", "--format", fmt,
                   "--trace-dir", str(trace), str(program.path), str(size)]
            result = run_once(cmd, cwd=program.path.parent, timeout=600)
            if not result.ok:
                raise SystemExit(f"{program.name} ({fmt}) failed: {result.stderr_tail}")
            meta = json.loads((trace / "trace_metadata.json").read_text())
            if run:
                cell = out[fmt]
                cell["walls"].append(result.wall_s)
                cell["rss"].append(result.max_rss_kb)
                cell["bytes"] = (trace / TRACE_FILE[fmt]).stat().st_size
                cell["steps"] = meta["stats"]["steps"]
                cell["compress"].append(meta["stats"].get("compress_s", 0.0))
            shutil.rmtree(trace)
    return out


def row(name: str, size: int, cells: dict) -> list[str]:
    ct, js = cells["ctfs"], cells["json"]
    ct_wall, js_wall = statistics.median(ct["walls"]), statistics.median(js["walls"])
    compress = statistics.median(ct["compress"])
    return [f"{name} ({size})", f"{ct_wall:.2f} s", f"{js_wall:.2f} s",
            f"{js_wall / ct_wall:.2f}x", human(ct["bytes"]), human(js["bytes"]),
            f"{js['bytes'] / max(ct['bytes'], 1):.1f}x",
            f"{ct['bytes'] / max(ct['steps'], 1):.1f}",
            f"{compress:.2f} s ({100 * compress / ct_wall:.0f}%)",
            f"{max(ct['rss']) / 1024:.0f} / {max(js['rss']) / 1024:.0f} MB"]


HEADER = ["program (size)", "ctfs wall", "json wall", "json/ctfs wall", "trace.ct",
          "trace.json", "x smaller", "ctfs B/step", "compressing", "peak RSS ctfs / json"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", nargs="+", default=[sys.executable])
    p.add_argument("--programs", nargs="+")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="the programs' quick sizes")
    p.add_argument("--update", action="store_true", help=f"write {RESULTS}")
    args = p.parse_args()
    lines = []
    for python in args.python:
        import subprocess

        version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        lines += [f"\n### Python {version}\n", "| " + " | ".join(HEADER) + " |",
                  "|" + "---|" * len(HEADER)]
        with tempfile.TemporaryDirectory() as tmp:
            for program in select(args.programs):
                if program.requires:
                    continue  # needs the bench venv's packages (bench/run.py)
                size = program.size_for(args.quick)
                cells = measure(python, program, size, args.runs, Path(tmp))
                lines.append("| " + " | ".join(row(program.name, size, cells)) + " |")
                print(lines[-1], flush=True)
    text = ("## trace.ct against trace.json\n\n`python bench/formats.py "
            + " ".join(sys.argv[1:]) + "`: medians of " + str(args.runs)
            + " alternating runs; compressing = time in zstd, part of the ctfs wall.\n"
            + "\n".join(lines) + "\n")
    print(text)
    if args.update:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
