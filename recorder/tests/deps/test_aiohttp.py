"""aiohttp client capture and replay against a real loopback HTTP server."""

from __future__ import annotations

import textwrap

import pytest

from conftest import load_capture, needs_recorder, run_recorder

pytestmark = needs_recorder

PROGRAM = textwrap.dedent('''
    import asyncio, hashlib, sys
    import aiohttp

    async def main(base):
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "/json", params={"q": "1"}) as resp:
                print(resp.status, resp.content_type, await resp.json())
            resp = await session.get(base + "/binary")
            print(hashlib.sha256(await resp.read()).hexdigest())
            print((await (await session.get(base + "/gzip")).text())[:13])
            resp = await session.post(base + "/upload", data=bytes(range(256)))
            print((await resp.json())["got"][:12])
            resp = await session.get(base + "/fail")
            try:
                resp.raise_for_status()
            except aiohttp.ClientResponseError as e:
                print("status error:", e.status)
            results = await asyncio.gather(*(session.get(base + "/slow") for _ in range(20)))
            print([(await r.json())["arrival"] for r in results])
            try:
                await session.get("http://127.0.0.1:9/closed")
            except aiohttp.ClientError as e:
                print("error:", isinstance(e, aiohttp.ClientOSError))

    asyncio.run(main(sys.argv[1]))
''')


def test_replay_with_server_stopped(tmp_path, http_server):
    pytest.importorskip("aiohttp", reason="aiohttp is not installed (pip install aiohttp)")
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM, encoding="utf-8")
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert "status error: 500" in rec.stdout and "error: True" in rec.stdout
    slow = [c["seq"] for c in load_capture(tmp_path / "t1") if c["key"].endswith("/slow")]
    assert len(slow) == 20 and slow != sorted(slow)
    http_server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog), http_server.url],
                       cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout
    assert rep.stderr == ""
    changed = tmp_path / "changed.py"
    changed.write_text(PROGRAM.replace('params={"q": "1"}', 'params={"q": "2"}'),
                       encoding="utf-8")
    miss = run_recorder(["--deps", "replay=t1", "--deps-only", str(changed), http_server.url],
                        cwd=tmp_path)
    assert miss.returncode == 1 and "aiohttp.client_exceptions.ClientConnectionError" in miss.stderr
    lines = [x for x in miss.stderr.splitlines() if "replay miss" in x]
    assert len(lines) == 1 and "differs: query" in lines[0]
