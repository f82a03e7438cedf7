"""``ct doctor`` finds what other commands would trip over: a corrupt index (SQLite's own
integrity check) and unfinished trace folders left by killed recordings."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from ct_helpers import ct_env_fixture, recorder_py_fixture, run_ct  # noqa: F401 (fixtures)


def _doctor(ct_env, recorder_py):
    return run_ct(["doctor"], env={**ct_env, "CODETRACER_PYTHON_INTERPRETER": recorder_py})


def _index_with_rows(data: Path, rows: int) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    db = data / "trace_index.db"
    assert run_ct(["list"], env={"CODETRACER_DATA_DIR": str(data),
                                 "PATH": "/usr/bin:/bin"}).returncode == 0
    con = sqlite3.connect(db)
    with con:
        for i in range(rows):
            con.execute("INSERT INTO traces (program, trace_dir, recorded_at) VALUES (?, ?, ?)",
                        (f"app{i}.py" + "x" * 300, f"/nowhere/{i}", "2026-01-01T00:00:00Z"))
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return db


def test_doctor_runs_the_integrity_check(ct_env, recorder_py):
    data = Path(ct_env["CODETRACER_DATA_DIR"])
    db = _index_with_rows(data, 400)
    good = _doctor(ct_env, recorder_py)
    assert "integrity check passed" in good.stdout, good.stdout + good.stderr
    raw = bytearray(db.read_bytes())
    page = 4096
    for offset in range(3 * page, len(raw) - page, 5 * page):  # damage some table pages
        raw[offset + 100:offset + 400] = b"\xa5" * 300
    db.write_bytes(bytes(raw))
    bad = _doctor(ct_env, recorder_py)
    assert bad.returncode == 10
    line = [x for x in bad.stdout.splitlines() if "] index:" in x][0]
    assert line.startswith("[FAIL]") and "corrupt" in line and "ct index --rebuild" in line, line


def test_doctor_lists_leftover_staging_and_empty_folders(ct_env, recorder_py, tmp_path):
    traces = Path(ct_env["CODETRACER_DATA_DIR"]) / "traces"
    traces.mkdir(parents=True)
    proc = subprocess.Popen(["true"])  # a pid that has surely exited
    proc.wait()
    (traces / f".20260101T000000Z-dead.staging-{proc.pid}-abcd").mkdir()
    (traces / "20260101T000000Z-dead").mkdir()
    (traces / "20260101T000001Z-done").mkdir()
    (traces / "20260101T000001Z-done" / "trace_metadata.json").write_text("{}")
    r = _doctor(ct_env, recorder_py)
    line = [x for x in r.stdout.splitlines() if "leftovers" in x][0]
    assert line.startswith("[note]") and "2 unfinished trace folder(s)" in line, line
    assert ".staging-" in line and "20260101T000000Z-dead" in line and "done" not in line
