"""What the stable ABI costs the recorder: one abi3 build against a per-version build.

    python bench/abi3_cost.py [--python 3.12] [--runs 5] [--programs objects coroutines ...]

Builds the recorder twice into throwaway venvs (default features = `abi3-py312`; and
`--no-default-features`, a build for that interpreter only), records each benchmark program
with both, alternating run by run, and prints the median wall time of each and their ratio.
With valgrind installed it also counts instructions of one run each (steadier than time).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROGRAMS = REPO / "bench" / "programs"
SIZES = {"fib": "22", "objects": "2000", "coroutines": "10000", "generators": "8000",
         "numeric": "80", "text": "1000"}


def _pyenv_python(version: str) -> Path:
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout
    found = sorted(Path(root.strip(), "versions").glob(f"{version}*/bin/python{version}"))
    if not found:
        sys.exit(f"abi3_cost: no pyenv Python {version}; install it or pass --python")
    return found[-1]


def _build(base: Path, venv: Path, abi3: bool) -> Path:
    """A venv with the recorder installed from a wheel of its own (an editable install would
    put both builds' modules side by side in recorder/python, and the import system would
    pick the per-version one for both)."""
    subprocess.run([str(base), "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "maturin"], check=True)
    wheels = venv / "wheels"
    args = [str(venv / "bin" / "maturin"), "build", "--release", "-q", "-i", str(base),
            "-o", str(wheels)]
    if not abi3:
        args.append("--no-default-features")
    env = {**os.environ, "CARGO_TARGET_DIR": str(venv / "target"), "PYO3_PYTHON": str(base)}
    subprocess.run(args, cwd=REPO / "recorder", env=env, check=True)
    (wheel,) = wheels.glob("*.whl")
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True)
    return py


def _record(py: Path, program: str, trace_dir: Path) -> float:
    shutil.rmtree(trace_dir, ignore_errors=True)
    argv = [str(py), "-m", "codetracer_python_recorder", "--trace-dir", str(trace_dir),
            str(PROGRAMS / f"{program}.py"), SIZES[program]]
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def _instructions(py: Path, program: str, trace_dir: Path) -> int | None:
    if not shutil.which("valgrind"):
        return None
    out = trace_dir.with_suffix(".cg")
    shutil.rmtree(trace_dir, ignore_errors=True)
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    proc = subprocess.run([*argv, str(py), "-m", "codetracer_python_recorder", "--trace-dir",
                           str(trace_dir), str(PROGRAMS / f"{program}.py"), SIZES[program]],
                          capture_output=True, text=True)
    shutil.rmtree(trace_dir, ignore_errors=True)
    if proc.returncode != 0:
        sys.exit(f"abi3_cost: recording {program} under valgrind failed:\n{proc.stderr[-2000:]}")
    found = re.search(r"refs:\s+([\d,]+)", proc.stderr)
    return int(found.group(1).replace(",", "")) if found else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", default="3.12")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--programs", nargs="+", default=list(SIZES), choices=list(SIZES))
    args = p.parse_args()
    base = _pyenv_python(args.python)
    with tempfile.TemporaryDirectory(prefix="abi3-cost-") as tmp:
        tmp = Path(tmp)
        builds = {"abi3": _build(base, tmp / "abi3", True),
                  "per-version": _build(base, tmp / "native", False)}
        for name, py in builds.items():
            native = subprocess.run([str(py), "-c", "import codetracer_python_recorder._native "
                                     "as n; print(n.__file__)"], capture_output=True, text=True)
            print(f"{name}: {native.stdout.strip()}")
        print(f"Python {args.python}: median wall of {args.runs} runs, alternating builds")
        print("| program (size) | abi3 | per-version | abi3 / per-version | instructions abi3 / "
              "per-version |")
        print("|---|---|---|---|---|")
        for program in args.programs:
            walls = {name: [] for name in builds}
            for _ in range(args.runs):
                for name, py in builds.items():
                    walls[name].append(_record(py, program, tmp / "trace"))
            med = {name: statistics.median(w) for name, w in walls.items()}
            ins = {name: _instructions(py, program, tmp / "trace") for name, py in builds.items()}
            ratio_ins = (f"{ins['abi3'] / ins['per-version']:.3f}"
                         if all(ins.values()) else "valgrind not installed")
            print(f"| {program} ({SIZES[program]}) | {med['abi3']:.3f} s | "
                  f"{med['per-version']:.3f} s | {med['abi3'] / med['per-version']:.3f} | "
                  f"{ratio_ins} |", flush=True)


if __name__ == "__main__":
    main()
