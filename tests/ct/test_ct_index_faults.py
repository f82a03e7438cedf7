"""The index never loses a row: ``ct index --rebuild`` keeps traces recorded with ``-o`` (even
when the old index cannot be read at all) and rows whose folder is gone; a rebuild that cannot
finish (disk full) changes nothing; a full disk is never answered with "rebuild"; a deleted
``-wal`` is named; a source copy that fails leaves no cut-short file in ``files/``; a folder
holding no trace is refused. Disk-full cases use a small tmpfs mounted by the test as root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ct_helpers import (
    ct_env_fixture,  # noqa: F401 (pytest fixtures)
    make_trace,
    recorder_py_fixture,  # noqa: F401
    run_ct,
)


def _list(env) -> list[dict]:
    r = run_ct(["list", "--json"], env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _import(env, *folders) -> subprocess.CompletedProcess:
    r = run_ct(["index", "--import", *map(str, folders)], env=env)
    assert r.returncode == 0, r.stderr
    return r


def _data(env) -> Path:
    return Path(env["CODETRACER_DATA_DIR"])


@pytest.fixture
def small_disk(tmp_path):
    """Mount a 2 MiB tmpfs (root only); yields (mount point, fill) where fill() takes all the
    free space but ``leave`` bytes and returns the filler file."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    point = tmp_path / "disk"
    point.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(point)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")

    def fill(leave: int = 0) -> Path:
        filler = point / "filler"
        st = os.statvfs(point)
        size = max(0, st.f_bavail * st.f_frsize - leave)
        with filler.open("wb", buffering=0) as fh:
            try:
                fh.write(b"\0" * size)
                while not leave:  # to the last block
                    fh.write(b"\0" * 512)
            except OSError:
                pass
        return filler

    try:
        yield point, fill
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


# --- rebuild ---------------------------------------------------------------------------
def test_rebuild_keeps_o_traces_even_when_the_old_index_is_unreadable(ct_env, tmp_path):
    inside = make_trace(_data(ct_env) / "traces" / "20261123T000000Z-aaaa", program="/p/in.py")
    outside = make_trace(tmp_path / "elsewhere", program="/p/out.py")
    _import(ct_env, inside, outside)
    db = _data(ct_env) / "trace_index.db"
    db.write_bytes(b"this is not an sqlite database" * 100)  # nothing can be salvaged from it
    r = run_ct(["index", "--rebuild"], env=ct_env)
    assert r.returncode == 0, r.stderr
    assert sorted(row["program"] for row in _list(ct_env)) == ["/p/in.py", "/p/out.py"]


def test_rebuild_keeps_rows_whose_folder_is_gone_with_their_ids(ct_env, tmp_path):
    a = make_trace(tmp_path / "a", program="/p/a.py")
    b = make_trace(tmp_path / "b", program="/p/b.py")
    c = make_trace(_data(ct_env) / "traces" / "20261123T000000Z-cccc", program="/p/c.py")
    _import(ct_env, a, b, c)
    before = {row["program"]: row for row in _list(ct_env)}
    a.rename(tmp_path / "a-unmounted")  # e.g. a removable disk that is not plugged in
    r = run_ct(["index", "--rebuild"], env=ct_env)
    assert r.returncode == 0, r.stderr
    assert f"kept the old row of {a}" in r.stderr
    after = {row["program"]: row for row in _list(ct_env)}
    assert sorted(after) == ["/p/a.py", "/p/b.py", "/p/c.py"]
    for name, row in before.items():
        assert after[name]["id"] == row["id"]
        assert after[name]["steps"] == row["steps"] and after[name]["args"] == row["args"]


def test_rebuild_that_cannot_finish_changes_nothing(ct_env, tmp_path, small_disk):
    point, fill = small_disk
    ct_env["CODETRACER_DATA_DIR"] = str(point / "data")
    folders = [make_trace(tmp_path / f"t{i}", program=f"/p/{i}.py" + "x" * 500)
               for i in range(40)]
    _import(ct_env, *folders)
    db = point / "data" / "trace_index.db"
    before = db.read_bytes()
    entries = sorted(p.name for p in db.parent.iterdir())
    filler = fill()
    r = run_ct(["index", "--rebuild"], env=ct_env)
    assert r.returncode == 10, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert "could not finish" in r.stderr and "is full" in r.stderr
    assert "unchanged" in r.stderr
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == entries  # nothing left behind
    filler.unlink()
    assert len(_list(ct_env)) == 40
    r = run_ct(["index", "--rebuild"], env=ct_env)
    assert r.returncode == 0, r.stderr
    assert len(_list(ct_env)) == 40


def test_full_disk_advice_is_free_space_not_rebuild(ct_env, tmp_path, small_disk):
    point, fill = small_disk
    ct_env["CODETRACER_DATA_DIR"] = str(point / "data")
    _import(ct_env, *[make_trace(tmp_path / f"t{i}", program=f"/p/{i}.py") for i in range(3)])
    fill()
    new = [make_trace(tmp_path / f"n{i}", program=f"/p/n{i}.py" + "x" * 3000)
           for i in range(20)]
    r = run_ct(["index", "--import", *map(str, new)], env=ct_env)
    assert r.returncode == 10, r.stderr
    assert "full" in r.stderr and "free space" in r.stderr
    assert "--rebuild" not in r.stderr  # a rebuild on a full disk could only make it worse
    (point / "filler").unlink()
    assert len(_list(ct_env)) >= 3


# --- a deleted -wal ----------------------------------------------------------------------
def test_deleted_wal_is_named_and_rebuild_recovers(ct_env, tmp_path):
    folder = make_trace(_data(ct_env) / "traces" / "20261123T000000Z-aaaa", program="/p/a.py")
    assert run_ct(["list"], env=ct_env).returncode == 0  # creates the index
    db = _data(ct_env) / "trace_index.db"
    # a writer that dies before its log is checkpointed (a killed ct), then the log is deleted
    code = (
        "import os, sqlite3, sys; db = sqlite3.connect(sys.argv[1], isolation_level=None);"
        "db.execute(\"INSERT INTO traces (program, trace_dir, recorded_at) VALUES"
        " ('/p/a.py', ?, '2026-11-23T00:00:00Z')\", (sys.argv[2],)); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code, str(db), str(folder)], check=True)
    wal = Path(str(db) + "-wal")
    assert wal.exists() and Path(str(db) + "-shm").exists()
    wal.unlink()
    for args in (["list"], ["index", "--import", str(folder)]):
        r = run_ct(args, env=ct_env)
        assert r.returncode == 10, r.stderr
        assert r.stderr.count("\n") == 1, r.stderr
        assert "trace_index.db-wal was deleted" in r.stderr and "ct index --rebuild" in r.stderr
    doctor = run_ct(["doctor"], env=ct_env)
    line = [x for x in doctor.stdout.splitlines() if "] index:" in x][0]
    assert doctor.returncode == 10 and line.startswith("[FAIL]") and "-wal was deleted" in line
    r = run_ct(["index", "--rebuild"], env=ct_env)
    assert r.returncode == 0, r.stderr
    assert [row["program"] for row in _list(ct_env)] == ["/p/a.py"]


# --- source copies -------------------------------------------------------------------------
def test_source_copy_on_a_full_disk_is_an_error_and_leaves_no_short_file(ct_env, tmp_path,
                                                                           small_disk):
    point, fill = small_disk
    source = tmp_path / "big.py"
    source.write_text("# padding\n" * 150_000)  # 1.5 MB
    folder = make_trace(point / "trace", program=str(source), source=source)
    fill(leave=256 * 1024)
    r = run_ct(["index", "--import", str(folder)], env=ct_env)
    assert r.returncode == 10, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert f"cannot copy the source {source}" in r.stderr and "free space" in r.stderr
    assert not [p for p in (folder / "files").rglob("*") if p.is_file()]  # no short copy
    assert _list(ct_env) == []
    (point / "filler").unlink()
    _import(ct_env, folder)
    copy = folder / "files" / source.relative_to("/")
    assert copy.read_bytes() == source.read_bytes()


def test_record_source_copy_on_a_full_disk_is_not_trace_saved(ct_env, recorder_py, tmp_path,
                                                              small_disk):
    point, _fill = small_disk
    app = tmp_path / "app.py"
    # the program fills the disk holding its trace folder, leaving room for the trace only
    app.write_text(
        "import os, sys\n"
        f"st = os.statvfs({str(point)!r})\n"
        f"with open({str(point / 'filler')!r}, 'wb') as fh:\n"
        "    fh.write(b'\\0' * max(0, st.f_bavail * st.f_frsize - 600 * 1024))\n"
        "print('done')\n"
        + "# padding\n" * 150_000
    )
    out = point / "trace"
    r = run_ct(["record", "-o", out, app], cwd=tmp_path,
               env={**ct_env, "CODETRACER_PYTHON_INTERPRETER": recorder_py})
    assert (r.returncode, r.stdout) == (0, "done\n"), r.stderr
    assert (out / "trace_metadata.json").is_file(), r.stderr  # the recording itself finished
    assert "trace saved" not in r.stderr
    assert f"cannot copy the source {app}" in r.stderr and f"ct index --import {out}" in r.stderr
    files = [p for p in (out / "files").rglob("*") if p.is_file()] if (out / "files").exists() \
        else []
    assert files == [], files
    assert _list(ct_env) == []


# --- not a trace ----------------------------------------------------------------------------
@pytest.mark.parametrize("content", ["empty", "junk", "metadata-only", "nested-trace"])
def test_import_refuses_a_folder_holding_no_trace(ct_env, tmp_path, content):
    folder = tmp_path / "f"
    folder.mkdir()
    if content == "junk":
        (folder / "notes.txt").write_text("hello")
        (folder / "files").mkdir()
    elif content == "metadata-only":
        (folder / "trace_metadata.json").write_text(json.dumps({"program": "/p/a.py",
                                                                "args": [], "workdir": "/"}))
    elif content == "nested-trace":  # the trace is one level down: not this folder
        make_trace(folder / "inner")
    r = run_ct(["index", "--import", str(folder)], env=ct_env)
    assert r.returncode == 20, r.stderr
    assert r.stderr.count("\n") == 1 and "is not a trace folder" in r.stderr, r.stderr
    assert _list(ct_env) == []
