"""The ``python -m ctbuild`` CLI and the commands it builds for maturin and PyInstaller."""

from __future__ import annotations

import json
import subprocess
import sys

from build_helpers import make_wheel

from ctbuild import __main__ as cli
from ctbuild import config, freeze, wheels


def test_maturin_command_has_the_manylinux2014_zig_flags(tmp_path):
    cmd = wheels.maturin_command(tmp_path)
    assert cmd[1:3] == ["-m", "maturin"]
    for flag in ("--release", "--strip", "--zig", "--compatibility", "manylinux2014"):
        assert flag in cmd
    assert cmd[cmd.index("-m", 3) + 1] == str(config.RECORDER_MANIFEST)
    assert cmd[cmd.index("-o") + 1] == str(tmp_path)


def test_pyinstaller_command_is_onedir_and_never_freezes_the_recorder(tmp_path):
    cmd = freeze.pyinstaller_command(tmp_path / "dist", tmp_path / "work")
    assert "--onedir" in cmd and "--onefile" not in cmd
    assert cmd[cmd.index("--name") + 1] == "ct"
    assert config.RECORDER_DIST_NAME in cmd
    assert cmd[-1] == str(freeze.LAUNCHER)


def test_stage_and_shims_through_the_cli(tmp_path, capsys):
    wheel = make_wheel(tmp_path / "wheels")
    out = tmp_path / "res"
    assert cli.main(["stage", "--wheels", str(wheel.parent), "--out", str(out)]) == 0
    assert json.loads((out / "manifest.json").read_text())["wheels"][0]["wheel"] == wheel.name
    assert cli.main(["shims", "--target", "windows", "--out", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "ct-python-recorder.cmd").is_file()


def test_known_failures_are_one_line_and_status_1(tmp_path, capsys):
    assert cli.main(["stage", "--wheels", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    assert "nox -s build_wheels" in capsys.readouterr().err


def test_module_entry_point_runs(tmp_path):
    env_path = str(config.ROOT / "src")
    out = subprocess.run([sys.executable, "-m", "ctbuild", "--help"], capture_output=True,
                         text=True, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0
    for command in ("wheels", "freeze", "stage", "shims", "build", "verify", "tools", "deps"):
        assert command in out.stdout
