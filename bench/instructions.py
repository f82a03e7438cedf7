#!/usr/bin/env python3
"""Instructions a recording costs, counted by callgrind: a measure load cannot move.

    python bench/instructions.py --python PY --baseline PY [--programs NAME ...] [--scale F]

Wall times on a shared 2-core machine move by 2x with the load (`bench/formats.py` alternates
variants to be fair, but cannot make a busy machine idle). Instruction counts do not: the
same run gives the same count within a fraction of a percent. Each program (at its quick
size times `--scale`) is recorded once under `valgrind --tool=callgrind` by each interpreter
(each with a recorder installed: this build, and `--baseline`, an older one in its own
default format), and the count is split into

* `compress`: instructions on the compressing thread (zstd, off the program's path when a
  second core is free), and
* `main`: the rest: the program, the interpreter and the recorder's callbacks, which is what
  the program waits for;

the ratio of `main` to the baseline's is the figure to hold against "no slower than before".
Valgrind runs threads one at a time, so this says nothing about how well the two overlap:
that is for `formats.py` on an idle machine. Needs `valgrind` (Debian package `valgrind`).
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ctbench.programs import select  # noqa: E402

THREAD_ENTRY = "Thread>::new::thread_start"  # std's entry of a spawned Rust thread (zstd's)


def counts(python: str, script: Path, size: int, workdir: Path) -> tuple[int, int]:
    """(all instructions, those under spawned Rust threads) of one recording."""
    out = workdir / "callgrind.out"
    trace = workdir / "trace"
    shutil.rmtree(trace, ignore_errors=True)
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         python, "-m", "codetracer_python_recorder", "--trace-dir", str(trace),
         str(script), str(size)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=workdir,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{python} failed on {script.name}: {proc.stderr.strip()[-400:]}")
    total = int(re.search(r"Collected : (\d+)", proc.stderr).group(1))
    annotate = subprocess.run(["callgrind_annotate", "--inclusive=yes", str(out)],
                              capture_output=True, text=True, check=True).stdout
    threads = sum(int(line.split()[0].replace(",", "")) for line in annotate.splitlines()
                  if THREAD_ENTRY in line)
    out.unlink()
    return total, threads


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", required=True, help="interpreter with this build installed")
    ap.add_argument("--baseline", required=True, help="interpreter with the older build")
    ap.add_argument("--programs", nargs="+", metavar="NAME")
    ap.add_argument("--scale", type=float, default=0.25,
                    help="fraction of each program's quick size (valgrind is ~50x slower)")
    args = ap.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        print("valgrind not found: apt-get install valgrind", file=sys.stderr)
        return 2
    print(f"`python bench/instructions.py --python {args.python} --baseline {args.baseline}"
          f" --scale {args.scale}`\n")
    print("| program (size) | main, this build | main, baseline | x baseline "
          "| compress thread | all, this build |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="ct-instr-") as tmp:
        for program in select(args.programs):
            size = max(1, int(program.quick_size * args.scale))
            total, threads = counts(args.python, program.path, size, Path(tmp))
            base_total, base_threads = counts(args.baseline, program.path, size, Path(tmp))
            main_now, main_base = total - threads, base_total - base_threads
            print(f"| {program.name} ({size}) | {main_now / 1e6:.0f} M | {main_base / 1e6:.0f} M "
                  f"| {main_now / main_base:.2f}x | {threads / 1e6:.0f} M "
                  f"| {total / 1e6:.0f} M |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
