"""Streamed response bodies (read incrementally, chunk by chunk) against a real loopback HTTP
server that sends its chunks one at a time: recorded whole, replayed with the server stopped in
the same chunks and bytes, and a stream the program stops reading early records at once what
was read (recording never reads ahead of the program)."""

from __future__ import annotations

import hashlib
import textwrap
import time

import pytest

from conftest import BIG_BLOCK, STREAM_CHUNKS, load_capture, needs_recorder, run_plain, run_recorder

pytestmark = needs_recorder

REQUESTS = textwrap.dedent('''
    import hashlib, sys, http.client
    import requests, urllib3

    base = sys.argv[1]
    with requests.get(base + "/stream", stream=True) as r:  # the server's chunks
        print("requests", [len(c) for c in r.iter_content(chunk_size=None)])
    with requests.get(base + "/stream", stream=True) as r:
        print("lines", list(r.iter_lines())[:3])
    r = requests.get(base + "/large", stream=True)
    digest, sizes = hashlib.sha256(), set()
    for chunk in r.iter_content(chunk_size=65536):
        digest.update(chunk)
        sizes.add(len(chunk))
    print("large", digest.hexdigest(), sorted(sizes)[-1])
    pool = urllib3.PoolManager()
    resp = pool.request("GET", base + "/stream", preload_content=False)
    print("urllib3", [len(c) for c in resp.stream(1000)][:5], resp.status)
    resp.release_conn()
    conn = http.client.HTTPConnection(base.split("//")[1])
    conn.request("GET", "/stream")
    resp = conn.getresponse()
    print("http.client", resp.read(3), resp.read1(5), len(resp.read()))
    started = __import__("time").monotonic()
    with requests.get(base + "/stream?hold=1", stream=True) as r:  # ends after 30 s: stop early
        chunks = r.iter_content(chunk_size=None)
        print("early", next(chunks), len(next(chunks)))
    print("early took", round(__import__("time").monotonic() - started) < 10)
''')


def _record_and_replay(tmp_path, server, source, name):
    prog = tmp_path / name
    prog.write_text(source, encoding="utf-8")
    plain = run_plain([str(prog), server.url], cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    started = time.monotonic()
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert time.monotonic() - started < 25  # the held stream was not read to its end
    server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog), server.url],
                       cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stderr == ""
    return plain, rec, rep


def test_requests_urllib3_http_client_streams(tmp_path, http_server):
    pytest.importorskip("requests", reason="requests is not installed (pip install requests)")
    plain, rec, rep = _record_and_replay(tmp_path, http_server, REQUESTS, "req.py")
    sizes = [len(c) for c in STREAM_CHUNKS]
    assert f"requests {sizes}" in rec.stdout  # the server's chunks, while recording too
    assert rec.stdout == plain.stdout
    assert rep.stdout == rec.stdout
    calls = {c["key"].split(" ", 1)[1].split("/", 3)[-1]: c for c in load_capture(tmp_path / "t1")
             if not c["key"].startswith("CONNECT")}
    held = calls["stream?hold=1"]["result"]
    assert held["complete"] is False and held["chunks"] == sizes[:2]
    whole = calls["stream"]["result"]
    assert whole["chunks"] == sizes and "complete" not in whole


HTTPX = textwrap.dedent('''
    import asyncio, sys
    import httpx

    base = sys.argv[1]
    with httpx.Client() as client:
        with client.stream("GET", base + "/stream") as r:
            print("raw", [len(c) for c in r.iter_raw()])
        with client.stream("GET", base + "/stream") as r:
            print("bytes", [len(c) for c in r.iter_bytes(1000)][:4])
        with client.stream("GET", base + "/stream?hold=1") as r:
            chunks = r.iter_bytes()
            print("early", next(chunks))
        print("plain get", len(client.get(base + "/stream").content))

    async def main():
        async with httpx.AsyncClient() as client:
            async with client.stream("GET", base + "/stream") as r:
                print("async", [len(c) async for c in r.aiter_raw()])
            async with client.stream("GET", base + "/stream") as r:
                print("lines", [line async for line in r.aiter_lines()][:3])

    asyncio.run(main())
''')


def test_httpx_streams_sync_and_async(tmp_path, http_server):
    pytest.importorskip("httpx", reason="httpx is not installed (pip install httpx)")
    plain, rec, rep = _record_and_replay(tmp_path, http_server, HTTPX, "hx.py")
    assert "early b'alpha\\n'" in rec.stdout
    assert rep.stdout == rec.stdout  # the raw pieces as they arrived when recorded
    total = sum(len(c) for c in STREAM_CHUNKS)
    assert f"plain get {total}" in rep.stdout
    held = next(c for c in load_capture(tmp_path / "t1") if c["key"].endswith("hold=1"))
    assert held["result"]["complete"] is False


AIOHTTP = textwrap.dedent('''
    import asyncio, sys
    import aiohttp

    async def main(base):
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "/stream") as resp:
                print("chunks", [(len(d), end) async for d, end in resp.content.iter_chunks()])
            async with session.get(base + "/stream") as resp:
                print("read(n)", [len(await resp.content.read(500)) for _ in range(3)])
                print("rest", len(await resp.read()))
            async with session.get(base + "/stream") as resp:
                print("lines", [line async for line in resp.content][:3])
            async with session.get(base + "/stream") as resp:
                print("fixed", [len(c) async for c in resp.content.iter_chunked(1000)][:3])
            async with session.get(base + "/stream?hold=1") as resp:
                print("early", await resp.content.readline())

    asyncio.run(main(sys.argv[1]))
''')


def test_aiohttp_streams(tmp_path, http_server):
    pytest.importorskip("aiohttp", reason="aiohttp is not installed (pip install aiohttp)")
    plain, rec, rep = _record_and_replay(tmp_path, http_server, AIOHTTP, "aio.py")
    assert "(768, True)" in rec.stdout  # iter_chunks saw the ends of the server's chunks
    assert "early b'alpha\\n'" in rec.stdout
    assert rep.stdout == rec.stdout  # read(500) returns what had arrived, as when recorded
    held = next(c for c in load_capture(tmp_path / "t1") if c["key"].endswith("hold=1"))
    assert held["result"]["complete"] is False


def test_aiohttp_replay_read_another_way_gets_the_same_bytes(tmp_path, http_server):
    pytest.importorskip("aiohttp", reason="aiohttp is not installed (pip install aiohttp)")
    _plain, rec, _rep = _record_and_replay(tmp_path, http_server, AIOHTTP, "aio.py")
    changed = tmp_path / "changed.py"
    changed.write_text(AIOHTTP.replace(
        'print("chunks", [(len(d), end) async for d, end in resp.content.iter_chunks()])',
        'print("chunks", len(b"".join([c async for c in resp.content.iter_any()])))'),
        encoding="utf-8")
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(changed), http_server.url],
                       cwd=tmp_path, timeout=60)
    assert rep.returncode == 0, rep.stderr
    total = sum(len(c) for c in STREAM_CHUNKS)
    assert rep.stdout.splitlines()[0] == f"chunks {total}"
    assert rep.stdout.splitlines()[1:] == rec.stdout.splitlines()[1:]


BROKEN = textwrap.dedent('''
    import asyncio, sys
    import httpx

    base = sys.argv[1]
    with httpx.Client() as client:
        with client.stream("GET", base + "/broken") as r:
            got = []
            try:
                for chunk in r.iter_raw():
                    got.append(len(chunk))
            except httpx.HTTPError as e:
                print("broke after", sum(got), type(e).__name__, e)

    async def main():
        async with httpx.AsyncClient() as client:
            try:
                await client.get(base + "/broken")
            except httpx.HTTPError as e:
                print("async broke", type(e).__name__, e)

    asyncio.run(main())
''')


def test_httpx_body_that_breaks_off_replays_the_same_error(tmp_path, http_server):
    pytest.importorskip("httpx", reason="httpx is not installed (pip install httpx)")
    plain, rec, rep = _record_and_replay(tmp_path, http_server, BROKEN, "broken.py")
    assert "broke after 100 RemoteProtocolError" in rec.stdout
    assert "async broke RemoteProtocolError" in rec.stdout
    assert rep.stdout == rec.stdout == plain.stdout
    broken = [c["result"] for c in load_capture(tmp_path / "t1") if c["key"].endswith("/broken")]
    assert [r["stream_error"]["type"] for r in broken] == ["httpx:RemoteProtocolError"] * 2


BROKEN_REQUESTS = textwrap.dedent('''
    import sys
    import requests

    try:
        requests.get(sys.argv[1] + "/broken")
    except requests.RequestException as e:
        print("broke", type(e).__name__, e)
    with requests.get(sys.argv[1] + "/broken", stream=True) as r:
        got = []
        try:
            for chunk in r.iter_content(64):
                got.append(len(chunk))
        except requests.RequestException as e:
            print("streamed", sum(got), type(e).__name__, e)
''')


def test_requests_body_that_breaks_off_replays_the_same_error(tmp_path, http_server):
    """http.client keeps the announced Content-Length of a body that came short, so reading
    past the recorded bytes fails in replay as it did live."""
    pytest.importorskip("requests", reason="requests is not installed (pip install requests)")
    plain, rec, rep = _record_and_replay(tmp_path, http_server, BROKEN_REQUESTS, "broken.py")
    assert "broke ChunkedEncodingError" in rec.stdout and "streamed 64" in rec.stdout
    assert rep.stdout == rec.stdout == plain.stdout


BIG_MIB = 48
DOWNLOADS = textwrap.dedent('''
    import hashlib, resource, sys
    import httpx, requests

    base, mib = sys.argv[1], sys.argv[2]

    def peak_mib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

    start = peak_mib()
    for query in ("", "&chunked=1"):
        digest, n = hashlib.sha256(), 0
        with requests.get(f"{base}/big?mb={mib}{query}", stream=True) as r:
            for chunk in r.iter_content(chunk_size=256 * 1024):
                digest.update(chunk)
                n += len(chunk)
        print("requests", query, n, digest.hexdigest())
    with httpx.Client() as client, client.stream("GET", f"{base}/big?mb={mib}") as r:
        digest = hashlib.sha256()
        for chunk in r.iter_bytes():
            digest.update(chunk)
        print("httpx", digest.hexdigest())
    print("growth", peak_mib() - start, file=sys.stderr)
''')


def _growth(result) -> int:
    return int(result.stderr.split("growth ")[1].split()[0])


def test_long_download_is_kept_in_side_files_not_memory(tmp_path, http_server):
    """A streamed download is spilled to its side file as it is read (requests with a
    Content-Length and chunked, httpx): recording grows the process by less than a tenth of
    what the body would take in memory, and the replay gives the same bytes."""
    pytest.importorskip("requests", reason="requests is not installed (pip install requests)")
    pytest.importorskip("httpx", reason="httpx is not installed (pip install httpx)")
    prog = tmp_path / "big.py"
    prog.write_text(DOWNLOADS, encoding="utf-8")
    args = [str(prog), http_server.url, str(BIG_MIB)]
    plain = run_plain(args, cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", *args],
                       cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout == plain.stdout
    assert _growth(rec) - _growth(plain) < BIG_MIB // 10, (rec.stderr, plain.stderr)
    whole = hashlib.sha256(BIG_BLOCK * BIG_MIB).hexdigest()
    bodies = [c["result"]["body"] for c in load_capture(tmp_path / "t1") if "/big" in c["key"]]
    assert bodies == [{"$file": f"deps-bodies/{whole}.bin"}] * 3, bodies
    side = tmp_path / "t1" / "deps-bodies"
    assert [p.name for p in side.iterdir()] == [f"{whole}.bin"]  # no spill file is left
    http_server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", *args], cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == plain.stdout


RESET = textwrap.dedent('''
    import http.client, sys
    import requests

    base = sys.argv[1]
    conn = http.client.HTTPConnection(base.split("//")[1])
    conn.request("GET", "/reset")
    response = conn.getresponse()
    print(response.status, response.read(40))
    try:
        response.read()
    except OSError as exc:
        print("broken off:", type(exc).__name__, exc.errno)
    try:
        requests.get(base + "/reset")
    except requests.RequestException as exc:
        print("requests:", type(exc).__name__, type(exc.__context__).__name__)
''')


def test_a_body_broken_off_by_a_reset_replays_the_reset(tmp_path, http_server):
    """A server that resets the connection in the middle of a body: the program sees the
    bytes that came, then ConnectionResetError (through requests: ChunkedEncodingError), when
    recorded and when replayed with the server stopped."""
    pytest.importorskip("requests", reason="requests is not installed (pip install requests)")
    rec = _record_then_replay(tmp_path, http_server, RESET, "reset.py")
    assert "broken off: ConnectionResetError 104" in rec.stdout, rec.stdout
    assert "requests: ChunkedEncodingError ProtocolError" in rec.stdout, rec.stdout
    reset = [c for c in load_capture(tmp_path / "t1") if c["key"].endswith("/reset")]
    assert reset[0]["result"]["stream_error"]["type"] == "builtins:ConnectionResetError"


def _record_then_replay(tmp_path, server, source: str, name: str):
    """Records ``source``, stops the server, replays: the same output, nothing on stderr.
    Returns the recording's result."""
    prog = tmp_path / name
    prog.write_text(source, encoding="utf-8")
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog), server.url],
                       cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert (rep.stdout, rep.stderr) == (rec.stdout, "")
    return rec


AIOHTTP_RESET = textwrap.dedent('''
    import asyncio, sys
    import aiohttp

    async def main(base):
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "/reset") as resp:
                print(resp.status, len(await resp.content.read(40)))
                try:
                    await resp.read()
                except aiohttp.ClientError as exc:
                    print("broken off:", type(exc).__name__)

    asyncio.run(main(sys.argv[1]))
''')


def test_aiohttp_body_broken_off_by_a_reset_replays_the_error(tmp_path, http_server):
    pytest.importorskip("aiohttp", reason="aiohttp is not installed (pip install aiohttp)")
    rec = _record_then_replay(tmp_path, http_server, AIOHTTP_RESET, "reset_aio.py")
    assert "200 40\nbroken off: ClientPayloadError" in rec.stdout, rec.stdout
