"""The launcher with a real child process: status, signals, inherited stdio and TTYs."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time

import pytest
from ct_helpers import SRC, read_pty_until_closed

from ct import launch

# A tiny "ct" stand-in: runs argv[1:] through ct.launch.run and exits with its status.
RUNNER = f"import sys; sys.path.insert(0, {str(SRC)!r}); from ct import launch; sys.exit(launch.run(sys.argv[1:]))"


def test_exit_status_is_the_childs():
    assert launch.run([sys.executable, "-c", "raise SystemExit(3)"]) == 3
    assert launch.run([sys.executable, "-c", "pass"]) == 0


def test_killed_child_reports_128_plus_signal():
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    assert launch.run([sys.executable, "-c", code]) == 128 + signal.SIGKILL


def test_stdin_stdout_stderr_are_inherited_not_piped(tmp_path):
    child = "import sys; data = sys.stdin.read(); print(data.upper()); print('err', file=sys.stderr)"
    r = subprocess.run([sys.executable, "-c", RUNNER, sys.executable, "-c", child],
                       input="hello\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    assert r.stdout == "HELLO\n\n"
    assert r.stderr == "err\n"


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_signals_sent_to_ct_reach_the_program(tmp_path, signame):
    sig = getattr(signal, signame)
    ready = tmp_path / "ready"
    child = (
        "import signal, sys, time, pathlib\n"
        f"signal.signal({int(sig)}, lambda s, f: (print('got', s, flush=True), sys.exit(7)))\n"
        f"pathlib.Path({str(ready)!r}).write_text('x')\n"
        "time.sleep(30)\n"
        "print('not interrupted')\n"
    )
    p = subprocess.Popen([sys.executable, "-c", RUNNER, sys.executable, "-c", child],
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                         start_new_session=True)
    deadline = time.time() + 30
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.05)
    p.send_signal(sig)
    out, _ = p.communicate(timeout=30)
    assert out == f"got {int(sig)}\n"
    assert p.returncode == 7


def test_a_tty_stays_a_tty():
    """stdin/stdout on a pseudo-terminal: the program must see a TTY and write live."""
    child = "import os, sys; print('tty', os.isatty(0), os.isatty(1), sys.stdout.isatty())"
    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-c", RUNNER, sys.executable, "-c", child],
                         stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = read_pty_until_closed(master)
    p.wait(timeout=30)
    os.close(master)
    assert b"tty True True True" in chunks
    assert p.returncode == 0


def test_frozen_child_env_undoes_the_bundles_changes(monkeypatch):
    """A frozen ct: PyInstaller's LD_LIBRARY_PATH and AppRun's APPIMAGE must not reach the program."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", "/tmp/.mount_x/usr/lib/ct")
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/opt/user/lib")
    monkeypatch.setenv("APPIMAGE", "/home/u/CodeTracer.AppImage")
    monkeypatch.setenv("KEEP_ME", "1")
    env = launch.child_env()
    assert env["LD_LIBRARY_PATH"] == "/opt/user/lib"
    assert "LD_LIBRARY_PATH_ORIG" not in env and "APPIMAGE" not in env and env["KEEP_ME"] == "1"
    monkeypatch.delenv("LD_LIBRARY_PATH_ORIG")
    assert "LD_LIBRARY_PATH" not in launch.child_env()
    monkeypatch.delattr(sys, "frozen")
    assert launch.child_env() is None  # not frozen: inherit exactly


def _own_terminal():
    """preexec: a new session with the pty (stdin) as controlling terminal, like a shell job."""
    import fcntl
    import termios

    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_ctrl_c_in_a_terminal_reaches_the_program_and_ct_survives_it():
    """Ctrl-C goes to the whole foreground group. The program must get the terminal's SIGINT
    (si_pid 0: sent by the kernel), and ct must outlive it to report the program's status;
    ct does not forward it again (a duplicate would show up as a second delivery, though
    standard signals can coalesce, so that part is not asserted)."""
    child = (
        "import signal, time\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\n"
        "print('ready', flush=True)\n"
        "got = []\n"
        "while True:\n"
        "    info = signal.sigtimedwait({signal.SIGINT}, 1.0 if got else 30)\n"
        "    if info is None:\n"
        "        break\n"
        "    got.append(info.si_pid)\n"
        "print('deliveries', got, flush=True)\n"
        "raise SystemExit(7)\n"
    )
    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-c", RUNNER, sys.executable, "-c", child],
                         stdin=slave, stdout=slave, stderr=slave, preexec_fn=_own_terminal)
    os.close(slave)
    out = b""
    deadline = time.time() + 30
    while b"ready" not in out and time.time() < deadline:
        out += os.read(master, 1024)
    time.sleep(0.2)
    os.write(master, b"\x03")
    out += read_pty_until_closed(master)
    p.wait(timeout=30)
    os.close(master)
    assert b"deliveries [0" in out, out
    assert p.returncode == 7  # ct was not killed by the SIGINT; it returned the program's status
