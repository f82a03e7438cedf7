"""``ct record`` when the output folder or the target is unusual: nothing is lost, nothing
half-written is indexed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from ct_helpers import ct_env_fixture, recorder_py_fixture, run_ct  # noqa: F401 (fixtures)


def _env(ct_env, recorder_py) -> dict[str, str]:
    return {**ct_env, "CODETRACER_PYTHON_INTERPRETER": recorder_py}


def _listed(ct_env) -> list[str]:
    r = run_ct(["list", "--json"], env=ct_env)
    assert r.returncode == 0, r.stderr
    return [row["trace_dir"] for row in json.loads(r.stdout)]


def test_output_is_a_symlink_to_an_empty_folder(ct_env, recorder_py, tmp_path):
    (tmp_path / "app.py").write_text("print('hi')\n")
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    r = run_ct(["record", "-o", tmp_path / "link", "app.py"], env=_env(ct_env, recorder_py),
               cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    assert "trace saved to" in r.stderr
    assert (tmp_path / "link").is_symlink()
    assert json.loads((real / "trace_metadata.json").read_text())["exit_status"] == 0
    assert len(_listed(ct_env)) == 1
    assert not [p for p in tmp_path.iterdir() if ".staging-" in p.name]


@pytest.fixture
def empty_mount(tmp_path):
    """A small tmpfs mounted by the test (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    point = tmp_path / "mnt"
    point.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(point)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_output_is_an_empty_mount_point(ct_env, recorder_py, tmp_path, empty_mount):
    (tmp_path / "app.py").write_text("print('hi')\n")
    assert os.path.ismount(empty_mount)
    r = run_ct(["record", "-o", empty_mount, "app.py"], env=_env(ct_env, recorder_py),
               cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    assert "trace saved to" in r.stderr
    assert (empty_mount / "trace_metadata.json").is_file()
    assert _listed(ct_env) == [str(empty_mount)]
    assert not [p for p in tmp_path.iterdir() if ".staging-" in p.name]


def test_dash_m_no_such_module_indexes_nothing(ct_env, recorder_py, tmp_path):
    plain = subprocess.run([recorder_py, "-m", "no_such_module_x"], cwd=tmp_path,
                           capture_output=True, text=True)
    r = run_ct(["record", "-o", tmp_path / "t", "-m", "no_such_module_x"],
               env=_env(ct_env, recorder_py), cwd=tmp_path)
    assert r.returncode == plain.returncode == 1
    assert r.stderr.startswith(plain.stderr)  # Python's line, then ct's "no trace" line
    assert _listed(ct_env) == []
    assert not Path(tmp_path / "t").exists()
