"""The floor launcher really installs do-nothing callbacks for every recorder event.

Runs under a CPython >= 3.12 (sys.monitoring); skipped when none is installed.
"""
import subprocess
import sys
import textwrap

import pytest
from ctbench import pythons
from ctbench.modes import FLOOR_LAUNCHER


def _python312():
    if sys.version_info >= (3, 12):
        return sys.executable
    for version in pythons.DEFAULT_VERSIONS:
        found = pythons.interpreter(version)
        if found:
            return str(found)
    pytest.skip("no CPython >= 3.12 installed")


PROBE = textwrap.dedent("""
    import os, sys
    mon = sys.monitoring
    tool = next(t for t in range(6) if mon.get_tool(t) == "bench-floor")
    names = ["PY_START", "PY_RETURN", "PY_YIELD", "PY_RESUME", "PY_THROW", "PY_UNWIND",
             "LINE", "RAISE", "RERAISE", "EXCEPTION_HANDLED"]
    mask = 0
    for name in names:
        event = getattr(mon.events, name)
        mask |= event
        cb = mon.register_callback(tool, event, None)  # returns the callback it replaces
        assert cb is not None and cb() is None, name
        mon.register_callback(tool, event, cb)
    assert mon.get_events(tool) == mask, (mon.get_events(tool), mask)
    assert __name__ == "__main__"
    assert sys.path[0] == os.path.dirname(os.path.abspath(__file__))
    print("OK", sys.argv[1:])
""")


def test_floor_launcher_installs_callbacks_and_runs_like_python(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    out = subprocess.run([_python312(), str(FLOOR_LAUNCHER), str(probe), "a", "--flag"],
                         capture_output=True, text=True, cwd="/", timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "OK ['a', '--flag']"


def test_counting_mode_counts_events(tmp_path):
    script = tmp_path / "loop.py"
    script.write_text("def f(x):\n    return x + 1\n\nfor i in range(1000):\n    f(i)\n")
    count = tmp_path / "count"
    env = {"BENCH_FLOOR_COUNT": str(count), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([_python312(), str(FLOOR_LAUNCHER), str(script)], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    total, user = map(int, count.read_text().split())
    # per call at least PY_START, LINE, PY_RETURN, plus the loop's own LINE events
    assert user >= 4 * 1000
    assert total >= user
