#!/usr/bin/env python3
"""trace.ct (the default) against trace.json, side by side, per benchmark program.

    python bench/formats.py [--python PY ...] [--baseline PY ...] [--programs NAME ...]
                            [--runs N] [--quick] [--sizes NAME=N ...]
                            [--variants ctfs json before] [--update]

Each interpreter must have the recorder installed (`pip install ./recorder`). Variants:
`ctfs` (this recorder's default, trace.ct) and `json` (`--format json`, full snapshots), and
with `--baseline PY` also `before`: an interpreter holding an older build of the recorder,
run in its own default (for instance the last build that wrote trace.json by default). The
variants alternate run by run, so load hits all alike. Reported per program: median wall time,
trace file bytes and bytes per step, peak RSS, and the share of the CTFS recording spent
compressing (the recorder's `stats.compress_s`; compression runs on its own thread, so this
is CPU time beside the program, not all of it on its path). `--update` writes
bench/results/formats.md.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ctbench.measure import run_once  # noqa: E402
from ctbench.programs import select  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "formats.md"


def human(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


VARIANTS = ("ctfs", "json", "before")


def variants(python: str, baseline: str | None,
             chosen: list[str] | None = None) -> list[tuple[str, str, list[str]]]:
    """(name, interpreter, extra arguments) of each variant run; `ctfs` always is."""
    out = [("ctfs", python, []), ("json", python, ["--format", "json"])]
    if baseline:
        out.append(("before", baseline, []))
    return [v for v in out if v[0] == "ctfs" or chosen is None or v[0] in chosen]


def parse_sizes(pairs: list[str]) -> dict[str, int]:
    """`NAME=N` pairs, as given to --sizes."""
    sizes = {}
    for pair in pairs:
        name, _, n = pair.partition("=")
        if not n.isdigit():
            raise SystemExit(f"--sizes takes NAME=N pairs (for instance fib=27), not {pair!r}")
        sizes[name] = int(n)
    return sizes


def trace_file(folder: Path) -> Path:
    return next(folder / n for n in ("trace.ct", "trace.json") if (folder / n).exists())


def measure(kinds, program, size: int, runs: int, workdir: Path) -> dict:
    out = {name: {"walls": [], "rss": [], "compress": []} for name, _, _ in kinds}
    for run in range(runs + 1):  # run 0 warms caches and is not counted
        for name, python, extra in kinds:
            trace = workdir / f"{program.name}-{name}-{run}"
            cmd = [python, "-m", "codetracer_python_recorder", *extra,
                   "--trace-dir", str(trace), str(program.path), str(size)]
            result = run_once(cmd, cwd=program.path.parent, timeout=900)
            if not result.ok:
                raise SystemExit(f"{program.name} ({name}) failed: {result.stderr_tail}")
            if run:
                stats = json.loads((trace / "trace_metadata.json").read_text())["stats"]
                cell = out[name]
                cell["walls"].append(result.wall_s)
                cell["rss"].append(result.max_rss_kb)
                cell["bytes"] = trace_file(trace).stat().st_size
                cell["steps"] = stats["steps"]
                cell["compress"].append(stats.get("compress_s", 0.0))
            shutil.rmtree(trace)
    return out


def row(name: str, size: int, cells: dict) -> list[str]:
    ct = cells["ctfs"]
    wall = {k: statistics.median(c["walls"]) for k, c in cells.items()}
    spread = {k: f"{min(c['walls']):.2f}-{max(c['walls']):.2f}" for k, c in cells.items()}
    cols = [f"{name} ({size})", f"{wall['ctfs']:.2f} s ({spread['ctfs']})"]
    for other in [k for k in cells if k != "ctfs"]:
        cols.append(f"{wall[other]:.2f} s ({spread[other]}; {wall[other] / wall['ctfs']:.2f}x)")
    cols.append(f"{human(ct['bytes'])}, {ct['bytes'] / max(ct['steps'], 1):.1f} B/step")
    for other in [k for k in cells if k != "ctfs"]:
        c = cells[other]
        cols.append(f"{human(c['bytes'])}, {c['bytes'] / max(c['steps'], 1):.0f} B/step "
                    f"({c['bytes'] / max(ct['bytes'], 1):.0f}x)")
    compress = statistics.median(ct["compress"])
    cols.append(f"{compress:.2f} s")
    cols.append(" / ".join(f"{max(c['rss']) / 1024:.0f}" for c in cells.values()) + " MB")
    return cols


def header(kinds) -> list[str]:
    others = [k for k, _, _ in kinds if k != "ctfs"]
    return (["program (size)", "ctfs wall"] + [f"{k} wall (x ctfs)" for k in others]
            + ["trace.ct"] + [f"{k} trace (x trace.ct)" for k in others]
            + ["compressing", "peak RSS " + " / ".join(k for k, _, _ in kinds)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", nargs="+", default=[sys.executable])
    p.add_argument("--baseline", nargs="+", default=[],
                   help="an interpreter with an older recorder build ('before'), one per --python")
    p.add_argument("--programs", nargs="+")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="the programs' quick sizes")
    p.add_argument("--sizes", nargs="+", default=[], metavar="NAME=N",
                   help="sizes for these programs instead (fib=27 objects=20000)")
    p.add_argument("--variants", nargs="+", choices=VARIANTS,
                   help="variants to run (ctfs always runs; default: all there are)")
    p.add_argument("--update", action="store_true", help=f"write {RESULTS}")
    args = p.parse_args()
    sizes = parse_sizes(args.sizes)
    lines = []
    for i, python in enumerate(args.python):
        version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        baseline = args.baseline[i] if i < len(args.baseline) else None
        kinds = variants(python, baseline, args.variants)
        cols = header(kinds)
        lines += [f"\n### Python {version}\n", "| " + " | ".join(cols) + " |",
                  "|" + "---|" * len(cols)]
        with tempfile.TemporaryDirectory() as tmp:
            for program in select(args.programs):
                if program.requires:
                    continue  # needs the bench venv's packages (bench/run.py)
                size = sizes.get(program.name) or program.size_for(args.quick)
                cells = measure(kinds, program, size, args.runs, Path(tmp))
                lines.append("| " + " | ".join(row(program.name, size, cells)) + " |")
                print(lines[-1], flush=True)
    text = ("## trace.ct against trace.json\n\n`python bench/formats.py "
            + " ".join(sys.argv[1:]) + "`: medians of " + str(args.runs)
            + " alternating runs (the first, warm-up run not counted), fastest-slowest in"
            + " brackets.\n"
            + "\n".join(lines) + "\n")
    print(text)
    if args.update:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
