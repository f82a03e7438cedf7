"""Signals through ``ct record`` and the launcher: Ctrl-C (to the whole process group, with
and without a terminal, once or twice), kills, ignored signals and orphans.

Every child starts with SIGINT at its default action: run as a background job of a
non-interactive shell, the suite itself inherits SIGINT ignored, and ct rightly keeps an
ignored signal ignored (commit 5456a86 describes the trap).
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ct_helpers import (  # noqa: F401 (pytest fixtures)
    SRC,
    ct_cmd,
    ct_env_fixture,
    read_pty_until_closed,
    recorder_py_fixture,
    run_ct,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and process groups")

# A tiny "ct" stand-in: runs argv[1:] like `ct record` runs the recorder, ends like it.
RUNNER = (
    f"import sys; sys.path.insert(0, {str(SRC)!r}); from ct import launch; "
    "sys.exit(launch.end_like(launch.run_child(sys.argv[1:])))"
)

SLEEPER = (
    "import pathlib, sys, time\n"
    "pathlib.Path(sys.argv[1]).write_text('x')\n"
    "while True:\n"
    "    time.sleep(0.01)\n"
)

# Takes its SIGINTs one by one and prints who sent each (sigwaitinfo's si_pid).
SENDERS = (
    "import pathlib, signal, sys\n"
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\n"
    "pathlib.Path(sys.argv[1]).write_text('x')\n"
    "senders = []\n"
    "while True:\n"
    "    info = signal.sigtimedwait({signal.SIGINT}, 2 if senders else 120)\n"
    "    if info is None:\n"
    "        break\n"
    "    senders.append(info.si_pid)\n"
    "print(*senders, flush=True)\n"
)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(path: Path, proc: subprocess.Popen, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)
    time.sleep(0.2)


def _meta(folder: Path) -> dict:
    return json.loads((folder / "trace_metadata.json").read_text())


def _env(ct_env, recorder_py) -> dict[str, str]:
    return {**ct_env, "CODETRACER_PYTHON_INTERPRETER": recorder_py}


@pytest.mark.parametrize("times", [1, 2])
def test_group_sigint_without_a_terminal_ends_like_python_and_keeps_the_trace(
        ct_env, recorder_py, tmp_path, times):
    """`setsid`, output redirected, SIGINT to the whole group (ct, recorder and program)."""
    (tmp_path / "app.py").write_text(SLEEPER)
    ready = tmp_path / "ready"
    p = subprocess.Popen(ct_cmd("record", "-o", str(tmp_path / "t"), "app.py", str(ready)),
                         cwd=tmp_path, env=_env(ct_env, recorder_py), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=_default_sigint)
    _wait_for(ready, p)
    for _ in range(times):
        os.killpg(p.pid, signal.SIGINT)
        time.sleep(0.05)
    _, err = p.communicate(timeout=120)
    assert p.returncode == -signal.SIGINT, err  # like plain python, not 130
    lines = err.splitlines()
    assert lines[0] == "Traceback (most recent call last):" and "KeyboardInterrupt" in lines
    assert "codetracer_python_recorder" not in err and "/ct/" not in err, err
    assert lines[-1].startswith("ct: trace saved to")
    assert _meta(tmp_path / "t")["interrupted"] == "SIGINT"
    rows = json.loads(run_ct(["list", "--json"], env=ct_env).stdout)
    assert [r["trace_dir"] for r in rows] == [str(tmp_path / "t")]


def _own_terminal() -> None:
    """A new session with the pty (stdin) as controlling terminal, like a shell's job."""
    import fcntl
    import termios

    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    _default_sigint()


@pytest.mark.parametrize("times", [1, 2])
def test_ctrl_c_at_a_terminal_keeps_the_trace_and_ct_dies_by_sigint(
        ct_env, recorder_py, tmp_path, times):
    (tmp_path / "app.py").write_text(SLEEPER)
    ready = tmp_path / "ready"
    master, slave = pty.openpty()
    p = subprocess.Popen(ct_cmd("record", "-o", str(tmp_path / "t"), "app.py", str(ready)),
                         cwd=tmp_path, env=_env(ct_env, recorder_py), stdin=slave, stdout=slave,
                         stderr=slave, preexec_fn=_own_terminal)
    os.close(slave)
    _wait_for(ready, p)
    for _ in range(times):
        os.write(master, b"\x03")
        time.sleep(0.05)
    out = read_pty_until_closed(master).replace(b"\r\n", b"\n").decode()
    p.wait(timeout=120)
    os.close(master)
    assert p.returncode == -signal.SIGINT, out
    assert "KeyboardInterrupt" in out and "codetracer_python_recorder" not in out, out
    assert "ct: trace saved to" in out
    assert _meta(tmp_path / "t")["interrupted"] == "SIGINT"


@pytest.mark.parametrize("target", ["group", "ct alone"])
def test_one_sigint_is_delivered_once(tmp_path, target):
    """Sent to the group, the program got it already: ct must not deliver it a second time
    (a second KeyboardInterrupt in the program's own clean-up). Sent to ct alone
    (`kill -INT PID`, a parent's send_signal), ct forwards it once. (Two standard signals can
    merge while pending, so a duplicate can hide; it shows as a second sender when not.)"""
    ready = tmp_path / "ready"
    p = subprocess.Popen([sys.executable, "-c", RUNNER, sys.executable, "-c", SENDERS, str(ready)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, preexec_fn=_default_sigint)
    _wait_for(ready, p)
    if target == "group":
        os.killpg(p.pid, signal.SIGINT)
    else:
        p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert out.split() == [str(os.getpid() if target == "group" else p.pid)], err
    assert p.returncode == 0


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP", "SIGQUIT", "SIGKILL"])
def test_ct_dies_by_the_signal_that_killed_the_program(ct_env, recorder_py, tmp_path, signame):
    """A parent of `ct record` sees what a parent of `python` sees; with no trace, one line
    names the signal (nothing above explains it)."""
    sig = getattr(signal, signame)
    code = f"import os, signal\nprint('hi', flush=True)\nos.kill(os.getpid(), {int(sig)})\n"
    (tmp_path / "app.py").write_text(code)
    plain = subprocess.run([recorder_py, "app.py"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=120)
    r = run_ct(["record", "-o", tmp_path / "t", "app.py"], env=_env(ct_env, recorder_py),
               cwd=tmp_path, preexec_fn=_default_sigint)
    assert r.returncode == plain.returncode == -sig
    assert r.stdout == "hi\n"
    if signame == "SIGTERM":  # the recorder finishes the trace first
        assert _meta(tmp_path / "t")["interrupted"] == "SIGTERM"
        assert r.stderr.startswith("ct: trace saved to"), r.stderr
    else:
        assert r.stderr == f"ct: no trace: the program was killed by {signame}\n"
        assert not (tmp_path / "t").exists()


def test_program_exiting_130_is_not_a_signal(ct_env, recorder_py, tmp_path):
    (tmp_path / "app.py").write_text("raise SystemExit(130)\n")
    r = run_ct(["record", "-q", "-o", tmp_path / "t", "app.py"], env=_env(ct_env, recorder_py),
               cwd=tmp_path)
    assert r.returncode == 130 and r.stderr == ""


def _ignore_sighup() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # what nohup does
    _default_sigint()


def test_nohup_ct_record_survives_sighup(ct_env, recorder_py, tmp_path):
    (tmp_path / "app.py").write_text(
        "import pathlib, sys, time\n"
        "pathlib.Path(sys.argv[1]).write_text('x')\n"
        "time.sleep(1.5)\n"
        "print('finished', flush=True)\n"
    )
    ready = tmp_path / "ready"
    p = subprocess.Popen(ct_cmd("record", "-q", "-o", str(tmp_path / "t"), "app.py", str(ready)),
                         cwd=tmp_path, env=_env(ct_env, recorder_py), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=_ignore_sighup)
    _wait_for(ready, p)
    os.killpg(p.pid, signal.SIGHUP)
    p.send_signal(signal.SIGHUP)
    out, err = p.communicate(timeout=120)
    assert (p.returncode, out, err) == (0, "finished\n", "")
    assert _meta(tmp_path / "t")["exit_status"] == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose (its parent is gone; init reaps it)
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_sigkill_to_ct_leaves_no_orphan(ct_env, recorder_py, tmp_path):
    (tmp_path / "app.py").write_text(
        "import os, pathlib, sys, time\n"
        "pathlib.Path(sys.argv[1]).write_text(str(os.getpid()))\n"
        "time.sleep(300)\n"
    )
    ready = tmp_path / "ready"
    p = subprocess.Popen(ct_cmd("record", "-q", "-o", str(tmp_path / "t"), "app.py", str(ready)),
                         cwd=tmp_path, env=_env(ct_env, recorder_py), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    _wait_for(ready, p)
    program = int(ready.read_text())
    assert program != p.pid and _alive(program)
    p.kill()
    p.wait(timeout=60)
    deadline = time.monotonic() + 60
    while _alive(program) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(program), "the recorded program outlived a SIGKILLed ct"
