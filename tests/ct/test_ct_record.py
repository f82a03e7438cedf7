"""``ct record`` end to end with the real recorder (skipped, with the reason, when it is not
importable; CI installs it). Parity: stdout, stderr and exit status must equal plain Python's."""

from __future__ import annotations

import importlib.util
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ct_helpers import (  # noqa: F401 (pytest fixtures)
    CORPUS,
    PY312,
    ROOT,
    bundle_resources_fixture,
    ct_cmd,
    ct_env_fixture,
    read_pty_until_closed,
    recorder_py_fixture,
    run_ct,
)

# (cwd, script, args, stdin, extra env); cwd None = our corpus copied to a temp dir.
# Option-like arguments must reach the program untouched.
CASES = [
    (None, "hello.py", ["--format", "json", "-o", "x", "--trace-dir", "y", "-m", "z", "--help", "--", "--quiet"], None, {}),
    (None, "hello.py", [], None, {}),
    (None, "exit_code.py", ["2"], None, {}),
    (None, "exit_code.py", ["3"], None, {}),
    (None, "exit_code.py", ["70"], None, {}),
    (None, "exit_message.py", [], None, {}),
    (None, "uncaught.py", [], None, {}),
    (None, "stdin_echo.py", [], "line one\nline two ✓\n".encode(), {}),
    (None, "syspath.py", ["-v"], None, {}),
    (None, "uses_sibling.py", [], None, {}),
    (None, "compute.py", [], None, {}),
    (None, "warns.py", [], None, {}),
]
NEVER_RUNS = {"syntax_error.py"}  # no trace: the program cannot start, as with plain Python
CASE_IDS = [f"{c[1]}{'-' + '_'.join(c[2])[:30] if c[2] else ''}" for c in CASES]


def _recorder_parity_cases() -> list[tuple]:
    """The recorder issue's parity corpus (``recorder/tests/test_parity.py`` CASES), run
    through ``ct record`` too. Left out by design: ``-m`` targets (ct records files) and a
    missing script (ct's own one-line error, status 20, instead of Python's)."""
    parity = ROOT / "recorder" / "tests" / "parity"
    module_file = parity.parent / "test_parity.py"
    if not module_file.is_file():
        return []
    sys.path.insert(0, str(parity.parent))
    try:
        spec = importlib.util.spec_from_file_location("_ct_recorder_parity_cases", module_file)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        cases = dict(mod.CASES)
    except Exception:  # noqa: BLE001 - their file, their imports: fall back to nothing
        return []
    finally:
        sys.path.remove(str(parity.parent))
    out = []
    for name, case in sorted(cases.items()):
        args = list(case["args"])
        if args[0] == "-m" or not (parity / args[0]).is_file():
            continue
        out.append((str(parity), args[0], args[1:], case.get("stdin"), dict(case.get("env") or {})))
        CASE_IDS.append("recorder-parity:" + name)
    if (parity / "keyboard_interrupt.py").is_file():
        out.append((str(parity), "keyboard_interrupt.py", [], None, {}))
        CASE_IDS.append("recorder-parity:keyboard interrupt")
    return out


CASES += _recorder_parity_cases()


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("corpus")
    for p in CORPUS.glob("*.py"):
        shutil.copy2(p, dest / p.name)
    return dest


@pytest.fixture(scope="session")
def bare_venv(tmp_path_factory) -> Path:
    """A Python 3.12 venv without the recorder (the bundle must supply it)."""
    if PY312 is None:
        pytest.skip("pyenv 3.12.1 not installed")
    v = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([str(PY312), "-m", "venv", "--without-pip", str(v)], check=True)
    return v


def _env(ct_env, **extra) -> dict[str, str]:
    env = dict(ct_env)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def _plain(python: str, script: str, args, stdin, cwd, env) -> subprocess.CompletedProcess:
    return subprocess.run([python, script, *args], input=stdin, capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def _assert_same(rec, plain):
    assert rec.stdout == plain.stdout
    assert rec.stderr == plain.stderr
    assert rec.returncode == plain.returncode


def _run_bytes(argv, cwd, env, stdin) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True, timeout=300)


@pytest.mark.parametrize("mode", ["installed", "bundle"])
@pytest.mark.parametrize("cwd,script,args,stdin,extra_env", CASES, ids=CASE_IDS)
def test_parity_through_ct_record_quiet(request, mode, cwd, script, args, stdin, extra_env, corpus,
                                        ct_env, tmp_path, recorder_py):
    cwd = cwd or str(corpus)
    if mode == "installed":
        python = recorder_py
        env = _env(ct_env, CODETRACER_PYTHON_INTERPRETER=python, **extra_env)
    else:
        res = request.getfixturevalue("bundle_resources")
        python = str(request.getfixturevalue("bare_venv") / "bin" / "python")
        env = _env(ct_env, CODETRACER_PYTHON_INTERPRETER=python, CODETRACER_RESOURCES=str(res), **extra_env)
    out = tmp_path / "trace"
    rec = _run_bytes(ct_cmd("record", "--quiet", "-o", str(out), script, *args), cwd, env, stdin)
    plain = _run_bytes([python, script, *args], cwd, env, stdin)
    assert rec.stdout == plain.stdout
    assert rec.stderr == plain.stderr
    # Killed by a signal: ct dies by the same signal once the trace is indexed (README).
    assert rec.returncode == plain.returncode
    rows = json.loads(run_ct(["list", "--json"], env=env).stdout)
    if script in NEVER_RUNS:
        assert rows == [] and not (out / "trace_metadata.json").exists()
        return
    meta = json.loads((out / "trace_metadata.json").read_text())
    assert meta["args"] == args
    assert len(rows) == 1 and rows[0]["args"] == args and rows[0]["trace_dir"] == str(out)


def test_dash_m_module_matches_python_dash_m_and_is_indexed(ct_env, recorder_py, tmp_path):
    pkg = tmp_path / "proj" / "tool"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(
        "import sys\nfrom . import work\nprint(__name__, __spec__.name, sys.argv[1:], work.twice(21))\n"
        "sys.exit(3)\n")
    (pkg / "work.py").write_text("def twice(x):\n    return 2 * x\n")
    env = _env(ct_env, CODETRACER_PYTHON_INTERPRETER=recorder_py)
    cwd = tmp_path / "proj"
    args = ["-o", "x", "--quiet"]
    rec = _run_bytes(ct_cmd("record", "-q", "-o", str(tmp_path / "t"), "-m", "tool", *args), cwd, env, None)
    plain = _run_bytes([recorder_py, "-m", "tool", *args], cwd, env, None)
    _assert_same(rec, plain)
    assert rec.stdout == b"__main__ tool.__main__ ['-o', 'x', '--quiet'] 42\n" and rec.returncode == 3
    rows = json.loads(run_ct(["list", "--json"], env=env).stdout)
    assert len(rows) == 1 and rows[0]["args"] == args and rows[0]["program"] == "-m tool"
    show = json.loads(run_ct(["show", "latest", "--json"], env=env).stdout)
    assert {f["name"] for f in show["top_functions"]} >= {"twice"}
    # a module that does not exist fails exactly like `python -m`
    rec = _run_bytes(ct_cmd("record", "-q", "-m", "no_such_mod"), cwd, env, None)
    plain = _run_bytes([recorder_py, "-m", "no_such_mod"], cwd, env, None)
    _assert_same(rec, plain)


def test_default_folder_message_list_and_show(corpus, ct_env, recorder_py):
    env = _env(ct_env, CODETRACER_PYTHON_INTERPRETER=recorder_py)
    r = run_ct(["record", "compute.py"], env=env, cwd=corpus)
    assert r.returncode == 0, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ct: trace saved to ") and last.endswith("(id 1)")
    folder = Path(last[len("ct: trace saved to "):].rsplit(" (id", 1)[0])
    assert folder.parent == Path(env["CODETRACER_DATA_DIR"]) / "traces"
    # either layout: the recorder's own metadata says which one it wrote
    fmt = json.loads((folder / "trace_metadata.json").read_text()).get("format", "json")
    assert (folder / ("trace.ct" if fmt == "ctfs" else "trace.json")).is_file()
    assert (folder / "files" / str(corpus / "compute.py").lstrip("/")).is_file()
    show = json.loads(run_ct(["show", "latest", "--json"], env=env).stdout)
    names = {f["name"]: f["calls"] for f in show["top_functions"]}
    assert names.get("fib") == 465  # fib(12) makes 465 calls
    assert show["steps"] > 0 and show["calls"] >= 465 and show["size_bytes"] > 0
    assert show["interpreter"] == recorder_py and show["python_version"].startswith("3.1")
    table = run_ct(["list"], env=env).stdout
    assert "compute.py" in table


def test_program_exit_2_is_not_a_recorder_failure(corpus, ct_env, recorder_py, tmp_path):
    env = _env(ct_env, CODETRACER_PYTHON_INTERPRETER=recorder_py)
    r = run_ct(["record", "-o", tmp_path / "t", "exit_code.py", "2"], env=env, cwd=corpus)
    assert r.returncode == 2
    assert "trace saved" in r.stderr
    rows = json.loads(run_ct(["list", "--json"], env=env).stdout)
    assert [row["exit_status"] for row in rows] == [2]


def test_recorder_usage_failure_is_reported_and_not_indexed(corpus, ct_env, recorder_py, tmp_path):
    env = _env(ct_env, CODETRACER_PYTHON_INTERPRETER=recorder_py)
    r = run_ct(["record", "--quiet", "--on-recorder-error", "bogus", "-o", tmp_path / "t", "hello.py"],
               env=env, cwd=corpus)
    assert r.returncode == 2
    assert "no trace was recorded" in r.stderr
    assert "hello from" not in r.stdout
    assert json.loads(run_ct(["list", "--json"], env=env).stdout) == []


def test_corrupt_index_keeps_the_trace_and_the_programs_status(corpus, ct_env, recorder_py, tmp_path):
    env = _env(ct_env, CODETRACER_PYTHON_INTERPRETER=recorder_py)
    data = Path(env["CODETRACER_DATA_DIR"])
    data.mkdir(parents=True)
    (data / "trace_index.db").write_bytes(b"garbage" * 500)
    r = run_ct(["record", "--quiet", "-o", tmp_path / "t", "exit_code.py", "3"], env=env, cwd=corpus)
    assert r.returncode == 3 and r.stdout == "exiting with 3\n"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "corrupt" in lines[0] and f"ct index --import {tmp_path / 't'}" in lines[0]
    assert (tmp_path / "t" / "trace_metadata.json").is_file()
    assert run_ct(["index", "--rebuild"], env=env).returncode == 0
    assert run_ct(["index", "--import", tmp_path / "t"], env=env).returncode == 0
    rows = json.loads(run_ct(["list", "--json"], env=env).stdout)
    assert [(r["args"], r["exit_status"]) for r in rows] == [(["3"], 3)]


def test_eight_concurrent_recordings_all_indexed(corpus, ct_env, recorder_py):
    env = _env(ct_env, CODETRACER_PYTHON_INTERPRETER=recorder_py)
    procs = [subprocess.Popen(ct_cmd("record", "--quiet", "hello.py", f"run-{i}"), cwd=corpus, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(8)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    rows = json.loads(run_ct(["list", "--json"], env=env).stdout)
    assert sorted(r["args"][0] for r in rows) == [f"run-{i}" for i in range(8)]
    assert len({r["trace_dir"] for r in rows}) == 8


def test_with_diff_end_to_end(ct_env, recorder_py, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    g = ["git", "-c", "user.name=t", "-c", "user.email=t@e", "-c", "commit.gpgsign=false"]
    subprocess.run(g + ["init", "-q"], cwd=repo, check=True)
    (repo / "app.py").write_text("print('v1')\n")
    subprocess.run(g + ["add", "."], cwd=repo, check=True)
    subprocess.run(g + ["commit", "-qm", "1"], cwd=repo, check=True)
    (repo / "app.py").write_text("x = 2\nprint('v2', x)\n")
    subprocess.run(g + ["commit", "-qam", "2"], cwd=repo, check=True)
    env = _env(ct_env, CODETRACER_PYTHON_INTERPRETER=recorder_py)
    r = run_ct(["record", "--quiet", "--with-diff", "last-commit", "-o", tmp_path / "t", "app.py"], env=env, cwd=repo)
    assert (r.returncode, r.stdout, r.stderr) == (0, "v2 2\n", "")
    index = json.loads((tmp_path / "t" / "diff_index.json").read_text())
    assert index["spec"] == "last-commit"
    assert index["files"][0]["path"] == "app.py"
    assert index["files"][0]["added_lines"] == [1, 2] and index["files"][0]["removed_lines"] == [1]
    assert b"+x = 2" in (tmp_path / "t" / "diff.patch").read_bytes()


def test_signal_reaches_the_recorded_program(ct_env, recorder_py, tmp_path):
    ready = tmp_path / "ready"
    (tmp_path / "wait.py").write_text(
        "import signal, sys, time, pathlib\n"
        "signal.signal(signal.SIGTERM, lambda s, f: (print('got TERM', flush=True), sys.exit(5)))\n"
        f"pathlib.Path({str(ready)!r}).write_text('x')\n"
        "time.sleep(60)\n"
    )
    env = _env(ct_env, CODETRACER_PYTHON_INTERPRETER=recorder_py)
    p = subprocess.Popen(ct_cmd("record", "--quiet", "-o", str(tmp_path / "t"), "wait.py"), cwd=tmp_path,
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    deadline = time.time() + 60
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert out == "got TERM\n"
    assert p.returncode == 5, err


def test_tty_stays_a_tty_through_the_recorder(ct_env, recorder_py, tmp_path):
    (tmp_path / "tty.py").write_text("import os, sys\nprint('tty', os.isatty(0), sys.stdout.isatty(), sys.stderr.isatty())\n")
    env = _env(ct_env, CODETRACER_PYTHON_INTERPRETER=recorder_py)
    master, slave = pty.openpty()
    p = subprocess.Popen(ct_cmd("record", "--quiet", "-o", str(tmp_path / "t"), "tty.py"), cwd=tmp_path,
                         env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    data = read_pty_until_closed(master)
    p.wait(timeout=60)
    os.close(master)
    assert data.replace(b"\r\n", b"\n") == b"tty True True True\n"
    assert p.returncode == 0


def test_venv_with_third_party_package(ct_env, bundle_resources, tmp_path):
    """An activated venv (PATH first, no interpreter variables) with `six` from PyPI."""
    if PY312 is None:
        pytest.skip("pyenv 3.12.1 not installed")
    venv = tmp_path / "venv"
    subprocess.run([str(PY312), "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "six"],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        pytest.skip(f"cannot install six from the package index: {pip.stderr.strip()[-200:]}")
    (tmp_path / "app.py").write_text(
        "import sys, six\nprint(six.__name__, sys.prefix == sys.base_prefix, sys.prefix)\n")
    env = _env(ct_env, PATH=f"{venv / 'bin'}{os.pathsep}{ct_env['PATH']}", VIRTUAL_ENV=str(venv),
               CODETRACER_RESOURCES=str(bundle_resources))
    rec = run_ct(["record", "--quiet", "-o", tmp_path / "t", "app.py"], env=env, cwd=tmp_path)
    plain = _plain(str(venv / "bin" / "python"), "app.py", [], None, tmp_path, env)
    _assert_same(rec, plain)
    assert rec.stdout == f"six False {venv}\n"
    row = json.loads(run_ct(["list", "--json"], env=env).stdout)[0]
    assert row["interpreter"] == str(venv / "bin" / "python3")


@pytest.fixture(scope="session")
def uv_exe(tmp_path_factory) -> str:
    """uv from PATH, else from PyPI into a temporary target (skip if neither works)."""
    found = shutil.which("uv")
    if found and subprocess.run([found, "--version"], capture_output=True).returncode == 0:
        return found
    target = tmp_path_factory.mktemp("uv")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(target), "uv"],
                       capture_output=True, text=True)
    exe = target / "bin" / "uv"
    if r.returncode != 0 or not exe.exists():
        pytest.skip(f"uv is not installed and cannot be installed from PyPI: {r.stderr.strip()[-200:]}")
    return str(exe)


def test_uv_run(ct_env, bundle_resources, tmp_path, uv_exe):
    uv = uv_exe
    if PY312 is None:
        pytest.skip("pyenv 3.12.1 not installed")
    (tmp_path / "app.py").write_text("import sys, six\nprint('uv', six.__name__, sys.prefix != sys.base_prefix)\n")
    env = _env(ct_env, UV_PYTHON_DOWNLOADS="never", CODETRACER_RESOURCES=str(bundle_resources))
    base = [uv, "-q", "run", "--no-project", "--python", str(PY312), "--with", "six", "--"]
    plain = subprocess.run([*base, "python", "app.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    if plain.returncode != 0:
        pytest.skip(f"uv cannot build the environment here: {plain.stderr.strip()[-200:]}")
    rec = subprocess.run([*base, *ct_cmd("record", "--quiet", "-o", str(tmp_path / "t"), "app.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    _assert_same(rec, plain)
    assert plain.stdout == "uv six True\n"


def test_shim_mode_runs_the_recorder_without_indexing(corpus, ct_env, recorder_py, tmp_path):
    env = _env(ct_env, CODETRACER_PYTHON_INTERPRETER=recorder_py)
    r = run_ct(["python-recorder", "--trace-dir", tmp_path / "t", "hello.py", "--format", "json"], env=env, cwd=corpus)
    assert r.returncode == 0, r.stderr
    assert "argv ['--format', 'json']" in r.stdout
    assert (tmp_path / "t" / "trace_metadata.json").is_file()
    assert json.loads(run_ct(["list", "--json"], env=env).stdout) == []


def test_doctor_all_good(ct_env, recorder_py):
    env = _env(ct_env, CODETRACER_PYTHON_INTERPRETER=recorder_py)
    r = run_ct(["doctor"], env=env)
    assert r.returncode == 0, r.stdout
    assert "from CODETRACER_PYTHON_INTERPRETER" in r.stdout and "installed" in r.stdout


def test_doctor_reports_problems(ct_env, tmp_path):
    ct_env["PATH"] = str(tmp_path)
    r = run_ct(["doctor"], env=ct_env)
    assert r.returncode == 10 and "FAIL" in r.stdout and "python3: command not found" in r.stdout

