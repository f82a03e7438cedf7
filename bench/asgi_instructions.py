"""What CodeTracerMiddleware adds to a request, in instructions: the server of
``asgi_capture.py`` run under callgrind, counted over N requests after a warm-up.

    python bench/asgi_instructions.py [--requests 1000] [--layouts 0 7 31 101] [--modes none off]

Wall time on a shared 2-core VM moves by ±5 % between identical runs, which hides a 1 % target;
instruction counts do not move with the load. They do move with the heap's layout: the same
server costs up to ~1 % more instructions per request when a few hundred KiB of unrelated
buffers were left on the heap at start-up (glibc's ``malloc`` walks other free lists), and
importing any module shifts that layout. So every mode is measured over the same set of
start-up layouts (``BENCH_LAYOUT``: that many seeded buffers, half of them freed; 0 = none),
and the ratio is taken layout by layout. Needs ``valgrind`` (``callgrind_control``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from asgi_capture import APP, REPO, _free_port, _wait  # noqa: E402

WARMUP = 300


def count(mode: str, layout: int, work: Path, n: int) -> float:
    """Instructions per request of one server (all its threads), after the warm-up."""
    import httpx

    port = _free_port()
    env = dict(os.environ, BENCH_MODE=mode, BENCH_LAYOUT=str(layout), PYTHONPATH=os.pathsep.join(
        [str(work), str(REPO / "recorder" / "python")]))
    env.pop("CODETRACER_CAPTURE_DIR", None)
    caps = work / f"caps-{port}"
    if mode == "on":
        env["CODETRACER_CAPTURE_DIR"] = str(caps)
    out = work / f"callgrind-{port}"
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m",
         "uvicorn", "bench_app:app", "--port", str(port), "--log-level", "warning",
         "--no-access-log"], cwd=work, env=env, stderr=subprocess.DEVNULL)
    try:
        _wait(port, server, timeout=300)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            for i in range(WARMUP):
                client.get(f"/items/{i % 50}")
            _control("-z", server.pid)
            for i in range(n):
                assert client.get(f"/items/{i % 50}").status_code == 200
            if mode == "on":  # the capture files' writer thread counts too
                while len(list(caps.glob("*.json"))) < WARMUP + n:
                    if server.poll() is not None:
                        raise SystemExit("server exited before writing its captures")
                    time.sleep(0.05)
            _control("-d", server.pid)
    finally:
        server.terminate()
        server.wait(120)
    dump = next(p for p in work.glob(f"callgrind-{port}.*") if p.suffix != "")
    total = re.search(r"^(?:summary|totals): (\d+)", dump.read_text(), re.M)
    if total is None:
        raise SystemExit(f"no instruction total in {dump}")
    for p in work.glob(f"callgrind-{port}*"):
        p.unlink()
    shutil.rmtree(caps, ignore_errors=True)
    return int(total.group(1)) / n


def _control(flag: str, pid: int) -> None:
    subprocess.run(["callgrind_control", flag, str(pid)], check=True, capture_output=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--layouts", type=int, nargs="+", default=[0, 7, 31, 101])
    ap.add_argument("--modes", nargs="+", default=["none", "off"], choices=["none", "off", "on"])
    a = ap.parse_args()
    if shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="ct-bench-asgi-instr-") as tmp:
        work = Path(tmp)
        (work / "bench_app.py").write_text(APP)
        for layout in a.layouts:
            row = {m: count(m, layout, work, a.requests) for m in a.modes}
            rows.append(row)
            print(f"layout {layout:>4}: " + "  ".join(
                f"{m} {row[m] / 1000:.1f}k" + (f" (x{row[m] / row['none']:.4f})"
                                              if m != "none" and "none" in row else "")
                for m in a.modes), flush=True)
    if "none" in a.modes:
        for m in a.modes:
            if m != "none":
                ratios = [r[m] / r["none"] for r in rows]
                print(f"{m}: x{statistics.mean(ratios):.4f} of none, mean over "
                      f"{len(rows)} layouts (min x{min(ratios):.4f}, max x{max(ratios):.4f}); "
                      f"+{statistics.mean(r[m] - r['none'] for r in rows) / 1000:.1f}k "
                      "instructions per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
