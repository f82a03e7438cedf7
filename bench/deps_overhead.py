#!/usr/bin/env python3
"""Cost of ``--deps-only`` capture and of replay, on loopback HTTP and Redis.

    python bench/deps_overhead.py [--calls 1000] [--runs 7]

Modes: plain Python, ``--deps record --deps-only`` and ``--deps replay`` (servers still up,
nothing reaches them). Each client program times its loop of CALLS calls and each call in it
(interpreter and recorder start-up excluded), then idles 0.3 s and reports its CPU time: the
capture's writer thread flushes every 0.1 s, so the CPU figure includes writing every record
of the loop (the loop's wall time may leave the last batch's work out). Runs are interleaved
and the mode order rotates each round, so drift and neighbours on a shared machine hit every
mode alike. Reported per mode, with the ratio to plain: the loop's wall time per call (median
over runs), each call's latency (median and p99 over all calls of all runs), the process's CPU
per call (all threads) and the program thread's. Nothing is asserted. HTTP: ``http.client``
on one keep-alive connection to a ThreadingHTTPServer in another process. Redis: redis-py
GET/SET to ``redis-server`` (skipped when it or redis-py is missing).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECORDER = Path(__file__).resolve().parent.parent / "recorder" / "python"

SERVER = r'''
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed ACK
    def log_message(self, *a): pass
    def do_GET(self):
        body = b'{"ok": true, "path": "%s"}' % self.path.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print("ready", flush=True)
s.serve_forever()
'''

HTTP_CLIENT = r'''
import http.client, sys, time
n, port = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port)
conn.request("GET", "/warm")
conn.getresponse().read()
lat, clock = [], time.perf_counter
t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
for i in range(n):
    a = clock()
    conn.request("GET", f"/item/{i % 50}")
    conn.getresponse().read()
    lat.append(clock() - a)
loop, main = time.perf_counter() - t0, time.thread_time() - m0
time.sleep(0.3)  # the capture writer's last batch
print(loop, time.process_time() - c0, main)
print(" ".join(f"{x:.6f}" for x in lat))
'''

REDIS_CLIENT = r'''
import sys, time, redis
n, port = int(sys.argv[1]), int(sys.argv[2])
r = redis.Redis(host="127.0.0.1", port=port)
r.ping()
lat, clock = [], time.perf_counter
t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
for i in range(n // 2):
    a = clock()
    r.set(f"k{i % 50}", i)
    b = clock()
    r.get(f"k{i % 50}")
    lat += [b - a, clock() - b]
loop, main = time.perf_counter() - t0, time.thread_time() - m0
time.sleep(0.3)  # the capture writer's last batch
print(loop, time.process_time() - c0, main)
print(" ".join(f"{x:.6f}" for x in lat))
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} did not start")


class Run:
    """One run of a client program: its loop's wall time, CPU times and each call's latency."""

    def __init__(self, argv, env) -> None:
        out = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if out.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {out.stderr.strip().splitlines()[-1:]}")
        lines = out.stdout.splitlines()  # the last one is empty for 0 calls
        loop, cpu, main = (float(x) for x in lines[-2].split())
        self.loop, self.cpu, self.main = loop, cpu, main
        self.latencies = [float(x) for x in lines[-1].split()]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def bench(name: str, program: str, port: int, calls: int, runs: int, work: Path) -> None:
    prog = work / f"{name}.py"
    prog.write_text(program, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(RECORDER))
    rec = [sys.executable, "-m", "codetracer_python_recorder", "--deps-only"]
    capture = work / f"{name}-capture"
    modes = {
        "plain": lambda tag: [sys.executable],
        "deps-only record": lambda tag: [*rec, "--deps", "record", "--trace-dir",
                                         str(work / f"{name}-{tag}")],
        "replay": lambda tag: [*rec, "--deps", f"replay={capture}"],
    }
    subprocess.run([*rec, "--deps", "record", "--trace-dir", str(capture), str(prog), str(calls),
                    str(port)], check=True, capture_output=True, env=env)
    runs_of: dict[str, list[Run]] = {m: [] for m in modes}
    order = list(modes)
    for i in range(runs):
        for mode in order[i % 3:] + order[:i % 3]:  # rotated: no mode always runs first
            runs_of[mode].append(Run([*modes[mode](str(i)), str(prog), str(calls), str(port)],
                                     env))

    def per_call(mode: str, field: str) -> float:
        return statistics.median(getattr(r, field) for r in runs_of[mode]) / calls

    def latencies(mode: str) -> list[float]:
        return [x for r in runs_of[mode] for x in r.latencies]

    base = {f: per_call("plain", f) for f in ("loop", "cpu", "main")}
    base_lat = latencies("plain")
    base_med, base_p99 = statistics.median(base_lat), pct(base_lat, 99)
    print(f"{name}: {calls} calls x {runs} runs per mode, interleaved; per call, x = ratio to "
          "plain. loop: the loop's wall time; latency: each call's; cpu: the process's CPU "
          "(all threads, the capture writer's too); main: the program thread's CPU")
    for mode in modes:
        lat = latencies(mode)
        med, p99 = statistics.median(lat), pct(lat, 99)
        cells = [f"loop {per_call(mode, 'loop') * 1e6:6.1f} us x{per_call(mode, 'loop') / base['loop']:.3f}",
                 f"latency median {med * 1e6:6.1f} us x{med / base_med:.3f}",
                 f"p99 {p99 * 1e6:7.1f} us x{p99 / base_p99:.3f}",
                 f"cpu {per_call(mode, 'cpu') * 1e6:6.1f} us x{per_call(mode, 'cpu') / base['cpu']:.3f}",
                 f"main {per_call(mode, 'main') * 1e6:6.1f} us x{per_call(mode, 'main') / base['main']:.3f}"]
        print(f"  {mode:17s} " + "  ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ct-deps-bench-"))
    procs = []
    try:
        port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-c", SERVER, str(port)],
                                      stdout=subprocess.PIPE, text=True))
        wait_port(port)
        bench("http.client", HTTP_CLIENT, port, opts.calls, opts.runs, work)
        try:
            import redis  # noqa: F401
        except ImportError:
            redis = None
        if shutil.which("redis-server") and redis is not None:
            rport = free_port()
            procs.append(subprocess.Popen(
                ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(work)], stdout=subprocess.DEVNULL))
            wait_port(rport)
            bench("redis-py", REDIS_CLIENT, rport, opts.calls, opts.runs, work)
        else:
            print("redis-py: skipped (needs redis-server and the redis package)")
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
