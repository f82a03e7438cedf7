"""Shared parts of the integration tests: the deps tests' real services (HTTP, Redis,
PostgreSQL; loaded from ``recorder/tests/deps/conftest.py`` under a name of its own), a
uvicorn server in a subprocess, and the environment for the apps under ``apps/``."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
TESTS = HERE.parent

_spec = importlib.util.spec_from_file_location("_ct_deps_services", TESTS / "deps" / "conftest.py")
services = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(services)

RECORDER_PARENT = services.RECORDER_PARENT
needs_recorder = services.needs_recorder
free_port = services.free_port
HttpServer = services.HttpServer
RedisServer = services.RedisServer
PostgresServer = services.PostgresServer
pg_bin = services._pg_bin


def bin_dir() -> str:
    """The folder of this interpreter's console scripts (uvicorn, celery, ct)."""
    return str(Path(sys.executable).parent)


def app_env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(APPS), RECORDER_PARENT) if p)
    env["PATH"] = bin_dir() + os.pathsep + env.get("PATH", "")
    env["CODETRACER_PYTHON_INTERPRETER"] = sys.executable
    for name in ("CODETRACER_DEPS", "CODETRACER_CAPTURE_DIR"):
        env.pop(name, None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}: {out[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} in {timeout} s")


class Uvicorn:
    """``uvicorn module:app`` on a free loopback port, in a process of its own."""

    def __init__(self, target: str, env: dict, workdir: Path, *, cwd: Path = APPS,
                 extra: tuple | list = ()) -> None:
        pytest.importorskip("uvicorn", reason="uvicorn is not installed (pip install uvicorn)")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / f"uvicorn-{self.port}.log", "w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port",
             str(self.port), "--log-level", "warning", "--no-access-log", *extra],
            cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT, text=True)
        try:
            wait_port(self.port, self.proc, "uvicorn")
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()  # uvicorn shuts down gracefully: captures are flushed
            self.proc.wait(20)
        self.log.seek(0)
        return self.log.read()


def need_redis() -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    pytest.importorskip("redis", reason="redis-py is not installed (pip install redis)")


def run_ct(args, *, env, cwd=APPS, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ct", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def load_captures(directory: Path) -> list[dict]:
    import json

    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))]
