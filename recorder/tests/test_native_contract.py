"""The native module's contract: its stub, its error codes and statuses, and a Python error
inside the recorder reported as one line with status 70."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from rt_helpers import requires_recorder

pytestmark = requires_recorder

RECORDER = Path(__file__).resolve().parents[1]
PACKAGE = RECORDER / "python" / "codetracer_python_recorder"


def test_every_name_in_the_stub_exists():
    from codetracer_python_recorder import _native

    stub = ast.parse((PACKAGE / "_native.pyi").read_text())
    names = [n.name for n in stub.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    names += [n.target.id for n in stub.body if isinstance(n, ast.AnnAssign)]
    assert len(names) > 15
    assert [n for n in names if not hasattr(_native, n)] == []
    public = {n for n in dir(_native) if not n.startswith("_")} | {"__version__"}
    assert public - set(names) == set(), "names of _native missing from _native.pyi"


def test_every_error_code_is_raised_somewhere():
    """A code in the table that nothing raises is a promise the recorder never keeps."""
    from codetracer_python_recorder import _native

    table = re.findall(r"^\s*(\w+) => \"(ERR_\w+)\", \w+;$",
                       (RECORDER / "src" / "errors.rs").read_text(), re.M)
    assert {code for _, code in table} == set(_native.ERROR_CODES)
    rust = "\n".join(
        line for path in (RECORDER / "src").rglob("*.rs")
        for line in path.read_text().splitlines() if '=> "ERR_' not in line
    )
    python = "\n".join(p.read_text() for p in PACKAGE.rglob("*.py"))
    unused = [code for variant, code in table
              if f"ErrorCode::{variant}" not in rust and f'"{code}"' not in python]
    assert unused == []


def test_exit_statuses_are_the_documented_ones():
    from codetracer_python_recorder import _native
    from codetracer_python_recorder.errors import EXIT_STATUS

    assert EXIT_STATUS is _native.EXIT_STATUS
    assert EXIT_STATUS == {"usage": 2, "environment": 10, "target": 20, "internal": 70}
    assert set(_native.ERROR_CODES.values()) <= set(EXIT_STATUS)


BROKEN_MONITORING = """
import sys
real = sys.monitoring

class Broken:
    def __getattr__(self, name):
        return getattr(real, name)

    def register_callback(self, tool, event, func):
        if func is not None:
            raise ValueError("injected: no callbacks today")
        return real.register_callback(tool, event, func)

sys.monitoring = Broken()
from codetracer_python_recorder.cli import main
main(sys.argv[1:])
"""


def test_failing_monitoring_install_is_one_line_and_status_70(tmp_path):
    script = tmp_path / "app.py"
    script.write_text("print('ran')\n")
    proc = subprocess.run(
        [sys.executable, "-c", BROKEN_MONITORING, "--trace-dir", str(tmp_path / "t"), str(script)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 70, proc.stderr
    assert proc.stdout == ""  # the program did not run
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "[ERR_PYTHON]" in proc.stderr
    assert "ValueError: injected: no callbacks today" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_tool_id_is_given_back_after_a_failed_install(tmp_path):
    """The library API can start again once sys.monitoring works: nothing of ours is left."""
    program = BROKEN_MONITORING.replace(
        "from codetracer_python_recorder.cli import main\nmain(sys.argv[1:])\n",
        """
import codetracer_python_recorder as r
try:
    r.start(sys.argv[1])
except r.InternalError as err:
    print(err.code)
sys.monitoring = real
print([t for t in range(6) if real.get_tool(t) is not None])
r.start(sys.argv[2])
r.stop()
print("ok")
""")
    proc = subprocess.run([sys.executable, "-c", program, str(tmp_path / "a"), str(tmp_path / "b")],
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.split("\n")[:3] == ["ERR_PYTHON", "[]", "ok"], proc.stderr
