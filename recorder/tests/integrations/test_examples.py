"""``examples/starlette_app`` and ``examples/celery_app`` run as their READMEs say (on free
loopback ports instead of the READMEs' fixed ones): capture against the real servers, stop
them all, then the failing request / task run replays to the same outcome."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from integrations_support import (
    RedisServer,
    Uvicorn,
    app_env,
    free_port,
    need_redis,
    needs_recorder,
    run_ct,
    wait_port,
)

pytestmark = needs_recorder

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _pricing_api(folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(folder / "upstream.py"), str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_port(port, proc, "upstream.py")
    return proc, f"http://127.0.0.1:{port}"


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(20)


def _failing(caps: Path, kind: str) -> Path:
    for path in sorted(caps.glob("*.json")):
        data = json.loads(path.read_text())
        if data["kind"] == kind and data["exception"]:
            return path
    raise AssertionError(f"no failing {kind} capture in {sorted(p.name for p in caps.iterdir())}")


def test_starlette_example(tmp_path):
    pytest.importorskip("httpx")
    pytest.importorskip("starlette")
    import httpx

    folder = tmp_path / "starlette_app"
    shutil.copytree(EXAMPLES / "starlette_app", folder)
    api, url = _pricing_api(folder)
    try:
        env = app_env(PRICING_URL=url, CODETRACER_CAPTURE_DIR=folder / "captures")
        server = Uvicorn("app:create_app", env, tmp_path, cwd=folder, extra=["--factory"])
        try:
            ok = httpx.get(f"{server.url}/quote/widget?qty=3")
            bad = httpx.get(f"{server.url}/quote/gizmo?qty=2")
        finally:
            server.stop()
    finally:
        _stop(api)
    assert ok.json() == {"sku": "widget", "qty": 3, "total": "7.50"}
    assert bad.status_code == 500
    env = app_env(PRICING_URL=url, XDG_DATA_HOME=tmp_path / "data")
    listed = run_ct(["captures", "captures"], env=env, cwd=folder).stdout
    assert "startup  start-up" in listed and "500 (InvalidOperation)" in listed, listed
    done = run_ct(["replay-request", str(_failing(folder / "captures", "request")), "--app",
                   "app:create_app", "--factory"], env=env, cwd=folder)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert ("-> 500; 2 of 2 dependency calls answered from the capture (1 of the app's "
            "start-up)") in done.stdout
    assert "response matches the recording" in done.stdout


def test_celery_example(tmp_path):
    need_redis()
    pytest.importorskip("celery", reason="Celery is not installed (pip install celery[redis])")
    folder = tmp_path / "celery_app"
    shutil.copytree(EXAMPLES / "celery_app", folder)
    shutil.copytree(EXAMPLES / "starlette_app", tmp_path / "starlette_app")
    redis_server = RedisServer(tmp_path)
    api, url = _pricing_api(tmp_path / "starlette_app")
    broker = f"redis://127.0.0.1:{redis_server.port}/0"
    env = app_env(PRICING_URL=url, BROKER_URL=broker)
    try:
        with open(tmp_path / "worker.log", "w") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--loglevel=WARNING"],
                cwd=folder, env={**env, "CODETRACER_CAPTURE_DIR": "captures"}, stdout=log,
                stderr=subprocess.STDOUT)
            try:
                sent = subprocess.run([sys.executable, "send.py"], cwd=folder, env=env,
                                      capture_output=True, text=True, timeout=90)
            finally:
                _stop(worker)
    finally:
        _stop(api)
        redis_server.stop()
    assert sent.stdout.splitlines() == [
        "widget SUCCESS {'sku': 'widget', 'count': 40, 'value': '100.00'}",
        "gizmo FAILURE [<class 'decimal.ConversionSyntax'>]"], (sent.stdout, sent.stderr)
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    done = run_ct(["replay-task", str(_failing(folder / "captures", "task")), "--app", "tasks"],
                  env=env, cwd=folder)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "-> failure (recorded failure); 2 of 3 dependency calls answered" in done.stdout
    assert "outcome matches the recording" in done.stdout
