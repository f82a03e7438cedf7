"""CodeTracerMiddleware's options on a plain ASGI app (no framework), driven in-process, and
its request events in a time-travel trace when the app itself is being recorded."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from integrations_support import APPS, app_env, load_captures, needs_recorder

pytestmark = needs_recorder

PLAIN_APP = textwrap.dedent('''
    import asyncio, sys
    from codetracer_python_recorder.integrations.asgi import CodeTracerMiddleware
    from codetracer_python_recorder.integrations.capture import writer
    from codetracer_python_recorder.integrations.replay_request import run_request

    async def plain(scope, receive, send):
        body = (await receive()).get("body", b"")
        if scope["path"] == "/boom":
            raise KeyError("boom")
        status = 503 if scope["path"] == "/down" else 200
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"set-cookie", b"s=1"), (b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"you sent " + body})

    options = eval(sys.argv[2])
    app = CodeTracerMiddleware(plain, capture_dir=sys.argv[1], **options)

    async def main():
        for path in ("/a", "/down", "/boom", "/health/live", "/b") * int(sys.argv[3]):
            req = {"method": "POST", "path": path, "query": "api_key=k&page=2",
                   "headers": [["content-type", "text/plain"], ["cookie", "c=1"]],
                   "body": "x" * 10}
            result = await run_request(app, req)
            print(path, result["status"], type(result["exception"]).__name__)

    asyncio.run(main())
    writer.flush()
''')


def _run(tmp_path, options: str, *, record: bool = False, repeat: int = 1,
         **env) -> subprocess.CompletedProcess:
    tmp_path.mkdir(parents=True, exist_ok=True)
    script = tmp_path / "plain_app.py"
    script.write_text(PLAIN_APP)
    caps = tmp_path / "caps"
    argv = [sys.executable, str(script), str(caps), options, str(repeat)]
    if record:
        argv[1:1] = ["-m", "codetracer_python_recorder", "--trace-dir", str(tmp_path / "trace")]
    done = subprocess.run(argv, cwd=tmp_path, env=app_env(**env), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def _paths(tmp_path) -> list[str]:
    caps = tmp_path / "caps"
    return sorted(c["request"]["path"] for c in load_captures(caps)) if caps.exists() else []


def test_plain_asgi_capture(tmp_path):
    _run(tmp_path, "{'max_body': 4}")
    by_path = {c["request"]["path"]: c for c in load_captures(tmp_path / "caps")}
    assert sorted(by_path) == ["/a", "/b", "/boom", "/down", "/health/live"]
    a = by_path["/a"]
    assert a["framework"] == "asgi" and a["request"]["route"] is None
    assert a["request"]["query"] == "api_key=<masked>&page=2"
    # cookie: not on the allow-list
    assert a["request"]["headers"] == [["content-type", "text/plain"], ["content-length", "10"]]
    assert a["request"]["body"] == "xxxx" and a["request"]["body_cut"] == 6
    assert a["response"]["body"] == "you " and a["response"]["body_cut"] == 15
    assert ["set-cookie", "<masked>"] in a["response"]["headers"]
    boom = by_path["/boom"]
    assert boom["response"] is None and boom["exception"]["type"] == "builtins:KeyError"
    assert 'raise KeyError("boom")' in boom["exception"]["traceback"]


def test_errors_only_sample_rate_and_excluded_paths(tmp_path):
    _run(tmp_path, "{'errors_only': True, 'exclude_paths': ['/health/*']}")
    assert _paths(tmp_path) == ["/boom", "/down"]  # the 503 and the exception


def test_sample_rate_zero_writes_nothing(tmp_path):
    _run(tmp_path, "{'sample_rate': 0.0}")
    assert _paths(tmp_path) == []


def test_a_sample_rate_keeps_about_that_share(tmp_path):
    _run(tmp_path, "{'sample_rate': 0.5}", repeat=60)
    assert 90 <= len(_paths(tmp_path)) <= 210  # 300 requests; 150 expected, 7 sigma either side


def test_options_from_the_environment(tmp_path):
    _run(tmp_path / "errors", "{}", CODETRACER_CAPTURE_ERRORS_ONLY="1")
    assert _paths(tmp_path / "errors") == ["/boom", "/down"]
    _run(tmp_path / "none", "{}", CODETRACER_CAPTURE_SAMPLE_RATE="0")
    assert _paths(tmp_path / "none") == []
    _run(tmp_path / "all", "{}", CODETRACER_CAPTURE_SAMPLE_RATE="1")
    assert len(_paths(tmp_path / "all")) == 5


def test_a_bad_sample_rate_turns_capture_off_in_one_line(tmp_path):
    done = _run(tmp_path, "{}", CODETRACER_CAPTURE_SAMPLE_RATE="10%")
    assert done.stderr == ("codetracer capture: CODETRACER_CAPTURE_SAMPLE_RATE='10%' is not a "
                           "number from 0 to 1 (0.1 keeps one request in ten); capture is off\n")
    assert "/a 200" in done.stdout  # the app serves on
    assert _paths(tmp_path) == []


def test_the_projects_deps_masking_table_applies_to_request_captures(tmp_path):
    """The ``[deps]`` table of the trace filter chain masks per-request captures as it masks
    ``--deps record``; a table that cannot be read turns capture off in one line."""
    flt = tmp_path / "filter.toml"
    flt.write_text('[meta]\nname = "t"\nversion = 1\n\n[deps]\nmask_words = ["page"]\n',
                   encoding="utf-8")
    _run(tmp_path / "masked", "{}", CODETRACER_TRACE_FILTER=str(flt))
    a = next(c for c in load_captures(tmp_path / "masked" / "caps")
             if c["request"]["path"] == "/a")
    assert a["request"]["query"] == "api_key=<masked>&page=<masked>"
    flt.write_text('[meta]\nname = "t"\nversion = 1\n\n[deps]\nmask_words = 3\n',
                   encoding="utf-8")
    done = _run(tmp_path / "bad", "{}", CODETRACER_TRACE_FILTER=str(flt))
    assert done.stderr.startswith("codetracer capture: off: ") and done.stderr.count("\n") == 1
    assert "filter.toml" in done.stderr and "/a 200" in done.stdout
    assert _paths(tmp_path / "bad") == []


def test_requests_are_events_in_the_trace_of_a_recorded_app(tmp_path):
    _run(tmp_path, "{}", record=True)
    sys.path.insert(0, str(APPS.parent.parent))
    from ctfs_view import CtfsView

    events = [e for e in CtfsView(tmp_path / "trace").events
              if e["metadata"].startswith("request:")]
    ends = [e["content"] for e in events if e["content"] != "begin"]
    assert len(events) == 10, events
    assert "POST /down (route /down) -> 503" in ends[1]
    assert ends[2].endswith("KeyError: 'boom'")
    assert len(_paths(tmp_path)) == 5  # capture and recording together


DEPS_APP = textwrap.dedent('''
    import asyncio, sys, urllib.request
    from codetracer_python_recorder.integrations.asgi import CodeTracerMiddleware
    from codetracer_python_recorder.integrations.capture import writer
    from codetracer_python_recorder.integrations.replay_request import run_request

    async def plain(scope, receive, send):
        await receive()
        with urllib.request.urlopen(sys.argv[2] + "/json?q=" + scope["path"][1:]) as r:
            body = r.read()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    app = CodeTracerMiddleware(plain, capture_dir=sys.argv[1])

    async def main():
        await asyncio.gather(*(run_request(app, {"method": "GET", "path": f"/r{i}"})
                               for i in range(3)))
        with urllib.request.urlopen(sys.argv[2] + "/json?q=outside") as r:
            r.read()

    asyncio.run(main())
    writer.flush()
''')


def test_per_request_captures_beside_a_process_wide_deps_capture(tmp_path):
    from integrations_support import HttpServer

    http = HttpServer()
    try:
        script = tmp_path / "deps_app.py"
        script.write_text(DEPS_APP)
        done = subprocess.run(
            [sys.executable, "-m", "codetracer_python_recorder", "--deps", "record",
             "--deps-only", "--trace-dir", str(tmp_path / "t"), str(script),
             str(tmp_path / "caps"), http.url],
            cwd=tmp_path, env=app_env(), capture_output=True, text=True, timeout=120)
    finally:
        http.stop()
    assert done.returncode == 0, done.stderr
    for c in load_captures(tmp_path / "caps"):
        name = c["request"]["path"][1:]
        assert [d["key"].rpartition("/")[2] for d in c["deps"] if "GET" in d["key"]] == [
            f"json?q={name}"]
    lines = (tmp_path / "t" / "deps.jsonl").read_text().splitlines()
    keys = [json.loads(line)["key"] for line in lines if '"seq"' in line]
    gets = sorted(k.rpartition("=")[2] for k in keys if k.startswith("GET"))
    assert gets == ["outside", "r0", "r1", "r2"]  # the process-wide capture has every call
