"""Registry of benchmark programs.

Each program is a plain script under `bench/programs/` taking one size argument, so every mode
(plain, floor, ours, upstream) runs the very same file the same way. `size` is tuned to run
0.2-1 s plain on the 2-core dev machine; `quick_size` keeps smoke runs short; `calib_size` is the
small size used to predict whether upstream fits its time budget; `versus_size` is where ours and
upstream race head to head (upstream runs ~5-20 s there; None: upstream cannot run it at all).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PROGRAMS_DIR = Path(__file__).resolve().parent.parent / "programs"


@dataclass(frozen=True)
class Program:
    name: str
    script: str
    size: int
    quick_size: int
    calib_size: int
    what: str
    versus_size: int | None = None
    requires: tuple[str, ...] = field(default=())

    @property
    def path(self) -> Path:
        return PROGRAMS_DIR / self.script

    def size_for(self, quick: bool) -> int:
        return self.quick_size if quick else self.size


PROGRAMS: tuple[Program, ...] = (
    Program("fib", "fib.py", 30, 20, 16, "recursive fib(n)", 24),
    Program("hanoi", "hanoi.py", 20, 12, 9, "recursive towers of Hanoi, n disks", 14),
    Program("objects", "objects.py", 120_000, 4_000, 1_000, "classes/dataclasses bank simulation",
            4_000),
    Program("generators", "generators.py", 600_000, 20_000, 3_000, "generator pipeline + send",
            15_000),
    Program("coroutines", "coroutines.py", 50_000, 2_000, 500, "asyncio producer/consumers",
            20_000),
    Program("numeric", "numeric.py", 25_000, 500, 100, "float n-body simulation", 150),
    Program("text", "text.py", 400_000, 5_000, 500, "char-by-char text loop", 2_000),
    Program("stdlib", "stdlib_heavy.py", 36_000, 2_000, 50, "json + re over records", 400),
    # upstream hangs on the threads program and needs over 20 s for one toolz test module
    Program("threads", "threads.py", 12_000, 500, 20, "4 worker threads, queue + lock"),
    Program("pkg_tests", "pkg_tests.py", 4, 1, 1, "pytest: toolz test modules (PyPI)",
            requires=("toolz==1.2.0", "pytest==9.2.0")),
)

#: Packages every bench venv gets, so all modes of one program import the same code.
PROGRAM_REQUIREMENTS: tuple[str, ...] = tuple(
    sorted({req for p in PROGRAMS for req in p.requires})
)


def select(names: list[str] | None) -> list[Program]:
    """Programs in registry order, filtered by name; unknown names are an error, not a no-op."""
    if not names:
        return list(PROGRAMS)
    known = {p.name: p for p in PROGRAMS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown program(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [p for p in PROGRAMS if p.name in names]
