"""The program keeps what is its own: its values are read without running their methods, and
it can still claim sys.monitoring's debugger, profiler and coverage ids."""

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


def test_the_program_can_claim_the_debugger_profiler_and_coverage_ids(tmp_path):
    program = PROGRAMS / "own_debugger.py"
    plain = run([sys.executable, str(program)])
    recorded = record(tmp_path / "t", [str(program)], format="json")
    assert recorded.returncode == plain.returncode == 0, recorded.stderr.decode()
    assert recorded.stdout == plain.stdout
