"""Run the recorder (and with it the user's program) as a plain child process.

No pipes: the child inherits stdin, stdout and stderr, so a TTY stays a TTY and output is
live. ``ct`` cannot ``exec`` because it indexes the trace afterwards, so it waits, forwards
termination signals it alone received (never one the child got too), and in the end dies the
way the child died (``end_like``). Signals set to ignored by ct's parent stay ignored. On
Linux the child gets SIGKILL when ct dies (``PR_SET_PDEATHSIG``), so ``kill -9`` of ct leaves
no orphan.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

from ct import appimage_run
from ct.errors import ENVIRONMENT, CtError

_FORWARDED = [s for s in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, s)]
# Signals a terminal sends to the whole foreground process group: the child already got them.
_TTY_SIGNALS = {getattr(signal, s) for s in ("SIGINT", "SIGQUIT") if hasattr(signal, s)}


def child_env() -> dict[str, str] | None:
    """The environment for child processes: ours untouched, except the bundle's changes.

    A frozen onedir ``ct`` runs with ``LD_LIBRARY_PATH`` pointing into the bundle (the
    bootloader saves the user's value in ``LD_LIBRARY_PATH_ORIG``); the program must see the
    user's value, not ours. ``None`` means "inherit exactly".
    """
    if not getattr(sys, "frozen", False):
        return None
    env = dict(os.environ)
    # AppRun keeps APPIMAGE for ct itself (`ct install`); the program must not see it.
    env.pop("APPIMAGE", None)
    for var in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"):
        orig = env.pop(var + "_ORIG", None)
        if orig is not None:
            env[var] = orig
        else:
            env.pop(var, None)
    # the bootloader's own bookkeeping (_PYI_ARCHIVE_FILE, _PYI_PARENT_PROCESS_LEVEL, ...)
    for key in [k for k in env if k.startswith("_PYI_") or k == "_MEIPASS2"]:
        del env[key]
    return env


def _terminal_already_delivered(signum: int) -> bool:
    """Fallback guess (platforms without ``sigtimedwait``): True when ``signum`` most likely
    came from our controlling terminal, which sends it to the whole foreground group."""
    if signum not in _TTY_SIGNALS:
        return False
    if os.name == "nt":
        return True  # console Ctrl-C goes to every process attached to the console
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp():
                return True
        except OSError:
            continue
    return False


def exit_status(returncode: int) -> int:
    """Shell convention: killed by signal N -> 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def _wanted_signals() -> list[int]:
    """The termination signals ct forwards: those the parent did not set to ignored (an
    ignored signal stays ignored, for ct and, through exec, for the program: `nohup`)."""
    out = []
    for name in _FORWARDED:
        sig = getattr(signal, name)
        try:
            if signal.getsignal(sig) is not signal.SIG_IGN:
                out.append(sig)
        except (ValueError, OSError):
            pass
    return out


def run(argv: list[str], env: dict[str, str] | None = None) -> int:
    """Run ``argv`` with inherited stdio, forwarding signals; return the shell-style status."""
    ended = run_child(argv, env)
    restore_signals()
    return ended.status


class Ended:
    """How the child ended: ``returncode`` as subprocess gives it (-N: killed by signal N)."""

    def __init__(self, returncode: int) -> None:
        self.returncode = returncode

    @property
    def status(self) -> int:
        return exit_status(self.returncode)

    @property
    def signal(self) -> int | None:
        return -self.returncode if self.returncode < 0 else None


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def run_child(argv: list[str], env: dict[str, str] | None = None) -> Ended:
    """Run ``argv`` until it ends. Termination signals sent to ct alone are forwarded once;
    those the child got anyway (a terminal's Ctrl-C, a signal to the whole process group)
    are not forwarded again. Afterwards those signals are deferred (see ``end_like``) until
    ``restore_signals`` or ``end_like``, so ct can still index the trace."""
    if hasattr(signal, "sigtimedwait") and hasattr(os, "fork"):
        return _run_sigwait(argv, env)
    return _run_handlers(argv, env)


def _start(argv: list[str], env, preexec=None) -> subprocess.Popen:
    try:
        return subprocess.Popen(argv, env=env, preexec_fn=preexec)
    except OSError as exc:
        raise CtError(
            f"cannot start {argv[0]}: {exc.strerror or exc}; check the interpreter "
            "(ct doctor shows which one is used)",
            ENVIRONMENT,
        ) from exc


def _run_handlers(argv: list[str], env) -> Ended:
    """Portable path (macOS, Windows): Python handlers, terminal signals guessed."""
    proc: subprocess.Popen | None = None
    pending: list[int] = []

    def handler(signum, _frame):
        if _terminal_already_delivered(signum):
            return
        if proc is None:
            pending.append(signum)
            return
        try:
            proc.send_signal(signum)
        except (ProcessLookupError, OSError):
            pass

    _install(_wanted_signals(), handler)
    proc = _start(argv, env)
    for signum in pending:
        proc.send_signal(signum)
    returncode = proc.wait()
    _defer(list(_previous))
    return Ended(returncode)


# Handlers replaced by ct (restored by restore_signals) and signals that reached ct after the
# child ended (they end ct once the trace is indexed).
_previous: dict[int, object] = {}
_late: list[int] = []


def _install(sigs: list[int], handler) -> None:
    for sig in sigs:
        try:
            old = signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread
            continue
        _previous.setdefault(sig, old)


def _defer(sigs: list[int]) -> None:
    _install(sigs, lambda signum, _frame: _late.append(signum))


def restore_signals() -> None:
    for sig, old in list(_previous.items()):
        try:
            signal.signal(sig, old)  # type: ignore[arg-type]
        except (ValueError, OSError, TypeError):
            pass
        del _previous[sig]


_SI_KERNEL = 0x80  # Linux si_code of signals the kernel (a terminal) generates


def _run_sigwait(argv: list[str], env) -> Ended:
    """POSIX path: the signals are blocked and taken with ``sigtimedwait``, which tells who
    sent each one. A terminal's Ctrl-C (si_code SI_KERNEL) already reached the child. A
    ``kill`` to the process group reached it too: a canary process in our group, blocking
    the same signals, shows whether the sender's signal reached it as well."""
    sigs = _wanted_signals()
    waited = {*sigs, signal.SIGCHLD}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    canary = _Canary.start(sigs) if sigs else None
    try:
        proc = _start(argv, env, _child_setup(os.getpid(), waited))
        group_signal_at = -10.0  # when a signal last reached the whole group (Ctrl-C, kill -PGID)
        while proc.poll() is None:
            info = signal.sigtimedwait(waited, 1.0)
            if info is None or info.si_signo == signal.SIGCHLD:
                continue
            if info.si_code == _SI_KERNEL or (canary is not None and canary.also_got(info)):
                group_signal_at = time.monotonic()
                continue
            if appimage_run.is_runtime_death(info) and time.monotonic() - group_signal_at < 2:
                continue  # the AppImage runtime died of the Ctrl-C the program already got
            try:
                proc.send_signal(info.si_signo)
            except (ProcessLookupError, OSError):
                pass
        # what arrived while the child was ending raced with its end: its status tells
        while signal.sigtimedwait(waited, 0) is not None:
            pass
        _defer(sigs)
    finally:
        if canary is not None:
            canary.stop()
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    return Ended(proc.returncode)


def _parent_death_signal():
    """``prctl(PR_SET_PDEATHSIG, SIGKILL)`` for the child (Linux), prepared before the fork
    so the child does no loading. Elsewhere ``None``: on macOS a SIGKILLed ct leaves the
    program running (as a SIGKILLed shell does); on Windows the program is not ended either."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.restype = ctypes.c_int
    return lambda: prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG


def _child_setup(parent: int, unblock: set[int]):
    set_pdeathsig = _parent_death_signal()

    def setup() -> None:  # runs in the child between fork and exec
        signal.pthread_sigmask(signal.SIG_UNBLOCK, unblock)
        if set_pdeathsig is not None:
            set_pdeathsig()
            if os.getppid() != parent:  # ct died before prctl took effect
                os.kill(os.getpid(), signal.SIGKILL)

    return setup


class _Canary:
    """A forked process in ct's group that only takes the forwarded signals and reports
    (signal, sender pid, si_code, time) on a pipe. When ct receives a signal that the canary
    also received from the same sender, it was sent to the whole group (``kill -INT -PGID``,
    a supervisor stopping a job), so the program got it too and forwarding would deliver it
    twice (a second KeyboardInterrupt in the program's own clean-up)."""

    WINDOW = 0.5  # seconds: the group's copies are queued by one kill() call

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self.fd = fd
        self.buffer = b""
        self.seen: list[tuple[int, int, int, float]] = []

    @classmethod
    def start(cls, sigs: list[int]) -> _Canary | None:
        rfd, wfd = os.pipe()
        set_pdeathsig = _parent_death_signal()
        parent = os.getpid()
        try:
            pid = os.fork()
        except OSError:
            os.close(rfd)
            os.close(wfd)
            return None
        if pid == 0:  # the canary: never returns
            try:
                os.close(rfd)
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)  # never hold the user's terminal or pipes open
                if set_pdeathsig is not None:
                    set_pdeathsig()
                if os.getppid() == parent:
                    while True:
                        info = signal.sigwaitinfo(sigs)
                        line = f"{info.si_signo} {info.si_pid} {info.si_code} {time.monotonic()}\n"
                        os.write(wfd, line.encode())
            finally:
                os._exit(0)
        os.close(wfd)
        os.set_blocking(rfd, False)
        return cls(pid, rfd)

    def also_got(self, info) -> bool:
        now = time.monotonic()
        deadline = now + self.WINDOW
        while True:
            self._read()
            for entry in self.seen:
                signo, pid, code, when = entry
                if (signo, pid, code) == (info.si_signo, info.si_pid, info.si_code) and abs(
                    when - now
                ) < self.WINDOW:
                    self.seen.remove(entry)
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            select.select([self.fd], [], [], left)

    def _read(self) -> None:
        try:
            while chunk := os.read(self.fd, 4096):
                self.buffer += chunk
        except BlockingIOError:
            pass
        *lines, self.buffer = self.buffer.split(b"\n")
        now = time.monotonic()
        for line in lines:
            signo, pid, code, when = line.split()
            self.seen.append((int(signo), int(pid), int(code), float(when)))
        self.seen = [e for e in self.seen if now - e[3] < 5 * self.WINDOW]

    def stop(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass
        os.close(self.fd)


def end_like(ended: Ended) -> int:
    """Called last, after the trace is indexed: end ct the way the program ended. A program
    killed by signal N kills ct with N too (a parent sees "killed by SIGINT", -2, not 130),
    without a core file of ct's own; a signal that reached ct after the program ended (while
    indexing) ends ct now. Otherwise returns the program's status."""
    restore_signals()
    appimage_run.finish()
    sig = ended.signal or (_late[0] if _late else None)
    if sig is None or os.name == "nt":
        return ended.status
    if appimage_run.runtime_alive():  # it reports a child killed by a signal as status 1
        return exit_status(-sig)
    die_by(sig)
    return exit_status(-sig)


def die_by(sig: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))  # the program's core, not ct's
    except (ImportError, OSError, ValueError):
        pass
    try:
        signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
    except (OSError, ValueError):  # SIGKILL cannot be handled or blocked anyway
        pass
    try:
        os.kill(os.getpid(), sig)
    except OSError:
        pass
