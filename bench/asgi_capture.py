"""What CodeTracerMiddleware adds to a request: a Starlette app under uvicorn on loopback,
served three ways, each driven by one keep-alive httpx client:

- ``none``: no middleware;
- ``off``: the middleware, capture off (no ``CODETRACER_CAPTURE_DIR``);
- ``on``: the middleware writing one capture file per request.

    python bench/asgi_capture.py [--requests 2000] [--rounds 3] [--deps] [--interleave]
                                 [--dir DIR]

Modes alternate round by round, their order rotating each round (so drift and neighbours on
a shared machine hit all alike); each round starts a fresh server and warms it up with 200
requests. ``--interleave``: each round starts the three servers at once and the requests take
turns, one to each mode, so the machine's bursts of noise land on every mode alike (p99). Prints median and p99 latency per mode over all rounds, their ratio to ``none``, and
the server's CPU per request (for ``on`` counted until every capture is on disk, so the
writer thread's work is in it). ``--deps``: the endpoint also makes one Redis GET (a
``redis-server`` on a free port), so ``on`` captures a dependency call per request.
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
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODES = ("none", "off", "on")

APP = textwrap.dedent('''
    import os
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    REDIS = os.environ.get("BENCH_REDIS")
    if REDIS:
        import redis.asyncio
        client = redis.asyncio.Redis(port=int(REDIS))

    async def item(request):
        item_id = request.path_params["item_id"]
        name = (await client.get(f"item:{item_id}")) if REDIS else b"x"
        return JSONResponse({"item": item_id, "name": name.decode() if name else None,
                             "tags": ["a", "b", "c"], "price": 12.5})

    app = Starlette(routes=[Route("/items/{item_id:int}", item)])
    if os.environ["BENCH_MODE"] != "none":
        from codetracer_python_recorder.integrations.asgi import CodeTracerMiddleware
        app.add_middleware(CodeTracerMiddleware)

    # BENCH_LAYOUT=K (asgi_instructions.py): leave K buffers of seeded sizes on the heap, so
    # each mode is measured over the same set of start-up heap layouts
    LAYOUT = int(os.environ.get("BENCH_LAYOUT", "0"))
    if LAYOUT:
        import random
        sizes = random.Random(LAYOUT)
        heap = [bytearray(sizes.randrange(600, 40000)) for _ in range(LAYOUT)]
        del heap[::2]
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


class _Server:
    """One uvicorn serving the app in one mode, warmed up with 200 requests."""

    WARMUP = 200

    def __init__(self, mode: str, work: Path, redis_port: int | None) -> None:
        import httpx

        self.mode, self.port = mode, _free_port()
        env = dict(os.environ, BENCH_MODE=mode, PYTHONPATH=os.pathsep.join(
            [str(work), str(REPO / "recorder" / "python")]))
        env.pop("CODETRACER_CAPTURE_DIR", None)
        self.caps = work / f"caps-{mode}-{self.port}"
        if mode == "on":
            env["CODETRACER_CAPTURE_DIR"] = str(self.caps)
        if redis_port:
            env["BENCH_REDIS"] = str(redis_port)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench_app:app", "--port", str(self.port),
             "--log-level", "warning", "--no-access-log"], cwd=work, env=env)
        _wait(self.port, self.proc)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}")
        for i in range(self.WARMUP):
            self.client.get(f"/items/{i % 50}")
        self.cpu0 = _cpu(self.proc.pid)

    def get(self, i: int) -> float:
        t0 = time.perf_counter()
        r = self.client.get(f"/items/{i % 50}")
        elapsed = time.perf_counter() - t0
        assert r.status_code == 200, r.text
        return elapsed

    def stop(self, n: int) -> None:
        """Counts the server's CPU per request (for ``on`` once every capture is on disk: the
        writer thread's work counts too), then stops it."""
        try:
            if self.mode == "on":
                deadline = time.time() + 60
                while (len(list(self.caps.glob("*.json"))) < n + self.WARMUP
                       and time.time() < deadline):
                    time.sleep(0.05)
            CPU[self.mode].append((_cpu(self.proc.pid) - self.cpu0) / n)
        finally:
            self.client.close()
            self.proc.terminate()
            self.proc.wait(30)
        if self.mode == "on":
            written = len(list(self.caps.glob("*.json")))
            assert written == n + self.WARMUP, f"{written} captures for {n + self.WARMUP} requests"
            shutil.rmtree(self.caps)


def _round(mode: str, work: Path, n: int, redis_port: int | None) -> list[float]:
    server = _Server(mode, work, redis_port)
    try:
        return [server.get(i) for i in range(n)]
    finally:
        server.stop(n)


def _interleaved_round(work: Path, n: int, redis_port: int | None) -> dict[str, list[float]]:
    """The three servers up at once, one request to each in turn (the order rotating), so a
    burst of noise from the machine hits every mode alike."""
    servers = [_Server(mode, work, redis_port) for mode in MODES]
    times: dict[str, list[float]] = {m: [] for m in MODES}
    try:
        for i in range(n):
            for server in servers[i % 3:] + servers[:i % 3]:
                times[server.mode].append(server.get(i))
    finally:
        for server in servers:
            server.stop(n)
    return times


CPU: dict[str, list[float]] = {m: [] for m in MODES}


def _cpu(pid: int) -> float:
    """The server's user + system CPU seconds so far (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--deps", action="store_true", help="one Redis GET per request")
    ap.add_argument("--interleave", action="store_true",
                    help="the three servers at once, requests taking turns (else one mode "
                         "per server run)")
    ap.add_argument("--dir", default=None,
                    help="where the app and its captures go (default: the system temp dir; "
                         "file creation cost differs a lot between file systems)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ct-bench-asgi-", dir=a.dir) as tmp:
        work = Path(tmp)
        (work / "bench_app.py").write_text(APP)
        redis_proc, redis_port = None, None
        if a.deps:
            redis_port = _free_port()
            redis_proc = subprocess.Popen(
                ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
            _wait(redis_port, redis_proc)
            import redis

            redis.Redis(port=redis_port).mset({f"item:{i}": f"name-{i}" for i in range(50)})
        try:
            samples: dict[str, list[float]] = {m: [] for m in MODES}
            for i in range(a.rounds):
                if a.interleave:
                    for mode, times in _interleaved_round(work, a.requests, redis_port).items():
                        samples[mode] += times
                    continue
                # rotated: a mode always run first would meet other neighbours than the rest
                for mode in MODES[i % 3:] + MODES[:i % 3]:
                    samples[mode] += _round(mode, work, a.requests, redis_port)
        finally:
            if redis_proc is not None:
                redis_proc.terminate()
                redis_proc.wait(10)
    base_med, base_p99 = statistics.median(samples["none"]), _pct(samples["none"], 99)
    print(f"{a.rounds} rounds x {a.requests} requests per mode"
          + (", one Redis GET each" if a.deps else "")
          + (", modes taking turns request by request" if a.interleave else ""))
    print(f"{'mode':<6}{'median ms':>11}{'p99 ms':>9}{'median x':>10}{'p99 x':>8}"
          f"{'server CPU/request ms':>23}")
    for mode in MODES:
        med, p99 = statistics.median(samples[mode]), _pct(samples[mode], 99)
        cpu = statistics.median(CPU[mode]) * 1000 if CPU[mode] else float("nan")
        print(f"{mode:<6}{med * 1000:>11.3f}{p99 * 1000:>9.3f}"
              f"{med / base_med:>10.3f}{p99 / base_p99:>8.3f}{cpu:>23.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
