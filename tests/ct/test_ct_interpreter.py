"""Interpreter discovery with real interpreters (pyenv 3.11/3.12/3.13) and real venvs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ct_helpers import (
    PY311,
    PY312,
    PY313,
    ct_env_fixture,  # noqa: F401 (pytest fixtures)
    run_ct,
)

from ct import interpreter

needs_pythons = pytest.mark.skipif(not (PY311 and PY312 and PY313), reason="pyenv 3.11.7/3.12.1/3.13.0 not installed")


def _link_dir(tmp_path: Path, name: str, links: dict[str, Path]) -> Path:
    d = tmp_path / name
    d.mkdir()
    for link, target in links.items():
        (d / link).symlink_to(target)
    return d


def _doctor_interpreter_line(env) -> str:
    r = run_ct(["doctor"], env=env)
    lines = [ln for ln in r.stdout.splitlines() if "interpreter:" in ln]
    assert lines, r.stdout + r.stderr
    return lines[0]


@needs_pythons
@pytest.mark.parametrize("var", interpreter.ENV_VARS)
def test_each_variable_is_used(ct_env, tmp_path, var):
    ct_env[var] = str(PY313)
    line = _doctor_interpreter_line(ct_env)
    assert f"{PY313} (from {var}), Python 3.13.0" in line


@needs_pythons
def test_variable_priority(ct_env):
    ct_env.update(CODETRACER_PYTHON_INTERPRETER=str(PY313), PYTHON_EXECUTABLE=str(PY312), PYTHON=str(PY311))
    assert interpreter.find(ct_env) == (str(PY313), "CODETRACER_PYTHON_INTERPRETER")
    del ct_env["CODETRACER_PYTHON_INTERPRETER"]
    assert interpreter.find(ct_env) == (str(PY312), "PYTHON_EXECUTABLE")
    del ct_env["PYTHON_EXECUTABLE"]
    assert interpreter.find(ct_env) == (str(PY311), "PYTHON")


@needs_pythons
def test_variable_may_name_a_command_on_path(ct_env, tmp_path):
    d = _link_dir(tmp_path, "bin", {"mypython": PY313})
    ct_env["PATH"] = f"{d}{os.pathsep}{ct_env['PATH']}"
    ct_env["PYTHON"] = "mypython"
    assert interpreter.find(ct_env) == (str(d / "mypython"), "PYTHON")


@needs_pythons
def test_path_order_python3_then_python(ct_env, tmp_path):
    first = _link_dir(tmp_path, "first", {"python": PY312})
    second = _link_dir(tmp_path, "second", {"python3": PY313})
    ct_env["PATH"] = f"{first}{os.pathsep}{second}"
    # python3 anywhere on PATH beats python earlier on PATH (the documented order).
    line = _doctor_interpreter_line(ct_env)
    assert f"{second / 'python3'} (from PATH (python3)), Python 3.13.0" in line
    ct_env["PATH"] = str(first)
    line = _doctor_interpreter_line(ct_env)
    assert f"{first / 'python'} (from PATH (python)), Python 3.12.1" in line
    # Earlier PATH entries win for the same name.
    third = _link_dir(tmp_path, "third", {"python3": PY312})
    ct_env["PATH"] = f"{third}{os.pathsep}{second}"
    assert interpreter.find(ct_env)[0] == str(third / "python3")


@needs_pythons
def test_symlinks_are_not_resolved_venv_stays_venv(ct_env, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([str(PY312), "-m", "venv", "--without-pip", str(venv)], check=True)
    vpy = venv / "bin" / "python"
    assert vpy.is_symlink()
    ct_env["CODETRACER_PYTHON_INTERPRETER"] = str(vpy)
    interp = interpreter.discover(ct_env)
    assert interp.path == str(vpy)
    probe = subprocess.run([interp.path, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True)
    assert Path(probe.stdout.strip()) == venv


def test_set_but_broken_variable(ct_env, tmp_path):
    (tmp_path / "app.py").write_text("print(1)\n")
    ct_env["PYTHON_EXECUTABLE"] = str(tmp_path / "no" / "python")
    r = run_ct(["record", "app.py"], env=ct_env, cwd=tmp_path)
    assert r.returncode == 10
    assert r.stderr.count("\n") == 1 and "PYTHON_EXECUTABLE=" in r.stderr and "unset PYTHON_EXECUTABLE" in r.stderr
    # Not executable at all: a plain file.
    (tmp_path / "notpy").write_text("x")
    ct_env["PYTHON_EXECUTABLE"] = str(tmp_path / "notpy")
    r = run_ct(["record", "app.py"], env=ct_env, cwd=tmp_path)
    assert r.returncode == 10 and "PYTHON_EXECUTABLE" in r.stderr


def test_executable_that_is_not_python(ct_env, tmp_path):
    (tmp_path / "app.py").write_text("print(1)\n")
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho nope >&2\nexit 1\n")
    fake.chmod(0o755)
    ct_env["CODETRACER_PYTHON_INTERPRETER"] = str(fake)
    r = run_ct(["record", "app.py"], env=ct_env, cwd=tmp_path)
    assert r.returncode == 10 and "not a working Python interpreter" in r.stderr


def test_nothing_on_path_is_127_like_a_shell(ct_env, tmp_path):
    (tmp_path / "app.py").write_text("print(1)\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    ct_env["PATH"] = str(empty)
    r = run_ct(["record", "app.py"], env=ct_env, cwd=tmp_path)
    assert r.returncode == 127
    assert r.stderr == "python3: command not found\n"
    assert r.stdout == ""


@needs_pythons
def test_python_311_is_refused_clearly(ct_env, tmp_path):
    (tmp_path / "app.py").write_text("print(1)\n")
    ct_env["CODETRACER_PYTHON_INTERPRETER"] = str(PY311)
    r = run_ct(["record", "app.py"], env=ct_env, cwd=tmp_path)
    assert r.returncode == 10
    assert r.stderr.count("\n") == 1
    assert str(PY311) in r.stderr and "3.11.7" in r.stderr and "3.12 or newer" in r.stderr


@needs_pythons
def test_recorder_missing_gives_exact_install_hint(ct_env, tmp_path):
    (tmp_path / "app.py").write_text("print(1)\n")
    venv = tmp_path / "venv"
    subprocess.run([str(PY312), "-m", "venv", "--without-pip", str(venv)], check=True)
    ct_env["CODETRACER_PYTHON_INTERPRETER"] = str(venv / "bin" / "python")
    r = run_ct(["record", "app.py"], env=ct_env, cwd=tmp_path)
    assert r.returncode == 10
    assert f"{venv / 'bin' / 'python'} -m pip install codetracer-python-recorder" in r.stderr
    assert r.stderr.count("\n") == 1


def test_resources_variable_must_hold_a_manifest(ct_env, tmp_path):
    (tmp_path / "app.py").write_text("print(1)\n")
    ct_env["CODETRACER_PYTHON_INTERPRETER"] = sys.executable
    ct_env["CODETRACER_RESOURCES"] = str(tmp_path)
    r = run_ct(["record", "app.py"], env=ct_env, cwd=tmp_path)
    assert r.returncode == 10 and "CODETRACER_RESOURCES" in r.stderr and "manifest.json" in r.stderr


def test_probe_ignores_modules_in_the_current_directory(ct_env, tmp_path):
    """A user's json.py or platform.py in cwd must not break (or run inside) the probe."""
    (tmp_path / "json.py").write_text("raise SystemExit('user json.py was imported')\n")
    (tmp_path / "platform.py").write_text("raise SystemExit('user platform.py was imported')\n")
    path, source = interpreter.find(ct_env)
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        interp = interpreter.probe(path, source, ct_env)
    finally:
        os.chdir(old)
    assert interp.version >= (3, 0, 0)
