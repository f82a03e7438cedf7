"""httpx capture and replay (sync and async) against a real loopback HTTP server, including
20 concurrent requests answered out of order."""

from __future__ import annotations

import textwrap

import pytest

from conftest import load_capture, needs_recorder, run_recorder

pytestmark = needs_recorder

PROGRAM = textwrap.dedent('''
    import asyncio, hashlib, sys
    import httpx

    base = sys.argv[1]
    with httpx.Client() as client:
        print(client.get(base + "/json", params={"q": "x"}).json())
        print(hashlib.sha256(client.get(base + "/large").content).hexdigest())
        print(client.get(base + "/gzip").text[:14])
        print(client.post(base + "/upload", content=bytes(range(256))).json()["got"][:12])
        print(client.get(base + "/fail").status_code)
    try:
        httpx.get("http://127.0.0.1:9/closed")
    except httpx.ConnectError as e:
        print("error:", type(e).__name__, e)

    async def main():
        async with httpx.AsyncClient() as client:
            # one URL, 20 tasks; the server answers the k-th arrival last-but-k
            responses = await asyncio.gather(*(client.get(base + "/slow") for _ in range(20)))
            print([r.json()["arrival"] for r in responses])

    asyncio.run(main())
''')


@pytest.fixture
def program(tmp_path):
    pytest.importorskip("httpx", reason="httpx is not installed (pip install httpx)")
    path = tmp_path / "prog.py"
    path.write_text(PROGRAM, encoding="utf-8")
    return path


def test_replay_with_server_stopped(tmp_path, http_server, program):
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(program),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert "zipped zipped" in rec.stdout and "error: ConnectError" in rec.stdout
    calls = load_capture(tmp_path / "t1")
    slow = [c for c in calls if c["key"].endswith("/slow")]
    assert len(slow) == 20
    seqs = [c["seq"] for c in slow]
    assert seqs != sorted(seqs), "answers were expected to complete out of start order"
    http_server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(program), http_server.url],
                       cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout
    assert rep.stderr == ""


def test_extra_request_misses_with_connect_error(tmp_path, http_server, program):
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(program),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    http_server.stop()
    changed = tmp_path / "changed.py"
    changed.write_text(PROGRAM.replace(
        '    print(client.get(base + "/fail").status_code)',
        '    print(client.get(base + "/fail").status_code)\n'
        '    try:\n'
        '        client.get(base + "/text")\n'
        '    except httpx.ConnectError as e:\n'
        '        print("extra:", type(e).__name__)'), encoding="utf-8")
    assert changed.read_text(encoding="utf-8") != PROGRAM
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(changed), http_server.url],
                       cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert "extra: ConnectError" in rep.stdout
    lines = rep.stderr.splitlines()
    assert len(lines) == 1 and f"replay miss: http GET {http_server.url}/text at " in lines[0]
