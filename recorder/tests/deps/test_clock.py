"""The clock category: off by default; with ``--deps record,clock`` a replay sees the same
time, dates, random numbers, uuid4 and os.urandom bytes."""

from __future__ import annotations

import textwrap

from conftest import load_capture, needs_recorder, run_recorder

pytestmark = needs_recorder

PROGRAM = textwrap.dedent('''
    import os, random, time, uuid
    from datetime import date, datetime, timezone
    print(time.time(), time.time_ns())
    print(datetime.now(), datetime.now(timezone.utc), date.today())
    print(random.random(), random.randint(1, 10**9), random.choice("abcdefgh"))
    print(uuid.uuid4(), os.urandom(8).hex())
''')


def test_clock_replays_the_same_values(tmp_path):
    prog = tmp_path / "clock.py"
    prog.write_text(PROGRAM, encoding="utf-8")
    rec = run_recorder(["--deps", "record,clock", "--deps-only", "--trace-dir", "t1", str(prog)],
                       cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    keys = [c["key"] for c in load_capture(tmp_path / "t1")]
    assert keys.count("uuid.uuid4") == 1 and keys.count("os.urandom 8") == 1
    assert "os.urandom 16" not in keys  # uuid4's own urandom is not a second record
    again = run_recorder(["--deps", "record,clock", "--deps-only", "--trace-dir", "t2", str(prog)],
                         cwd=tmp_path)
    assert again.stdout != rec.stdout  # the values do change from run to run
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog)], cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout
    assert rep.stderr == ""


def test_clock_is_off_by_default(tmp_path):
    prog = tmp_path / "clock.py"
    prog.write_text(PROGRAM, encoding="utf-8")
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog)],
                       cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert load_capture(tmp_path / "t1") == []
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog)], cwd=tmp_path)
    assert rep.stdout != rec.stdout
