"""cibuildwheel's test-command: record the example with the just-installed wheel.

Runs as a plain script (``python {project}/smoke/wheel_check.py``) inside cibuildwheel's
test venv on every release platform, so it imports the checks by path, not as a package.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from smoke.checks import check_trace_folder  # noqa: E402

EXAMPLE = HERE.parent / "examples" / "python_script.py"
ARGS = ["first", "two words"]


def main() -> int:
    plain = subprocess.run([sys.executable, str(EXAMPLE), *ARGS], capture_output=True, text=True)
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace"
        rec = subprocess.run(
            [sys.executable, "-m", "codetracer_python_recorder", "--trace-dir", str(trace),
             str(EXAMPLE), *ARGS],
            capture_output=True, text=True,
        )
        if (rec.returncode, rec.stdout) != (plain.returncode, plain.stdout):
            print(f"recorded run differs: status {rec.returncode}\n{rec.stdout}\n{rec.stderr}")
            return 1
        check_trace_folder(trace, EXAMPLE, ARGS)
    print("wheel check: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
