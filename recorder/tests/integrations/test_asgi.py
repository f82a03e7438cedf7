"""CodeTracerMiddleware under uvicorn (Starlette and FastAPI) with real Redis and HTTP
services, driven by httpx with concurrent requests; then every server is stopped and
captured requests are replayed with `ct replay-request`."""

from __future__ import annotations

import asyncio
import json
import re
import sys

import pytest
from integrations_support import (
    APPS,
    HttpServer,
    RedisServer,
    Uvicorn,
    app_env,
    load_captures,
    need_redis,
    needs_recorder,
    run_ct,
)

pytestmark = needs_recorder

APPS_UNDER_TEST = {"starlette": ("web_starlette:app", "/api/items/{item_id:int}"),
                   "fastapi": ("web_fastapi:app", "/api/items/{item_id}")}
N = 30
BINARY = bytes(range(256)) * 12  # 3072 bytes, under the apps' 4096-byte cap


def _seed(port: int) -> None:
    import redis

    r = redis.Redis(port=port)
    r.set("config:currency", "EUR")  # read by the apps' lifespan start-up
    for i in range(N):
        r.set(f"item:{i}", f"name-{i}")
        r.set(f"price:{i}", "3")
    r.set("price:7", "2.5")  # production data the code does not expect


async def _drive(url: str) -> dict:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        items = await asyncio.gather(*(client.get(f"/api/items/{i}") for i in range(N)))
        return {
            "items": items,
            "ok": await client.get("/api/checkout/3"),
            "sync": await client.get("/sync/5"),
            "echo": await client.post("/echo", content=BINARY,
                                      headers={"Content-Type": "application/octet-stream",
                                               "Authorization": "Bearer s3cret"}),
            "big": await client.post("/echo", content=b"x" * 10000),
            "health": await client.get("/health"),
            "spawn": await client.get("/spawn/9"),
            "notify": await client.get("/notify/8"),
            # last: uvicorn closes the connection after an unhandled exception
            "fail": await client.get("/api/checkout/7"),
        }


@pytest.fixture(scope="module", params=sorted(APPS_UNDER_TEST))
def served(request, tmp_path_factory):
    """Runs the app under uvicorn against real services, returns the captures and what the
    clients saw; every server is stopped before the test body runs."""
    need_redis()
    pytest.importorskip("httpx")
    pytest.importorskip(request.param)
    target, route = APPS_UNDER_TEST[request.param]
    tmp_path = tmp_path_factory.mktemp(request.param)
    http, redis_server = HttpServer(), RedisServer(tmp_path)
    caps = tmp_path / "caps"
    try:
        _seed(redis_server.port)
        env = app_env(CODETRACER_CAPTURE_DIR=caps, UPSTREAM=http.url,
                      REDIS_URL=f"redis://127.0.0.1:{redis_server.port}/0")
        server = Uvicorn(target, env, tmp_path)
        try:
            seen = asyncio.run(_drive(server.url))
            seen["late"] = _wait_for_key(redis_server.port, "late:9")
        finally:
            server.stop()
    finally:
        http.stop()
        redis_server.stop()
    return {"target": target, "route": route, "caps": caps, "seen": seen, "env": env,
            "tmp": tmp_path, "upstream": http.url}


def _wait_for_key(port: int, key: str):
    import time

    import redis

    r = redis.Redis(port=port)
    deadline = time.time() + 10
    while r.get(key) is None and time.time() < deadline:
        time.sleep(0.05)
    return r.get(key)


def _requests(caps) -> list[dict]:
    return [c for c in load_captures(caps) if c["kind"] == "request"]


def _by_path(captures: list[dict]) -> dict:
    out: dict[str, list[dict]] = {}
    for c in captures:
        if c["kind"] != "request":
            continue
        out.setdefault(f"{c['request']['method']} {c['request']['path']}", []).append(c)
    return out


def test_one_capture_per_request_with_its_own_calls(served):
    captures = _requests(served["caps"])
    by_path = _by_path(captures)
    assert "GET /health" not in by_path  # excluded
    assert len(captures) == N + 7, sorted(by_path)
    for i in range(N):
        (c,) = by_path[f"GET /api/items/{i}"]
        req = c["request"]
        assert req["route"] == served["route"]
        # Starlette converts with the route's convertor; FastAPI converts later, in the handler
        expected = i if ":int" in served["route"] else str(i)
        assert req["path_params"] == {"item_id": expected}
        assert c["response"]["status"] == 200
        assert json.loads(c["response"]["body"]) == served["seen"]["items"][i].json()
        assert served["seen"]["items"][i].json()["currency"] == "EUR"  # read at start-up
        keys = [d["key"] for d in c["deps"]]
        # exactly this request's three calls, none of the 29 requests running beside it
        assert len(keys) == 3, keys
        for key in keys:
            assert re.search(rf"(item[:-]|views:){i}(\D|$)", key), (i, keys)
        assert any(k.startswith("GET http://") and f"q=item-{i}" in k for k in keys)
    # named <UTC start>Z_<method>_<route template>_<id>.json; the start-up's <...>Z_startup_<id>
    for path in served["caps"].glob("*.json"):
        c = json.loads(path.read_text())
        if c["kind"] == "startup":
            assert re.fullmatch(rf"\d{{8}}T\d{{6}}\.\d{{6}}Z_startup_{c['id']}\.json", path.name)
        elif c["request"]["path"].startswith("/api/items/"):
            slug = "api-items-item_id" + ("-int" if ":int" in served["route"] else "")
            assert re.fullmatch(rf"\d{{8}}T\d{{6}}\.\d{{6}}Z_GET_{slug}_{c['id']}\.json",
                                path.name), path.name
    # a sync endpoint runs in the threadpool: its call is still this request's
    (sync,) = by_path["GET /sync/5"]
    assert [d["key"] for d in sync["deps"]] == ["GET item:5"]
    assert sync["deps"][0]["thread"] != "MainThread"


def test_failure_capture_and_bodies(served):
    by_path = _by_path(load_captures(served["caps"]))
    (fail,) = by_path["GET /api/checkout/7"]
    assert served["seen"]["fail"].status_code == 500
    assert fail["exception"]["type"] == "builtins:ValueError"
    assert "invalid literal for int() with base 10: '2.5'" in fail["exception"]["message"]
    assert "cents = int(price) * 100" in fail["exception"]["traceback"]
    assert fail["response"] is None or fail["response"]["status"] == 500
    (echo,) = by_path["POST /echo"][:1] if len(by_path["POST /echo"]) == 1 else [
        c for c in by_path["POST /echo"] if c["request"]["body_cut"] == 0]
    assert echo["request"]["body"] == {"$b64": __import__("base64").b64encode(BINARY).decode()}
    headers = dict(echo["request"]["headers"])
    assert headers["content-type"] == "application/octet-stream"
    assert "authorization" not in headers  # not on the allow-list
    (big,) = [c for c in by_path["POST /echo"] if c["request"]["body_cut"]]
    assert big["request"]["body_cut"] == 10000 - 4096
    assert len(big["request"]["body"]) == 4096
    assert fail["duration"] > 0 and fail["started_at"] > 0


def test_replay_with_servers_stopped(served):
    caps = served["caps"]
    env = app_env(UPSTREAM=served["upstream"], REDIS_URL=served["env"]["REDIS_URL"],
                  XDG_DATA_HOME=served["tmp"] / "data")
    by_path = _by_path(load_captures(caps))
    files = {f"{c['request']['method']} {c['request']['path']}": p
             for p in caps.glob("*.json") for c in [json.loads(p.read_text())]
             if c["kind"] == "request" and c["request"]["body_cut"] == 0}
    # /api/items/4's response holds the setting the start-up read: answered from the
    # start-up capture the request capture names
    for path in ("GET /api/items/4", "GET /sync/5", "POST /echo", "GET /api/checkout/3",
                 "GET /spawn/9", "GET /notify/8"):
        done = run_ct(["replay-request", str(files[path]), "--app", served["target"],
                       "--no-record"], env=env)
        assert done.returncode == 0, (path, done.stdout, done.stderr)
        assert "response matches the recording" in done.stdout
        assert "replay miss" not in done.stderr
    # the failing request, recorded by the time-travel recorder: the trace shows the line
    trace = served["tmp"] / "trace"
    done = run_ct(["replay-request", str(files["GET /api/checkout/7"]), "--app",
                   served["target"], "-o", str(trace)], env=env)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "response matches the recording" in done.stdout
    assert "ValueError: invalid literal for int()" in done.stderr
    sys.path.insert(0, str(APPS.parent.parent))
    from ctfs_view import CtfsView

    view = CtfsView(trace)
    shop = str(APPS / "shop.py")
    line = next(n for n, text in enumerate((APPS / "shop.py").read_text().splitlines(), 1)
                if "cents = int(price)" in text)
    assert (shop, line) in view.slots
    assert any(e["metadata"].startswith("request:GET") for e in view.events), view.events[:5]
    assert any(e["metadata"] == "deps:redis" for e in view.events)
    assert len(by_path["GET /api/checkout/7"]) == 1


def test_replay_reports_a_different_response(served, tmp_path):
    caps = served["caps"]
    src = next(p for p in sorted(caps.glob("*.json")) if "_api-items-item_id" in p.name)
    data = json.loads(src.read_text())
    data["response"]["body"] = data["response"]["body"].replace("name-", "other-")
    data["response"]["status"] = 201
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(data))
    startup = caps / data["startup"]  # a copied capture goes with its start-up capture
    (tmp_path / startup.name).write_text(startup.read_text())
    env = app_env(UPSTREAM=served["upstream"], REDIS_URL=served["env"]["REDIS_URL"])
    done = run_ct(["replay-request", str(changed), "--app", served["target"], "--no-record"],
                  env=env)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "response differs" in done.stdout
    assert '- "name": "other-' in done.stdout and '+ "name": "name-' in done.stdout
    assert "  status 200, recorded 201" in done.stdout


def test_ct_captures_lists_them(served):
    done = run_ct(["captures", str(served["caps"]), "--json"], env=app_env())
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) == N + 8  # the requests and the start-up
    (startup,) = [r for r in rows if r["kind"] == "startup"]
    assert startup["target"] == "start-up" and startup["result"] == "success"
    assert startup["deps"] == 1
    fail = next(r for r in rows if r["path"] == "/api/checkout/7")
    assert fail["status"] == 500 and fail["exception"] == "ValueError" and fail["deps"] == 2
    text = run_ct(["captures", str(served["caps"])], env=app_env()).stdout
    assert f"GET {served['route']}" in text and "500 (ValueError)" in text


def test_start_up_and_background_calls_are_in_no_request_capture(served):
    """The lifespan start-up's call is in a start-up capture that every request capture names;
    a task a request spawned and did not wait for makes its call after the response: that call
    is in no capture (it did happen: the key is in Redis)."""
    captures = load_captures(served["caps"])
    (startup,) = [c for c in captures if c["kind"] == "startup"]
    assert [d["key"] for d in startup["deps"]] == ["GET config:currency"]
    assert startup["outcome"] == "success"
    requests = [c for c in captures if c["kind"] == "request"]
    names = {c["startup"] for c in requests}
    assert len(names) == 1 and (served["caps"] / names.pop()).is_file()
    keys = [d["key"] for c in requests for d in c["deps"]]
    assert "GET config:currency" not in keys
    assert served["seen"]["late"] == b"1"
    assert not [k for k in keys if "late:" in k]
    (spawn,) = _by_path(requests)["GET /spawn/9"]
    assert [d["key"] for d in spawn["deps"]] == ["GET item:9"]
    # a background task of the response runs inside the request's ASGI call: its call is the
    # request's (and its replay, above, runs it too)
    (notify,) = _by_path(requests)["GET /notify/8"]
    assert [d["key"] for d in notify["deps"]] == ["GET item:8", "INCRBY notified:8 1"]


def test_replay_without_the_start_up_capture_says_so(served, tmp_path):
    src = next(p for p in sorted(served["caps"].glob("*.json")) if "_api-items-item_id" in p.name)
    alone = tmp_path / src.name
    alone.write_text(src.read_text())
    env = app_env(UPSTREAM=served["upstream"], REDIS_URL=served["env"]["REDIS_URL"])
    done = run_ct(["replay-request", str(alone), "--app", served["target"], "--no-record"],
                  env=env)
    assert "the app's start-up calls are not answered: capture" in done.stderr, done.stderr
    assert "replay miss: redis GET config:currency" in done.stderr
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "ct replay-request: the app's lifespan startup failed: " in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("served", ["starlette"], indirect=True)  # its module has the factories
def test_replay_through_an_app_factory(served):
    """``--factory`` (uvicorn's flag), ``module:factory()`` and a bare zero-argument function
    all call the factory; a factory that raises or a non-app is a one-line usage error."""
    src = next(p for p in sorted(served["caps"].glob("*.json")) if "_api-items-item_id" in p.name)
    env = app_env(UPSTREAM=served["upstream"], REDIS_URL=served["env"]["REDIS_URL"])
    for app in (["web_starlette:create_app", "--factory"], ["web_starlette:create_app()"],
                ["web_starlette:create_app"]):
        done = run_ct(["replay-request", str(src), "--app", *app, "--no-record"], env=env)
        assert done.returncode == 0, (app, done.stdout, done.stderr)
        assert "response matches the recording" in done.stdout
    for app, message in ((["web_starlette:broken_factory()"], "--app web_starlette:broken_"
                          "factory: the factory raised RuntimeError: no settings file"),
                         (["web_starlette:N_ITEMS", "--factory"], "is not callable"),
                         (["web_starlette:shop"], "is a module, not an ASGI app")):
        done = run_ct(["replay-request", str(src), "--app", *app, "--no-record"], env=env)
        assert done.returncode == 2, (app, done.stdout, done.stderr)
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, \
            done.stderr


def test_a_call_made_at_import_time_is_a_one_line_error_saying_why(served, tmp_path):
    """Calls made while the app module is imported are in no capture: replaying such an app
    stops at once with one line naming the way out."""
    (tmp_path / "import_calls.py").write_text(
        "import os\nimport redis\n"
        "LIMIT = redis.Redis.from_url(os.environ['REDIS_URL']).get('config:limit')\n"
        f"from {served['target'].partition(':')[0]} import app  # noqa: E402\n")
    src = next(p for p in sorted(served["caps"].glob("*.json")) if "_api-items-item_id" in p.name)
    env = app_env(UPSTREAM=served["upstream"], REDIS_URL=served["env"]["REDIS_URL"])
    done = run_ct(["replay-request", str(src), "--app", "import_calls:app", "--no-record"],
                  env=env, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ct replay-request: --app import_calls:app: importing import_calls "
                           "raised ConnectionError: "), last
    assert last.endswith("move them into the app's lifespan start-up, or replay with "
                         "--deps-miss live"), last
    assert "Traceback" not in done.stderr
