"""http.client capture and replay (urllib, requests) against a real loopback HTTP server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import RECORDER_PARENT, load_capture, needs_recorder, run_plain, run_recorder

pytestmark = needs_recorder

PROGRAM = textwrap.dedent('''
    import hashlib, http.client, json, sys, urllib.request
    import requests

    base = sys.argv[1]
    print(urllib.request.urlopen(base + "/text").read().decode())
    print(requests.get(base + "/json", params={"q": "1"}).json())
    for _ in range(3):
        print(requests.get(base + "/counter").json()["n"])
    for path in ("/binary", "/large"):
        body = requests.get(base + path).content
        print(path, len(body), hashlib.sha256(body).hexdigest())
    print(requests.get(base + "/gzip").text[:20])
    conn = http.client.HTTPConnection(base.split("//")[1])
    conn.request("POST", "/upload", body=bytes(range(256)) * 100)
    print(json.loads(conn.getresponse().read()))
    try:
        urllib.request.urlopen(base + "/fail")
    except urllib.error.HTTPError as e:
        print("HTTPError", e.code, e.read())
    try:
        requests.get("http://127.0.0.1:9/closed", timeout=2)
    except requests.ConnectionError as e:
        print("refused:", type(e).__name__, str(e)[:60])
    sys.exit(3)
''')


@pytest.fixture
def program(tmp_path):
    pytest.importorskip("requests", reason="requests is not installed (pip install requests)")
    path = tmp_path / "prog.py"
    path.write_text(PROGRAM, encoding="utf-8")
    return path


@pytest.mark.parametrize("only", [False, True], ids=["traced", "deps-only"])
def test_replay_with_server_stopped_gives_same_output(tmp_path, http_server, program, only):
    plain = run_plain([str(program), http_server.url], cwd=tmp_path)
    assert plain.returncode == 3, plain.stderr
    extra = ["--deps-only"] if only else []
    rec = run_recorder(["--deps", "record", *extra, "--trace-dir", "t1", str(program),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 3, rec.stderr
    # the same as plain Python, but for the counter, which the plain run already advanced
    assert [x for x in rec.stdout.splitlines() if not x.isdigit()] == \
        [x for x in plain.stdout.splitlines() if not x.isdigit()]
    assert (tmp_path / "t1" / "deps.jsonl").is_file()
    assert (tmp_path / "t1" / "trace_metadata.json").exists() is (not only)
    http_server.stop()
    rep = run_recorder(["--deps", f"replay={tmp_path / 't1'}", "--deps-only", str(program),
                        http_server.url], cwd=tmp_path)
    assert rep.returncode == 3, rep.stderr
    assert rep.stdout == rec.stdout
    assert "not used" not in rep.stderr and "miss" not in rep.stderr, rep.stderr
    rep2 = run_recorder(["--deps", f"replay={tmp_path / 't1' / 'deps.jsonl'}", "--trace-dir",
                         "t2", str(program), http_server.url], cwd=tmp_path)
    assert rep2.returncode == 3, rep2.stderr
    assert rep2.stdout == rec.stdout
    assert (tmp_path / "t2" / "trace_metadata.json").is_file()


def test_capture_records_call_site_and_bodies(tmp_path, http_server, program):
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(program),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 3, rec.stderr
    calls = load_capture(tmp_path / "t1")
    counter = [c for c in calls if c["key"].endswith("/counter")]
    assert len(counter) == 3
    assert all(c["site"] == f"{program}:9" for c in counter)
    assert [json.loads(_body(c))["n"] for c in counter] == [1, 2, 3]
    large = next(c for c in calls if c["key"].endswith("/large"))
    side = large["result"]["body"]["$file"]
    assert side.startswith("deps-bodies/") and (tmp_path / "t1" / side).stat().st_size == 3 << 20
    assert (tmp_path / "t1" / "deps.jsonl").stat().st_size < 1 << 20
    refused = [c for c in calls if "error" in c]
    assert refused and refused[0]["key"] == "CONNECT http://127.0.0.1:9"
    assert refused[0]["error"]["type"] == "urllib3.exceptions:NewConnectionError"
    assert all(c["thread"] == "MainThread" and c["duration"] >= 0 for c in calls)
    (tmp_path / "t1" / side).write_bytes(b"tampered")
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(program), http_server.url],
                       cwd=tmp_path)
    assert rep.returncode == 2 and "is damaged (sha256 differs)" in rep.stderr
    assert rep.stdout == ""


def _body(call) -> bytes:
    import base64

    return base64.b64decode(call["result"]["body"]["$b64"])


def test_extra_call_misses_with_one_clear_line(tmp_path, http_server, program):
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(program),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 3, rec.stderr
    http_server.stop()
    changed = tmp_path / "changed.py"
    changed.write_text(PROGRAM.replace(
        'print(requests.get(base + "/json", params={"q": "1"}).json())',
        'print(requests.get(base + "/json", params={"q": "1"}).json())\n'
        'try:\n'
        '    requests.get(base + "/json", params={"q": "2"})\n'
        'except requests.ConnectionError as e:\n'
        '    print("extra call failed:", type(e).__name__)'), encoding="utf-8")
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(changed), http_server.url],
                       cwd=tmp_path)
    assert rep.returncode == 3, rep.stderr
    assert "extra call failed: ConnectionError" in rep.stdout
    expected = rec.stdout.splitlines()
    assert [line for line in rep.stdout.splitlines() if "extra call" not in line] == expected
    misses = [line for line in rep.stderr.splitlines() if "replay miss" in line]
    assert len(misses) == 1, rep.stderr
    line = misses[0]
    assert f"GET {http_server.url}/json?q=2 at {changed}:" in line
    assert f"closest recorded: GET {http_server.url}/json?q=1" in line
    assert "differs: query" in line


def test_miss_live_goes_to_the_service(tmp_path, http_server, program):
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(program),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 3
    changed = tmp_path / "changed.py"
    changed.write_text(PROGRAM.replace('"/text"', '"/text?fresh=1"'), encoding="utf-8")
    rep = run_recorder(["--deps", "replay=t1", "--deps-miss", "live", "--deps-only",
                        str(changed), http_server.url], cwd=tmp_path)
    assert rep.returncode == 3, rep.stderr
    assert rep.stdout == rec.stdout  # the live answer is the same text
    assert "sending it to the service" in rep.stderr
    assert "1 recorded call(s) were not used" in rep.stderr  # the old /text


MASKED = textwrap.dedent('''
    import sys, requests
    base = sys.argv[1]
    r = requests.post(base + "/echo", params={"api_key": "KEY-123", "company": "ACME"},
                      json={"password": "PW-456", "message": "hello", "tokens_used": 7,
                            "usage": "u", "nested": {"authToken": "TOK-789"}},
                      headers={"Authorization": "Bearer AUTH-000", "X-Trace": "visible"})
    print(r.json()["auth"])
''')


def test_secrets_are_masked_and_masked_calls_still_replay(tmp_path, http_server):
    pytest.importorskip("requests", reason="requests is not installed (pip install requests)")
    prog = tmp_path / "masked.py"
    prog.write_text(MASKED, encoding="utf-8")
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    text = (tmp_path / "t1" / "deps.jsonl").read_text(encoding="utf-8")
    for secret in ("KEY-123", "PW-456", "TOK-789", "AUTH-000"):
        assert secret not in text
    call = load_capture(tmp_path / "t1")[-1]
    assert call["key"] == f"POST {http_server.url}/echo?api_key=<masked>&company=ACME"
    import base64

    body = json.loads(base64.b64decode(call["request"]["body"]["$b64"]))
    assert body == {"password": "<masked>", "message": "hello", "tokens_used": 7, "usage": "u",
                    "nested": {"authToken": "<masked>"}}
    headers = dict(call["request"]["headers"])
    assert headers["Authorization"] == "<masked>" and headers["X-Trace"] == "visible"
    http_server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog), http_server.url],
                       cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout == "Bearer AUTH-000\n"  # the answer the server gave
    assert "miss" not in rep.stderr


def test_bad_capture_is_one_clear_error(tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("print('never runs')\n", encoding="utf-8")
    cap = tmp_path / "deps.jsonl"
    cap.write_text('{"format": "codetracer-deps", "version": 99}\n', encoding="utf-8")
    r = run_recorder(["--deps", f"replay={cap}", "--deps-only", str(prog)], cwd=tmp_path)
    assert r.returncode == 2
    assert "never runs" not in r.stdout
    assert "format version 99" in r.stderr and "upgrade" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run_recorder(["--deps", "replay", str(prog)], cwd=tmp_path)
    assert r.returncode == 2 and "replay=PATH" in r.stderr


def test_off_by_default_imports_nothing(tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("import sys, http.client\n"
                    "print(any('deps' in m for m in sys.modules if 'codetracer' in m),\n"
                    "      getattr(http.client.HTTPConnection, '_ct_deps_patched', False))\n",
                    encoding="utf-8")
    r = run_recorder(["--trace-dir", "t", str(prog)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "False False\n"


HTTPS = textwrap.dedent('''
    import sys, urllib.request, ssl
    import requests, httpx

    base, cert = sys.argv[1], sys.argv[2]
    print(requests.get(base + "/json", verify=cert).json())
    print(urllib.request.urlopen(base + "/text", context=ssl.create_default_context(cafile=cert))
          .read().decode().strip())
    print(httpx.get(base + "/counter", verify=ssl.create_default_context(cafile=cert)).json())
''')


def test_https_replays_with_server_stopped(tmp_path, https_server):
    pytest.importorskip("requests", reason="requests is not installed (pip install requests)")
    pytest.importorskip("httpx", reason="httpx is not installed (pip install httpx)")
    prog = tmp_path / "tls.py"
    prog.write_text(HTTPS, encoding="utf-8")
    args = [str(prog), https_server.url, str(https_server.cert)]
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", *args],
                       cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout.startswith("{'ok': True") and "héllo wörld" in rec.stdout
    keys = [c["key"] for c in load_capture(tmp_path / "t1")]
    assert f"GET {https_server.url}/json" in keys and f"CONNECT {https_server.url}" in keys
    https_server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", *args], cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout
    assert rep.stderr == ""


def test_calls_are_events_of_the_time_travel_trace(tmp_path, http_server):
    prog = tmp_path / "small.py"
    prog.write_text("import http.client, sys\n"
                    "c = http.client.HTTPConnection(sys.argv[1].split('//')[1])\n"
                    "c.request('GET', '/text?token=SECRET')\n"
                    "print(c.getresponse().status)\n", encoding="utf-8")
    rec = run_recorder(["--format", "json", "--deps", "record", "--trace-dir", "t1", str(prog),
                        http_server.url], cwd=tmp_path)
    if "--format" in rec.stderr:
        pytest.skip("this recorder build has no --format json")
    assert rec.returncode == 0, rec.stderr
    native = pytest.importorskip("codetracer_python_recorder._native")
    if not hasattr(native, "record_event"):
        pytest.skip("this native module has no record_event yet")
    events = _deps_events(tmp_path / "t1")
    assert events == [f"CONNECT {http_server.url} -> connected",
                      f"GET {http_server.url}/text?token=<masked> -> 200"]
    http_server.stop()
    rep = run_recorder(["--format", "json", "--deps", "replay=t1", "--trace-dir", "t2", str(prog),
                        http_server.url], cwd=tmp_path)
    assert rep.returncode == 0 and rep.stdout == rec.stdout, rep.stderr
    assert _deps_events(tmp_path / "t2") == [
        f"GET {http_server.url}/text?token=<masked> (replayed)"]


def _deps_events(folder):
    events = json.loads((folder / "trace.json").read_text(encoding="utf-8"))
    return [e["Event"]["content"] for e in events
            if "Event" in e and e["Event"]["metadata"].startswith("deps:")]


def test_environment_turns_capture_on(tmp_path, http_server):
    prog = tmp_path / "small.py"
    prog.write_text("import urllib.request, sys\n"
                    "print(urllib.request.urlopen(sys.argv[1] + '/json').status)\n",
                    encoding="utf-8")
    rec = run_recorder(["--deps-only", "--trace-dir", "t1", str(prog), http_server.url],
                       cwd=tmp_path, env={"CODETRACER_DEPS": "record"})
    assert rec.returncode == 0, rec.stderr
    assert [c["key"] for c in load_capture(tmp_path / "t1")][-1] == f"GET {http_server.url}/json"
    bad = run_recorder(["--trace-dir", "t2", str(prog), http_server.url], cwd=tmp_path,
                       env={"CODETRACER_DEPS": "sometimes"})
    assert bad.returncode == 2 and "invalid --deps (CODETRACER_DEPS) value 'sometimes'" in bad.stderr


def test_capture_adds_no_visible_thread(tmp_path, http_server):
    prog = tmp_path / "threads.py"
    prog.write_text("import threading, urllib.request, sys\n"
                    "urllib.request.urlopen(sys.argv[1] + '/json').read()\n"
                    "print(threading.active_count(), [t.name for t in threading.enumerate()])\n",
                    encoding="utf-8")
    plain = run_plain([str(prog), http_server.url], cwd=tmp_path)
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout == plain.stdout == "1 ['MainThread']\n"
    assert len(load_capture(tmp_path / "t1")) == 2  # CONNECT and GET, written by the writer


def test_threads_get_their_own_answers_back(tmp_path, http_server):
    prog = tmp_path / "threads.py"
    prog.write_text(textwrap.dedent('''
        import sys, threading, urllib.request, json
        base, got = sys.argv[1], {}

        def work(n):
            got[n] = json.loads(urllib.request.urlopen(base + "/slow").read())["arrival"]

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print([got[n] for n in range(8)])
    '''), encoding="utf-8")
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    calls = [c for c in load_capture(tmp_path / "t1") if c["key"].endswith("/slow")]
    assert len({c["thread"] for c in calls}) == 8
    http_server.stop()
    for _ in range(3):  # thread scheduling differs run to run; each thread's answer does not
        rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog), http_server.url],
                           cwd=tmp_path)
        assert rep.returncode == 0, rep.stderr
        assert rep.stdout == rec.stdout and rep.stderr == ""


SLEEPER = """
import sys, time, urllib.request
for i in range(3):
    urllib.request.urlopen(sys.argv[1] + "/json").read()
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("only", [False, True], ids=["traced", "deps-only"])
def test_sigterm_finishes_the_capture(tmp_path, http_server, only):
    """A service stopped by SIGTERM keeps every call it made, and the capture says how the
    process ended (exit status 143, as the trace's metadata)."""
    import signal

    (tmp_path / "sleeper.py").write_text(SLEEPER, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=RECORDER_PARENT or "")
    env.pop("CODETRACER_DEPS", None)
    extra = ["--deps-only"] if only else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "codetracer_python_recorder", "--deps", "record", *extra,
         "--trace-dir", "t", "sleeper.py", http_server.url],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGTERM, err
    lines = [json.loads(x) for x in (tmp_path / "t" / "deps.jsonl").read_text().splitlines()]
    assert [c["key"].rsplit("/", 1)[-1] for c in lines if "seq" in c].count("json") == 3
    # urlopen connects for each request: 3 connects and 3 GETs
    assert lines[-1] == {"end": True, "exit_status": 143, "calls": 6}
