"""Request spans: a Starlette app served by uvicorn under the recorder, driven by httpx with
sequential and concurrent requests; each request must be one `web-request` span in `trace.ct`
(what CodeTracer's request panel lists) with its method, path, status and the steps of its
handler. Read back with `ctfs_view.read_spans`, written from the format facts in
`docs/spans.md`, not from the writer."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from integrations_support import APPS, TESTS, app_env, free_port, needs_recorder, wait_port

sys.path.insert(0, str(TESTS))
from ctfs_view import CtfsView, read_spans, request_rows  # noqa: E402

pytestmark = needs_recorder

FIXTURE = TESTS.parents[1].parent / "shared" / "fixtures" / "upstream-python-recorder_flask_serve.ct"
# only the app's own code is recorded, so a span's first step is its handler's first line
ONLY_THE_APP = """
[meta]
name = "only-the-app"
version = 1

[scope]
default_exec = "skip"

[[scope.rules]]
selector = "file:regex:web_spans\\\\.py$"
exec = "trace"
"""
SEQUENTIAL = [("GET", "/items/1", 200, "item"), ("GET", "/missing", 404, "missing"),
              ("POST", "/echo", 201, "echo"), ("GET", "/health", 200, "health"),
              ("GET", "/sync/5", 200, "sync_item")]  # a `def` endpoint: on a worker thread
CONCURRENT = [("GET", f"/items/{i}", 200, "item") for i in range(10, 14)]
LAST = [("GET", "/boom", 500, "boom")]  # last: uvicorn closes the connection after it


async def _drive(url: str) -> list[tuple[str, str, int]]:
    import httpx

    seen = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for method, path, _, _ in SEQUENTIAL:
            r = await client.request(method, path, content=b"abc" if method == "POST" else None)
            seen.append((method, path, r.status_code))
        for r in await asyncio.gather(*(client.get(path) for _, path, _, _ in CONCURRENT)):
            seen.append(("GET", r.request.url.path, r.status_code))
        r = await client.get("/boom")
        seen.append(("GET", "/boom", r.status_code))
    return seen


def _serve_recorded(tmp_path: Path, fmt: str) -> Path:
    """Runs ``uvicorn web_spans:app`` under the recorder, sends every request, stops it with
    SIGTERM (the recorder finishes the trace then); returns the trace folder."""
    pytest.importorskip("uvicorn")
    pytest.importorskip("starlette")
    pytest.importorskip("httpx")
    trace = tmp_path / "trace"
    (tmp_path / "filter.toml").write_text(ONLY_THE_APP, encoding="utf-8")
    port = free_port()
    log = open(tmp_path / "server.log", "w+")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "codetracer_python_recorder", "--trace-dir", str(trace),
         "--format", fmt, "--trace-filter", str(tmp_path / "filter.toml"),
         "-m", "uvicorn", "web_spans:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        cwd=APPS, env=app_env(CODETRACER_CAPTURE_DIR=tmp_path / "caps"), stdout=log,
        stderr=subprocess.STDOUT, text=True)
    try:
        wait_port(port, proc, "uvicorn under the recorder", timeout=60)
        seen = asyncio.run(_drive(f"http://127.0.0.1:{port}"))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        log.seek(0)
        output = log.read()
        log.close()
    assert seen == [(m, p, s) for m, p, s, _ in SEQUENTIAL + CONCURRENT + LAST], output
    assert trace.is_dir(), output
    return trace


@pytest.fixture(scope="module")
def ctfs_trace(tmp_path_factory) -> Path:
    return _serve_recorded(tmp_path_factory.mktemp("spans"), "ctfs")


def test_each_request_is_one_span_with_its_method_path_and_status(ctfs_trace):
    spans = read_spans(ctfs_trace)
    assert spans is not None, "meta.dat does not declare a span stream (bit 13)"
    rows = request_rows(spans["spans"])
    sent = SEQUENTIAL + CONCURRENT + LAST
    # ids follow the order requests reached the app; the concurrent ones in any order
    assert [r["id"] for r in rows] == list(range(1, len(sent) + 1))
    got = [(r["method"], r["url"], r["status_code"]) for r in rows]
    n, c = len(SEQUENTIAL), len(CONCURRENT)
    assert got[:n] == [(m, p, s) for m, p, s, _ in SEQUENTIAL]
    assert sorted(got[n:n + c]) == sorted((m, p, s) for m, p, s, _ in CONCURRENT)
    assert got[n + c:] == [(m, p, s) for m, p, s, _ in LAST]
    for row in rows:
        assert not row["open"]
        assert row["status"] == ("error" if row["status_code"] >= 400 else "ok"), row
        assert row["duration_ms"] >= (40 if row["url"].startswith("/items/") else 0), row
    assert spans["types"] == {"web-request": list(range(1, len(sent) + 1))}
    boom = spans["spans"][-1]
    meta = dict(boom["metadata"])
    assert meta["error.message"] == "RuntimeError: handler raised on purpose"
    assert meta["http.route"] == "/boom" and meta["framework"] == "starlette"
    assert boom["label"] == "GET /boom"


def test_a_span_covers_the_steps_of_its_handler(ctfs_trace):
    spans = read_spans(ctfs_trace)["spans"]
    view = CtfsView(ctfs_trace)
    by_first_step = {c["first_step"]: c for c in view.calls}
    handlers = {p: h for _, p, _, h in SEQUENTIAL + CONCURRENT + LAST}
    for span in spans:
        path = dict(span["metadata"])["http.url"]
        assert span["start_step"] <= span["end_step"] < len(view.slots), span
        # the first step of the span is the first step of this request's handler
        call = by_first_step.get(span["start_step"])
        assert call is not None and call["function"] == handlers[path], (span, call)
        assert view.slots[span["start_step"]][0].endswith("web_spans.py")
        assert span["end_step"] >= call["last_step"], (span, call)
        if path.startswith(("/items/", "/sync/")):
            # and that handler served this item (its local `item_id`)
            ids = {view.values[s].get("item_id", {}).get("i")
                   for s in range(call["first_step"], call["last_step"] + 1)}
            assert int(path.rsplit("/", 1)[1]) in ids, (span, ids)


def test_spans_say_which_ran_alone_and_which_overlapped(ctfs_trace):
    spans = read_spans(ctfs_trace)["spans"]
    n, c = len(SEQUENTIAL), len(CONCURRENT)
    alone = spans[:n] + spans[n + c:]
    for before, after in zip(alone, alone[1:], strict=False):
        assert before["end_step"] < after["start_step"], (before, after)
    for span in alone:
        url = dict(span["metadata"])["http.url"]
        # contiguous on one thread (bit 0) unless its handler ran on a worker thread;
        # shares timeline (bit 1)
        assert span["structural"] == (0b010 if url.startswith("/sync/") else 0b011), span
    for span in spans[n:n + c]:
        assert span["structural"] == 0b110, span  # concurrent with siblings, shares timeline
    # every span was opened on the event loop's thread
    assert len({s["thread_id"] for s in spans}) == 1


def test_a_json_recording_writes_the_request_sidecar(tmp_path):
    """`--format json`: CodeTracer reads `codetracer_spans.jsonl` for a folder without a
    container; no step binding there."""
    trace = _serve_recorded(tmp_path, "json")
    lines = [json.loads(line) for line in
             (trace / "codetracer_spans.jsonl").read_text(encoding="utf-8").splitlines()]
    got = [(x["metadata"]["http.method"], x["metadata"]["http.url"],
            int(x["metadata"]["http.status_code"]), x["status"]) for x in lines]
    sent = SEQUENTIAL + CONCURRENT + LAST
    assert sorted(got) == sorted((m, p, s, "error" if s >= 400 else "ok") for m, p, s, _ in sent)
    assert {x["span_type"] for x in lines} == {"web-request"}


def test_a_recording_without_requests_has_no_span_stream(tmp_path):
    script = tmp_path / "plain.py"
    script.write_text("x = 1\nprint(x)\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "codetracer_python_recorder", "--trace-dir",
                           str(tmp_path / "t"), str(script)], env=app_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert read_spans(tmp_path / "t") is None
    from ct.ctfs import Container

    with Container(tmp_path / "t" / "trace.ct") as c:
        assert not c.has("spans.dat") and not c.has("spantype.ns")


@pytest.mark.skipif(not FIXTURE.exists(), reason="../shared/fixtures is absent (fresh clone)")
def test_the_reader_reads_the_upstream_recorders_flask_spans():
    """The test-side reader against spans written by the upstream recorder (an open record,
    then its completion, per request): the eight requests of that recording."""
    spans = read_spans(FIXTURE)
    assert len(spans["records"]) == 16
    rows = request_rows(spans["spans"])
    assert [(r["method"], r["url"], r["status_code"]) for r in rows] == [
        ("GET", "/api/users", 200), ("POST", "/api/users", 201), ("GET", "/api/users/2", 200),
        ("GET", "/static/app.css", 304), ("GET", "/api/users/999", 404),
        ("GET", "/api/reports/slow", 200), ("GET", "/api/boom", 500), ("GET", "/api/users", 200)]
    assert [r["start_geid"] for r in rows] == [1, 13, 23, 33, 40, 50, 58, 69]
    assert spans["types"] == {"web-request": list(range(1, 9))}


SPANS_BY_HAND = """
from codetracer_python_recorder import _native


def handler(n):
    total = n * 2
    return total


for n in range(130):
    span = _native.span_begin("web-request", f"GET /n/{n}", [("http.method", "GET"),
                                                           ("http.url", f"/n/{n}")])
    handler(n)
    _native.span_end(span, "ok", [("http.status_code", "200"), ("http.duration_ms", "1")])
left_open = _native.span_begin("test", "still running", [("k", "v")])
handler(-1)
"""


def test_spans_over_several_chunks_and_one_left_open(tmp_path):
    """130 closed spans (three chunks of at most 64) and a span of another type still open
    when the program ends: written as an open record."""
    script = tmp_path / "by_hand.py"
    script.write_text(SPANS_BY_HAND, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "codetracer_python_recorder", "--trace-dir",
                           str(tmp_path / "t"), str(script)], env=app_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    spans = read_spans(tmp_path / "t")  # checks the index's running totals chunk by chunk
    assert len(spans["records"]) == 131
    assert spans["types"] == {"web-request": list(range(1, 131)), "test": [131]}
    rows = request_rows(spans["spans"])
    assert [(r["id"], r["url"], r["status_code"]) for r in rows] == [
        (n + 1, f"/n/{n}", 200) for n in range(130)]
    view = CtfsView(tmp_path / "t")
    calls = {c["args"]["n"]["i"]: c for c in view.calls if c["function"] == "handler"}
    for span in spans["spans"][:130]:
        # the span opened on the line before `handler(n)`: that line's step comes first
        call = calls[int(dict(span["metadata"])["http.url"].rsplit("/", 1)[1])]
        assert span["start_step"] + 1 == call["first_step"], (span, call)
        # and closed on the `span_end` line, the step after the handler's last
        assert span["end_step"] == call["last_step"] + 1, (span, call)
    last = spans["spans"][-1]
    assert (last["open"], last["status"], last["end_wall_ns"], last["end_step"]) == (
        True, "unknown", 0, 0)
    assert last["label"] == "still running" and last["metadata"] == [("k", "v")]


def test_spans_outside_a_recording_are_none_and_a_bad_status_is_refused():
    from codetracer_python_recorder import _native

    assert _native.span_begin("web-request", "GET /", []) is None
    with pytest.raises(_native.RecorderError, match="fine"):
        _native.span_end(1, "fine", [])
