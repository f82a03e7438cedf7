"""Shim rendering, and the rendered POSIX shim run for real."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from build_helpers import interpreter, make_wheel

from ctbuild import shims, stage


def test_render_rejects_unknown_placeholders():
    assert shims.render("a @X@ b", {"X": "1"}) == "a 1 b"
    with pytest.raises(shims.TemplateError, match="@Y@"):
        shims.render("@X@ @Y@", {"X": "1"})


@pytest.mark.parametrize("target", ["linux", "macos", "windows"])
def test_render_all_targets(tmp_path, target):
    (path,) = shims.render_all(tmp_path, target_os=target, version="9.9.9")
    data = path.read_bytes()
    assert not re.search(rb"@[A-Z_]+@", data)
    assert b"9.9.9" in data
    if target == "windows":
        assert path.name == "ct-python-recorder.cmd"
        assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
        assert b"py.exe" in data
    else:
        assert path.name == "ct-python-recorder"
        assert os.access(path, os.X_OK)
        assert data.startswith(b"#!/bin/sh\n")
        rel = b"../resources" if target == "linux" else b"RES=$bindir/..\n"
        assert rel in data


@pytest.fixture
def bundle(tmp_path) -> Path:
    """A Linux bundle: bin/ct-python-recorder + resources/python with a fake recorder."""
    root = tmp_path / "bundle"
    stage.stage(make_wheel(tmp_path / "wheels").parent, root / "resources" / "python",
                target_os="linux")
    shims.render_all(root / "bin", target_os="linux", version="0.0.0")
    return root


@pytest.fixture
def tools_only_path(tmp_path) -> str:
    """A PATH with the utilities the shim uses but no python at all."""
    bindir = tmp_path / "tools-bin"
    bindir.mkdir()
    for tool in ("dirname", "readlink", "basename"):
        os.symlink(shutil.which(tool), bindir / tool)
    return str(bindir)


SELECTORS = ("CODETRACER_PYTHON_INTERPRETER", "PYTHON_EXECUTABLE", "PYTHON")


def run_shim(shim: Path, env_extra: dict[str, str], path: str | None = None,
             args: tuple[str, ...] = ("prog.py", "--format", "json")):
    env = {k: v for k, v in os.environ.items() if k not in SELECTORS and k != "PYTHONPATH"}
    if path is not None:
        env["PATH"] = path
    env.update(env_extra)
    return subprocess.run([str(shim), *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("variable", SELECTORS)
def test_shim_uses_each_variable(bundle, python, variable):
    out = run_shim(bundle / "bin" / "ct-python-recorder", {variable: str(python)})
    assert out.returncode == 3, out.stderr
    seen = json.loads(out.stdout)
    assert seen["exe"] == str(python)
    assert seen["argv"] == ["prog.py", "--format", "json"]  # verbatim
    assert seen["path0"].endswith("resources/python/site-cp312-abi3")
    assert seen["pythonpath"] is None  # environment untouched


def test_variable_order(bundle):
    py312, py313 = interpreter("3.12"), interpreter("3.13")
    if not (py312 and py313):
        pytest.skip("needs 3.12 and 3.13")
    out = run_shim(bundle / "bin" / "ct-python-recorder",
                   {"PYTHON": str(py312), "CODETRACER_PYTHON_INTERPRETER": str(py313)})
    assert json.loads(out.stdout)["version"] == [3, 13]


def test_python3_on_path_by_name(bundle, python, tools_only_path, tmp_path):
    venv_bin = tmp_path / "userbin"
    venv_bin.mkdir()
    os.symlink(python, venv_bin / "python3")
    out = run_shim(bundle / "bin" / "ct-python-recorder", {},
                   path=f"{venv_bin}:{tools_only_path}")
    assert out.returncode == 3, out.stderr
    assert json.loads(out.stdout)["exe"] == str(venv_bin / "python3")  # symlink not resolved


def test_variable_naming_a_command_on_path(bundle, python, tools_only_path, tmp_path):
    userbin = tmp_path / "userbin"
    userbin.mkdir()
    os.symlink(python, userbin / "mypython")
    out = run_shim(bundle / "bin" / "ct-python-recorder", {"PYTHON": "mypython"},
                   path=f"{userbin}:{tools_only_path}")
    assert out.returncode == 3, out.stderr


@pytest.mark.parametrize("value", ["/nonexistent/python3", "no-such-python-command"])
def test_broken_variable_is_an_error_naming_it(bundle, python, value):
    out = run_shim(bundle / "bin" / "ct-python-recorder",
                   {"CODETRACER_PYTHON_INTERPRETER": value, "PYTHON": str(python)})
    assert out.returncode == 10
    assert "CODETRACER_PYTHON_INTERPRETER" in out.stderr and value in out.stderr
    assert out.stdout == ""  # never falls through to the next candidate


def test_no_python_at_all_is_127(bundle, tools_only_path):
    out = run_shim(bundle / "bin" / "ct-python-recorder", {}, path=tools_only_path)
    assert out.returncode == 127
    assert "python3: command not found" in out.stderr


def test_too_old_python_is_refused(bundle):
    old = interpreter("3.11")
    if old is None:
        pytest.skip("Python 3.11 not installed")
    out = run_shim(bundle / "bin" / "ct-python-recorder", {"PYTHON": str(old)})
    assert out.returncode == 10
    assert "3.12" in out.stderr


def test_shim_through_a_symlink_finds_its_bundle(bundle, python, tmp_path):
    links = tmp_path / "links"
    links.mkdir()
    os.symlink(bundle / "bin" / "ct-python-recorder", links / "ct-python-recorder")
    out = run_shim(links / "ct-python-recorder", {"PYTHON": str(python)})
    assert out.returncode == 3, out.stderr


def test_missing_bundle_is_reported(tmp_path, python):
    (shim,) = shims.render_all(tmp_path / "bin", target_os="linux", version="0")
    out = run_shim(shim, {"PYTHON": str(python)})
    assert out.returncode == 10 and "bundled recorder not found" in out.stderr


def test_tilde_in_variable_is_expanded(bundle, python, tmp_path):
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    os.symlink(python, home / "bin" / "py")
    out = run_shim(bundle / "bin" / "ct-python-recorder",
                   {"HOME": str(home), "CODETRACER_PYTHON_INTERPRETER": "~/bin/py"})
    assert out.returncode == 3, out.stderr
