"""Hostile conditions around the recorder's own Python parts: threads that outlive the trace,
streams torn down at exit, bad command lines."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from rt_helpers import requires_recorder

pytestmark = requires_recorder

RECORDER = [sys.executable, "-m", "codetracer_python_recorder"]

DAEMON_WRITERS = """\
import sys, threading, time
def spam(stream, tag):
    n = 0
    while True:
        n += 1
        print(tag, n, file=stream)
        stream.write("w\\n")
for i in range(3):
    for s in (sys.stdout, sys.stderr):
        threading.Thread(target=spam, args=(s, i), daemon=True).start()
time.sleep(0.05)
print("main done")
"""


def test_a_proxy_whose_slots_are_cleared_raises_attributeerror_not_recursionerror():
    """At exit the garbage collector may clear a proxy's slots while a daemon thread still
    holds it; asking it for anything must not recurse through ``__getattr__``."""
    from codetracer_python_recorder.io_capture import OutputProxy

    proxy = OutputProxy.__new__(OutputProxy)  # no slots set, as after tp_clear
    with pytest.raises(AttributeError):
        proxy.flush  # noqa: B018
    with pytest.raises(AttributeError):
        proxy.write("x")


def test_a_detached_proxy_never_calls_the_native_module(monkeypatch):
    from codetracer_python_recorder import io_capture

    calls = []
    monkeypatch.setattr(io_capture._native, "record_io", lambda *a: calls.append(a))
    capture = io_capture.IOCapture()
    real = sys.stdout
    capture.install()
    try:
        held = sys.stdout  # what a thread started while recording keeps
        held.write("while recording\n")
    finally:
        capture.uninstall()
    assert sys.stdout is real
    held.write("after the trace was closed\n")
    held.writelines(["a\n", "b\n"])
    assert calls == [("stdout", "while recording\n")]


@pytest.mark.parametrize("unbuffered", [True, False], ids=["unbuffered", "buffered"])
def test_daemon_threads_writing_at_exit_do_not_crash(tmp_path, unbuffered):
    """Threads still printing while the interpreter exits. Plain Python itself may abort with
    "could not acquire lock for <_io.BufferedWriter>" in buffered mode (SIGABRT), so that is
    allowed there; a segfault, a RecursionError or a recorder frame never is."""
    (tmp_path / "app.py").write_text(DAEMON_WRITERS)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", "PYTHONPATH")}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    allowed = {0} if unbuffered else {0, -6}
    for run in range(6):
        out = tmp_path / f"t{run}"
        proc = subprocess.run([*RECORDER, "--trace-dir", str(out), "app.py"], cwd=tmp_path,
                              env=env, capture_output=True, timeout=120)
        err = proc.stderr.decode(errors="replace")
        assert proc.returncode in allowed, (proc.returncode, err[-2000:])
        assert "RecursionError" not in err and "codetracer_python_recorder" not in err
        if proc.returncode == 0:
            assert b"main done" in proc.stdout
            assert (out / "trace_metadata.json").is_file()


def _paths(folder):
    import json

    return json.loads((folder / "trace_paths.json").read_text())


def _metadata(folder):
    import json

    return json.loads((folder / "trace_metadata.json").read_text())


def test_a_directory_runs_its_main_like_python_dir(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "__main__.py").write_text("import sys\nprint(sys.argv, sys.path[0], __file__)\n")
    (app / "helper.py").write_text("")
    plain = subprocess.run([sys.executable, "app", "x"], cwd=tmp_path, capture_output=True)
    rec = subprocess.run([*RECORDER, "--trace-dir", str(tmp_path / "t"), "app", "x"],
                         cwd=tmp_path, capture_output=True, timeout=120)
    assert (rec.returncode, rec.stdout, rec.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    assert _paths(tmp_path / "t")[0] == str(app / "__main__.py")


def test_a_directory_without_main_fails_like_python(tmp_path):
    (tmp_path / "empty").mkdir()
    plain = subprocess.run([sys.executable, "empty"], cwd=tmp_path, capture_output=True)
    rec = subprocess.run([*RECORDER, "--trace-dir", str(tmp_path / "t"), "empty"], cwd=tmp_path,
                         capture_output=True, timeout=120)
    assert rec.returncode == plain.returncode == 1 and rec.stderr == plain.stderr
    assert b"can't find '__main__' module" in rec.stderr
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("value", ["99999999999999999999", "-1", str(2**64), "1e3"])
@pytest.mark.parametrize("where", ["flag", "environment"])
def test_absurd_caps_are_usage_errors(tmp_path, value, where):
    (tmp_path / "app.py").write_text("print('ran')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    flag = []
    if where == "flag":
        flag = ["--max-depth", value]
    else:
        env["CODETRACER_MAX_DEPTH"] = value
    proc = subprocess.run([*RECORDER, "--trace-dir", str(tmp_path / "t"), *flag, "app.py"],
                          cwd=tmp_path, env=env, capture_output=True, timeout=120)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and "[ERR_INVALID_ARGUMENT]" in err and "Traceback" not in err
    assert ("--max-depth" if where == "flag" else "CODETRACER_MAX_DEPTH") in err
    assert proc.stdout == b""


@pytest.mark.parametrize("module,file", [("mod", "mod.py"), ("pkg", "pkg/__main__.py"),
                                         ("pkg.sub", "pkg/sub.py")])
def test_dash_m_records_the_modules_file_as_path_0(tmp_path, module, file):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "__main__.py").write_text("print('pkg')\n")
    (tmp_path / "pkg" / "sub.py").write_text("print('sub')\n")
    (tmp_path / "mod.py").write_text("print('mod')\n")
    proc = subprocess.run([*RECORDER, "--trace-dir", str(tmp_path / "t"), "-m", module],
                          cwd=tmp_path, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert _paths(tmp_path / "t")[0] == str(tmp_path / file)
    meta = _metadata(tmp_path / "t")
    assert (meta["program"], meta["run_as"]) == (module, "module")


FORKED_SIGTERM = """\
import os, signal
pid = os.fork()
if pid == 0:
    print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, flush=True)
    os._exit(0)
os.waitpid(pid, 0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_has_the_default_sigterm_action_as_under_plain_python(tmp_path):
    """The recorder's SIGTERM handler (it finishes the trace) is not the child's: a
    Python-level handler turns a SIGTERM that lands just before a blocking C call into a
    hang (a pool worker in ``SemLock.acquire`` while ``Pool.terminate`` waits for it)."""
    (tmp_path / "app.py").write_text(FORKED_SIGTERM)
    plain = subprocess.run([sys.executable, "app.py"], cwd=tmp_path, capture_output=True)
    recorded = subprocess.run([*RECORDER, "--trace-dir", "t", "app.py"], cwd=tmp_path,
                              capture_output=True, timeout=60)
    assert plain.stdout == recorded.stdout == b"True\n", recorded.stderr
    # the recorder's own threads make no "multi-threaded, use of fork()" warning
    assert plain.stderr == recorded.stderr == b""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_program_that_forks_with_threads_of_its_own_is_warned_as_under_plain_python(tmp_path):
    (tmp_path / "app.py").write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(1,), daemon=True).start()\n"
        + FORKED_SIGTERM
    )
    plain = subprocess.run([sys.executable, "app.py"], cwd=tmp_path, capture_output=True)
    recorded = subprocess.run([*RECORDER, "--trace-dir", "t", "app.py"], cwd=tmp_path,
                              capture_output=True, timeout=60)
    warning = b"is multi-threaded, use of fork() may lead to deadlocks"
    assert (warning in plain.stderr) == (warning in recorded.stderr), recorded.stderr


POOL = """\
from multiprocessing import get_context
def square(x):
    return x * x
if __name__ == "__main__":
    with get_context("fork").Pool(4) as pool:
        print(sum(pool.map(square, range(200))))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_fork_pool_terminated_by_its_with_block_ends(tmp_path):
    (tmp_path / "app.py").write_text(POOL)
    for run in range(5):
        r = subprocess.run([*RECORDER, "--trace-dir", f"t{run}", "app.py"], cwd=tmp_path,
                           capture_output=True, timeout=60)
        assert (r.returncode, r.stdout) == (0, b"2646700\n"), r.stderr
