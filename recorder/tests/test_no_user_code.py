"""No user code, ever: values of builtin subclasses are read without running their methods."""

from __future__ import annotations

import sys

import pytest
from rt_helpers import PROGRAMS, record, requires_recorder, run

pytestmark = requires_recorder
PROGRAM = PROGRAMS / "builtin_subclasses.py"


@pytest.mark.parametrize("fmt", ["ctfs", "json"])
def test_builtin_subclasses_never_run_their_methods(tmp_path, fmt):
    plain = run([sys.executable, str(PROGRAM)])
    assert plain.stdout == b"[]\n"  # the program itself calls none of them
    recorded = record(tmp_path / "t", [str(PROGRAM)], format=fmt)
    assert recorded.returncode == 0, recorded.stderr.decode()
    assert recorded.stdout == plain.stdout
