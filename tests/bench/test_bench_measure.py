"""measure.run_once: exit status, timeouts, and a peak RSS that is the child's own."""
import sys

import pytest
from ctbench import measure
from ctbench.measure import run_once


def test_exit_status_and_stderr_tail():
    res = run_once([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"])
    assert res.exit_code == 3 and not res.ok
    assert "boom" in res.stderr_tail


def test_timeout_kills_the_process_group():
    res = run_once([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert res.timed_out and not res.ok
    assert res.wall_s < 10
    assert res.cpu_at_kill_s is not None and res.cpu_at_kill_s < 0.4  # asleep, i.e. "hung"


def test_peak_rss_tracks_the_child_allocation():
    grab = "b = bytearray(150 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])"
    big = run_once([sys.executable, "-c", grab])
    if measure.GNU_TIME is None:
        pytest.skip("no /usr/bin/time: figures are documented upper bounds")
    # A fat parent must not show up in a small child's figure (fork + exec keeps the
    # parent's RSS high-water mark in ru_maxrss; measure.py avoids that).
    ballast = bytearray(200 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])
    small = run_once([sys.executable, "-c", "pass"])
    del ballast
    assert big.ok and small.ok
    assert big.max_rss_kb > 150 * 1024
    assert small.max_rss_kb < 60 * 1024
    assert big.max_rss_kb - small.max_rss_kb > 140 * 1024


def test_memory_cap_stops_a_runaway_child():
    res = run_once([sys.executable, "-c", "b = bytearray(2 * 1024**3)"], mem_cap_mb=512)
    assert res.exit_code != 0
    assert "MemoryError" in res.stderr_tail
