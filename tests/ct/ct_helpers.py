"""Shared helpers and fixtures for the ct tests. There is deliberately no ``conftest.py`` here:
other suites import helpers ``from conftest``, and a second ``conftest`` module would shadow
theirs. Test modules import the fixtures they use (``*_fixture``, registered under the short
name) and the helpers from ``ct_helpers``. The helpers: run the real ``ct`` in a subprocess, make trace folders,
find an interpreter that has the recorder, and a bundle-style ``resources/python`` for it.

``ct`` is started as ``sys.executable -c BOOT ...`` with ``src/`` put on ``sys.path`` inside
the process (never via PYTHONPATH, which would leak into the recorded program and spoil the
parity checks). Each test gets its own data dir through ``CODETRACER_DATA_DIR``.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
CORPUS = Path(__file__).resolve().parent / "corpus"
BOOTSTRAP = ROOT / "packaging" / "common" / "ct_bootstrap.py"
def read_pty_until_closed(master: int) -> bytes:
    """Everything the child writes to a pseudo-terminal, until its side is closed (Linux
    reports that as EIO rather than end of file)."""
    out = b""
    while True:
        try:
            data = os.read(master, 1024)
        except OSError:
            break
        if not data:
            break
        out += data
    return out


BOOT = (
    f"import sys; sys.path.insert(0, {str(SRC)!r}); from ct.cli import main; sys.exit(main())"
)


def pyenv_python(version: str) -> Path | None:
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    p = Path(root) / "versions" / version / "bin" / "python"
    return p if p.exists() else None


PY311 = pyenv_python("3.11.7")
PY312 = pyenv_python("3.12.1")
PY313 = pyenv_python("3.13.0")


def ct_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", BOOT, *args]


def run_ct(args, env=None, cwd=None, input=None, timeout=300, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        ct_cmd(*map(str, args)), env=env, cwd=cwd, input=input, capture_output=True,
        text=True, timeout=timeout, **kw,
    )


@pytest.fixture(name="ct_env")
def ct_env_fixture(tmp_path) -> dict[str, str]:
    """A clean environment with a private data dir and no interpreter overrides."""
    env = dict(os.environ)
    for var in ("CODETRACER_PYTHON_INTERPRETER", "PYTHON_EXECUTABLE", "PYTHON",
                "CODETRACER_RESOURCES", "PYTHONPATH", "APPIMAGE", "APPDIR", "ARGV0"):
        env.pop(var, None)
    env["CODETRACER_DATA_DIR"] = str(tmp_path / "data")
    return env


def make_trace(folder: Path, program: str = "/tmp/app.py", args=(), exit_status: int = 0,
               started_at: str = "2026-11-23T10:00:00Z", with_stats: bool = True,
               calls: dict[str, int] | None = None, source: Path | None = None,
               partial: bool = False) -> Path:
    """Write a small but well-formed runtime_tracing trace folder (no recorder needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    calls = calls or {"<module>": 1, "helper": 3}
    src = str(source) if source else program
    events: list[dict] = [{"Path": src}]
    for i, name in enumerate(calls):
        events.append({"Function": {"path_id": 0, "line": i + 1, "name": name}})
    events.append({"Type": {"kind": 30, "lang_type": "None", "specific_info": {"kind": "None"}}})
    steps = 0
    for fid, n in enumerate(calls.values()):
        for _ in range(n):
            events.append({"Call": {"function_id": fid, "args": []}})
            events.append({"Step": {"path_id": 0, "line": fid + 1}})
            steps += 1
            events.append({"Return": {"return_value": {"kind": "None", "type_id": 0}}})
    with (folder / "trace.json").open("w") as fh:
        fh.write("[\n" + ",\n".join(json.dumps(e) for e in events) + "\n]\n")
    (folder / "trace_paths.json").write_text(json.dumps([src]))
    meta = {
        "workdir": str(folder.parent), "program": program, "args": list(args),
        "recorder": {"name": "codetracer-python-recorder", "version": "0.0-test"},
        "python": {"version": "3.12.1", "executable": "/usr/bin/python3", "implementation": "CPython"},
        "exit_status": exit_status, "partial": partial, "started_at": started_at, "duration_s": 0.5,
    }
    if with_stats:
        meta["stats"] = {"steps": steps, "calls": sum(calls.values()), "returns": sum(calls.values()),
                         "events": len(events), "values": 0, "exceptions": 1, "trace_bytes": 0}
    (folder / "trace_metadata.json").write_text(json.dumps(meta))
    return folder


@functools.cache
def recorder_python() -> str | None:
    """An interpreter (3.12+) in which ``codetracer_python_recorder`` imports, or None.

    ``CT_TEST_RECORDER_PYTHON`` wins; then the test runner itself, then pyenv 3.12/3.13.
    """
    cands = [os.environ.get("CT_TEST_RECORDER_PYTHON"), sys.executable, PY312, PY313]
    for c in cands:
        if not c or not Path(c).exists():
            continue
        proc = subprocess.run(
            [str(c), "-c", "import sys, codetracer_python_recorder.cli; assert sys.version_info >= (3, 12)"],
            capture_output=True, cwd="/",
        )
        if proc.returncode == 0:
            return str(c)
    return None


def recorder_package_dir(python: str) -> Path:
    out = subprocess.run(
        [python, "-c", "import codetracer_python_recorder as m, os; print(os.path.dirname(m.__file__))"],
        capture_output=True, text=True, check=True, cwd="/",
    )
    return Path(out.stdout.strip())


@pytest.fixture(name="recorder_py", scope="session")
def recorder_py_fixture() -> str:
    py = recorder_python()
    if py is None:
        pytest.skip("the recorder (codetracer_python_recorder) is not importable in any of "
                    "$CT_TEST_RECORDER_PYTHON, the test interpreter or pyenv 3.12/3.13: "
                    "`pip install ./recorder` to run the recording tests")
    return py


@pytest.fixture(name="bundle_resources", scope="session")
def bundle_resources_fixture(tmp_path_factory, recorder_py) -> Path:
    """A bundle-style ``resources/python`` holding a copy of the installed recorder, so any
    3.12+ interpreter (a fresh venv, a uv env) can record without installing the recorder."""
    if not BOOTSTRAP.is_file():
        pytest.skip(f"{BOOTSTRAP} is missing (owned by packaging)")
    res = tmp_path_factory.mktemp("bundle") / "resources" / "python"
    site = res / "site-cp312-abi3"
    site.mkdir(parents=True)
    pkg = recorder_package_dir(recorder_py)
    shutil.copytree(pkg, site / pkg.name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(BOOTSTRAP, res / "ct_bootstrap.py")
    for shared in ("contract.py", "bundle_match.py"):  # what the bootstrap loads, as staged
        shutil.copy2(ROOT / "src" / "ct" / shared, res / shared)
    (res / "manifest.json").write_text(json.dumps({"wheels": [{
        "wheel": "codetracer_python_recorder-test-cp312-abi3-linux_x86_64.whl", "version": "test",
        "tags": ["cp312-abi3-linux_x86_64"], "sha256": "", "site_dir": site.name,
        "requires_python": ">=3.12",
    }]}))
    return res
