"""How each mode launches a program: the only place that knows the command lines.

plain     python PROGRAM SIZE
floor     python floor_launcher.py PROGRAM SIZE          (do-nothing sys.monitoring callbacks)
ours      python -m codetracer_python_recorder --trace-dir DIR PROGRAM SIZE   (trace.ct)
upstream  python -m codetracer_python_recorder --trace-dir DIR --format json PROGRAM SIZE,
          codetracer-python-recorder 0.3.0 from its own venv (its documented usage)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FLOOR_LAUNCHER = Path(__file__).resolve().parent / "floor_launcher.py"
RECORDER_MODULE = "codetracer_python_recorder"


@dataclass(frozen=True)
class Mode:
    name: str
    records: bool  # writes a trace folder whose size and events we report
    what: str

    def command(self, python: Path, script: Path, size: int, trace_dir: Path | None) -> list[str]:
        args = [str(script), str(size)]
        if self.name == "plain":
            return [str(python), *args]
        if self.name == "floor":
            return [str(python), str(FLOOR_LAUNCHER), *args]
        if self.name in ("ours", "upstream"):
            assert trace_dir is not None
            fmt = ["--format", "json"] if self.name == "upstream" else []  # ours: its default
            return [str(python), "-m", RECORDER_MODULE, "--trace-dir", str(trace_dir),
                    *fmt, *args]
        raise ValueError(f"unknown mode {self.name}")


MODES: tuple[Mode, ...] = (
    Mode("plain", False, "python PROGRAM"),
    Mode("floor", False, "do-nothing sys.monitoring callbacks (Python), same events as ours"),
    Mode("ours", True, "this repo's recorder, its default trace.ct"),
    Mode("upstream", True, "codetracer-python-recorder 0.3.0 from PyPI, --format json"),
)
MODE_NAMES = tuple(m.name for m in MODES)


def select(names: list[str] | None) -> list[Mode]:
    if not names:
        return list(MODES)
    unknown = [n for n in names if n not in MODE_NAMES]
    if unknown:
        raise SystemExit(f"unknown mode(s): {', '.join(unknown)}; known: {', '.join(MODE_NAMES)}")
    return [m for m in MODES if m.name in names]
