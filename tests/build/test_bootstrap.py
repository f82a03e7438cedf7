"""ct_bootstrap.py: site-dir choice, sys.path handling and the too-old error."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess

import pytest
from build_helpers import interpreter, make_wheel

from ctbuild import config, stage

spec = importlib.util.spec_from_file_location(
    "ct_bootstrap", config.COMMON_DIR / "ct_bootstrap.py")
bootstrap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bootstrap)

ABI3 = {"wheels": [{"site_dir": "site-cp312-abi3", "requires_python": ">=3.12",
                    "tags": ["cp312-abi3-manylinux2014_x86_64"]}]}


def test_abi3_serves_later_versions_not_earlier():
    assert bootstrap.choose_site_dir(ABI3, (3, 12, 1), "cpython") == "site-cp312-abi3"
    assert bootstrap.choose_site_dir(ABI3, (3, 13, 0), "cpython") == "site-cp312-abi3"
    assert bootstrap.choose_site_dir(ABI3, (3, 11, 7), "cpython") is None
    assert bootstrap.choose_site_dir(ABI3, (3, 13, 0), "pypy") is None


def test_exact_version_beats_abi3():
    manifest = {"wheels": ABI3["wheels"] + [
        {"site_dir": "site-cp313-cp313", "requires_python": ">=3.12",
         "tags": ["cp313-cp313-manylinux2014_x86_64"]}]}
    assert bootstrap.choose_site_dir(manifest, (3, 13, 0), "cpython") == "site-cp313-cp313"
    assert bootstrap.choose_site_dir(manifest, (3, 12, 1), "cpython") == "site-cp312-abi3"


@pytest.fixture
def staged(tmp_path):
    out = tmp_path / "resources" / "python"
    stage.stage(make_wheel(tmp_path / "wheels").parent, out, target_os="linux")
    return out


def test_bootstrap_runs_recorder_with_site_dir_first(staged, python, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([str(python), str(staged / "ct_bootstrap.py"), "script.py", "--x"],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 3, out.stderr  # the recorder's status is passed through
    seen = json.loads(out.stdout)
    assert seen["path0"] == str(staged / "site-cp312-abi3")
    assert seen["argv"] == ["script.py", "--x"]
    assert seen["pythonpath"] is None


@pytest.mark.parametrize("version", ["3.11", "3.8"])
def test_too_old_interpreter_gets_one_line_and_status_10(staged, version):
    old = interpreter(version)
    if old is None:
        pytest.skip(f"Python {version} not installed")
    out = subprocess.run([str(old), str(staged / "ct_bootstrap.py"), "x.py"],
                         capture_output=True, text=True)
    assert out.returncode == 10
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs Python 3.12 or newer" in lines[0]
    assert str(old) in lines[0] or version in lines[0]


def test_no_matching_site_dir_is_status_10(tmp_path, python):
    out = tmp_path / "resources" / "python"
    stage.stage(make_wheel(tmp_path / "w", tag="cp314-cp314-manylinux_2_17_x86_64").parent,
                out, target_os="linux")
    res = subprocess.run([str(python), str(out / "ct_bootstrap.py"), "x.py"],
                         capture_output=True, text=True)
    assert res.returncode == 10
    assert "no bundled recorder matches" in res.stderr
