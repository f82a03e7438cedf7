"""One timed run of a command: wall time, the child's own peak RSS, exit status.

Peak RSS pitfall: Linux carries the RSS high-water mark of the forked copy of the parent into
the exec'd child (exec_mmap records the old mm's hiwater), so ru_maxrss of a child forked from
this ~15 MB runner can never read below 15 MB. The command is therefore started through GNU
`/usr/bin/time -f %M` (a ~1 MB C process), whose own child's ru_maxrss is the program's alone.
Without it we fall back to os.wait4's ru_maxrss and flag the figure as an upper bound.
A watchdog timer kills the whole process group at the timeout, and RLIMIT_AS caps memory so a
runaway recorder cannot take the shared machine down.
"""
from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

GNU_TIME = "/usr/bin/time" if shutil.which("/usr/bin/time") else None
RSS_METHOD = "GNU time %M (child only)" if GNU_TIME else "wait4 ru_maxrss (upper bound)"


@dataclass
class RunResult:
    wall_s: float
    max_rss_kb: int
    exit_code: int
    timed_out: bool = False
    stderr_tail: str = ""
    cpu_at_kill_s: float | None = None  # CPU the process group had used when killed

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def to_dict(self) -> dict:
        return asdict(self)


def group_cpu_seconds(pgid: int) -> float | None:
    """user+system CPU of every live process in group `pgid`, read from /proc (Linux only).

    Taken just before a timeout kill: a run that used almost no CPU was hung, not slow.
    """
    total, ticks, seen = 0, os.sysconf("SC_CLK_TCK"), False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after "(comm)": state ppid pgrp ... utime stime
            total += int(fields[11]) + int(fields[12])
            seen = True
    return total / ticks if seen else None


def _limit_memory(cap_bytes: int | None):
    def apply() -> None:
        if cap_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

    return apply


def run_once(cmd: list[str], *, cwd: Path | None = None, env: dict | None = None,
             timeout: float | None = None, mem_cap_mb: int | None = None) -> RunResult:
    """Run `cmd` once, stdout discarded, stderr kept (its tail explains failures)."""
    cap = mem_cap_mb * 1024 * 1024 if mem_cap_mb else None
    timed_out = threading.Event()
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss_file:
        if GNU_TIME:
            cmd = [GNU_TIME, "-q", "-f", "%M", "-o", rss_file.name, *cmd]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                                preexec_fn=_limit_memory(cap))

        cpu_at_kill: list[float | None] = [None]

        def kill() -> None:
            cpu_at_kill[0] = group_cpu_seconds(proc.pid)
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        try:  # reap any leftovers of the group (a killed recorder's helpers)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        err.seek(0)
        tail = err.read()[-2000:].decode(errors="replace")
        rss_kb = int(usage.ru_maxrss)
        if GNU_TIME:
            lines = rss_file.read().split()
            rss_kb = int(lines[-1]) if lines and lines[-1].isdigit() else rss_kb
    return RunResult(wall_s=wall, max_rss_kb=rss_kb, exit_code=proc.returncode,
                     timed_out=timed_out.is_set(), stderr_tail=tail,
                     cpu_at_kill_s=cpu_at_kill[0])
