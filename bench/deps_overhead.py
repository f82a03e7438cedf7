#!/usr/bin/env python3
"""Cost of ``--deps-only`` capture and of replay, on loopback HTTP and Redis.

    python bench/deps_overhead.py [--calls 1000] [--runs 5]

Each client program times its own loop of CALLS calls (interpreter start-up excluded): wall
time, the process's CPU time and the program thread's CPU time (what capture adds to the
program's own path; the two CPU figures are disturbed less by a busy shared machine), and is
run RUNS times per mode: plain Python, ``--deps record --deps-only`` and ``--deps replay``
(servers still up, nothing reaches them). Medians are printed; nothing is asserted. HTTP:
``http.client`` on one keep-alive connection to a ThreadingHTTPServer in another process.
Redis: redis-py GET/SET to ``redis-server`` (skipped when it or redis-py is missing).
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
t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
for i in range(n):
    conn.request("GET", f"/item/{i % 50}")
    conn.getresponse().read()
print(time.perf_counter() - t0, time.process_time() - c0, time.thread_time() - m0)
'''

REDIS_CLIENT = r'''
import sys, time, redis
n, port = int(sys.argv[1]), int(sys.argv[2])
r = redis.Redis(host="127.0.0.1", port=port)
r.ping()
t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
for i in range(n // 2):
    r.set(f"k{i % 50}", i)
    r.get(f"k{i % 50}")
print(time.perf_counter() - t0, time.process_time() - c0, time.thread_time() - m0)
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


def timed(argv, env) -> tuple[float, float, float]:
    """(wall, process CPU, program-thread CPU) seconds of the loop, as the program reports."""
    out = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {out.stderr.strip().splitlines()[-1:]}")
    wall, cpu, main = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu), float(main)


def bench(name: str, program: str, port: int, calls: int, runs: int, work: Path) -> None:
    prog = work / f"{name}.py"
    prog.write_text(program, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(RECORDER))
    rec = [sys.executable, "-m", "codetracer_python_recorder", "--deps-only"]
    args = [str(prog), str(calls), str(port)]
    capture = work / f"{name}-capture"
    modes = {
        "plain": lambda i: [sys.executable, *args],
        "deps-only record": lambda i: [*rec, "--deps", "record", "--trace-dir",
                                       str(work / f"{name}-{i}"), *args],
        "replay": lambda i: [*rec, "--deps", f"replay={capture}", *args],
    }
    subprocess.run([*rec, "--deps", "record", "--trace-dir", str(capture), *args], check=True,
                   capture_output=True, env=env)
    times: dict[str, list[tuple[float, float, float]]] = {m: [] for m in modes}
    for i in range(runs):  # interleaved, so drift hits every mode alike
        for mode, argv in modes.items():
            times[mode].append(timed(argv(i), env))
    base = [statistics.median(t[k] for t in times["plain"]) for k in range(3)]
    print(f"{name}: {calls} calls, median of {runs} runs. wall: the loop's time; cpu: the "
          "process's CPU (all threads, the capture's writer thread too); main: the program "
          "thread's CPU")
    for mode, values in times.items():
        med = [statistics.median(t[k] for t in values) for k in range(3)]
        cells = [f"{label} {v * 1000:7.1f} ms x{v / b:.3f}"
                 for label, v, b in zip(("wall", "cpu", "main"), med, base, strict=True)]
        extra = (med[2] - base[2]) / calls * 1e6
        print(f"  {mode:17s} " + "   ".join(cells) + f"   ({extra:+.1f} us/call on the "
              "program thread)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
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
