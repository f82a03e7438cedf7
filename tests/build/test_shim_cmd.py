"""The Windows ``ct-python-recorder.cmd`` run for real by wine's cmd.exe.

No Windows CPython exists here, so the "interpreter" is a tiny PE that prints its argv and
exits 3, cross-compiled with zig (cached in .cache/ctbuild; the first build of zig's mingw
libc takes minutes). What is checked is the shim's own logic: resolution order, the error
for a set-but-broken variable, 127 without any Python, and verbatim argument passing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ctbuild import config, shims

FAKE_PY = r"""
#include <stdio.h>
int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    return 3;
}
"""


def _wine() -> str | None:
    from ctbuild.deps import find_binary  # Debian's wine64 package keeps it off PATH

    return find_binary("wine64") or shutil.which("wine")


@pytest.fixture(scope="module")
def fake_python() -> Path:
    if _wine() is None:
        pytest.skip("wine64 not installed (Debian: wine64); .ci/run installs it")
    try:
        import ziglang  # noqa: F401
    except ImportError:
        pytest.skip("ziglang not installed (pip install ziglang)")
    out = config.CACHE_DIR / "fake-python" / "python.exe"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        src = out.with_name("fake.c")
        src.write_text(FAKE_PY)
        subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "x86_64-windows-gnu",
                        str(src), "-o", str(out)], check=True, timeout=1800)
    return out


@pytest.fixture(scope="module")
def wine_env(tmp_path_factory) -> dict[str, str]:
    prefix = tmp_path_factory.mktemp("wineprefix")
    env = dict(os.environ, WINEPREFIX=str(prefix), WINEDEBUG="-all", WINEARCH="win64",
               WINEDLLOVERRIDES="mscoree,mshtml=")
    env.pop("DISPLAY", None)
    for var in ("CODETRACER_PYTHON_INTERPRETER", "PYTHON_EXECUTABLE", "PYTHON"):
        env.pop(var, None)
    return env


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, fake_python) -> Path:
    """An install dir: bin\\ct-python-recorder.cmd + resources\\python\\ct_bootstrap.py."""
    root = tmp_path_factory.mktemp("install")
    shims.render_all(root / "bin", target_os="windows", version="0")
    (root / "resources" / "python").mkdir(parents=True)
    (root / "resources" / "python" / "ct_bootstrap.py").write_text("# stand-in\n")
    (root / "pybin").mkdir()
    shutil.copy2(fake_python, root / "pybin" / "python.exe")
    return root


def win(path: Path) -> str:
    return "Z:" + str(path).replace("/", "\\")


def run_cmd(bundle: Path, env: dict[str, str], extra: dict[str, str], *args: str):
    """Write a driver batch file (no argv re-quoting between Linux and wine) and run it."""
    driver = bundle / "driver.cmd"
    lines = ["@echo off", *(f"set {k}={v}" for k, v in extra.items()),
             # no `call`: wine's cmd loses a called batch's `exit /b N` (reports 1); a plain
             # transfer makes the shim's status the process status, as on Windows
             f'"{win(bundle / "bin" / "ct-python-recorder.cmd")}" {" ".join(args)}']
    driver.write_bytes("\r\n".join(lines).encode() + b"\r\n")
    return subprocess.run([_wine(), "cmd", "/c", win(driver)], env=env, capture_output=True,
                          text=True, timeout=300)


def argv_of(stdout: str) -> list[str]:
    return [line.split("=", 1)[1].rstrip("\r") for line in stdout.splitlines()
            if line.startswith("argv[")]


@pytest.mark.parametrize("variable", ["CODETRACER_PYTHON_INTERPRETER", "PYTHON_EXECUTABLE",
                                      "PYTHON"])
def test_variable_selects_the_interpreter(bundle, wine_env, variable):
    out = run_cmd(bundle, wine_env, {variable: win(bundle / "pybin" / "python.exe")},
                  "prog.py", '"two words"', "--format", "json")
    assert out.returncode == 3, out.stdout + out.stderr
    argv = argv_of(out.stdout)
    assert argv[1].lower().endswith("\\resources\\python\\ct_bootstrap.py")
    assert argv[2:] == ["prog.py", "two words", "--format", "json"]


def test_python_on_path(bundle, wine_env):
    out = run_cmd(bundle, wine_env, {"PATH": win(bundle / "pybin") + ";%PATH%"}, "x.py")
    assert out.returncode == 3, out.stdout + out.stderr
    assert argv_of(out.stdout)[2:] == ["x.py"]


def test_broken_variable_names_it_and_fails(bundle, wine_env):
    out = run_cmd(bundle, wine_env, {"CODETRACER_PYTHON_INTERPRETER": r"C:\nope\python.exe",
                                     "PYTHON": win(bundle / "pybin" / "python.exe")}, "x.py")
    assert out.returncode == 10, out.stdout + out.stderr
    assert "CODETRACER_PYTHON_INTERPRETER" in out.stderr
    assert "argv[" not in out.stdout


def test_paths_with_parentheses(bundle, wine_env):
    odd = bundle / "Program Files (x86)"
    odd.mkdir(exist_ok=True)
    shutil.copy2(bundle / "pybin" / "python.exe", odd / "python.exe")
    out = run_cmd(bundle, wine_env, {"PYTHON": win(odd / "python.exe")}, "x.py")
    assert out.returncode == 3, out.stdout + out.stderr
    out = run_cmd(bundle, wine_env, {"PYTHON": win(odd / "missing.exe")}, "x.py")
    assert out.returncode == 10 and "missing.exe" in out.stderr, out.stdout + out.stderr


def test_no_python_is_127(bundle, wine_env):
    out = run_cmd(bundle, wine_env, {"PATH": r"C:\windows\system32"}, "x.py")
    assert out.returncode == 127, out.stdout + out.stderr
    assert "python3: command not found" in out.stderr
