"""The deps package's public per-scope interface (``deps.scopes``), which the integrations use
alone: concurrent scopes, threads with a copied context, tasks that outlive their scope, calls
outside every scope, nested scopes, replay from a scope's records, and masking settings. Run
in a subprocess against a real HTTP server on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.request

from integrations_support import HttpServer, app_env, needs_recorder

pytestmark = needs_recorder

SCRIPT = textwrap.dedent('''
    import asyncio, json, sys, threading, urllib.request
    from codetracer_python_recorder.deps import scopes

    URL = sys.argv[1]

    def get(q):
        with urllib.request.urlopen(f"{URL}/json?q={q}") as r:
            return json.loads(r.read())["query"]

    def counter():
        with urllib.request.urlopen(f"{URL}/counter") as r:
            return json.loads(r.read())["n"]

    def keys(scope):
        return [r["key"].rpartition("?")[2] for r in scope.records()
                if r["key"].startswith("GET")]

    assert scopes.record() and scopes.record()  # idempotent
    get("before")  # outside every scope
    opened = {}

    async def late(i):
        await asyncio.sleep(0.2)
        await asyncio.to_thread(get, f"late{i}")

    async def request(i):
        scope = opened[f"r{i}"] = scopes.open_scope()
        await asyncio.sleep(0.01 * (5 - i))
        await asyncio.to_thread(get, f"r{i}a")  # a thread started with a copy of the context
        spawned = asyncio.get_running_loop().create_task(late(i))  # outlives the request
        await asyncio.to_thread(get, f"r{i}b")
        scope.close()
        return spawned

    async def main():
        spawned = await asyncio.gather(*(request(i) for i in range(5)))
        background = threading.Thread(target=get, args=("background",))
        background.start()
        background.join()
        await asyncio.gather(*spawned)

    asyncio.run(main())
    out = {name: keys(scope) for name, scope in opened.items()}

    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=2)  # shared by both scopes and by code in none
    both_open, both_done = threading.Barrier(2), threading.Barrier(3)
    nobody_done, pooled = threading.Event(), {}

    def unit(name):
        scope = pooled[name] = scopes.open_scope()
        both_open.wait()
        list(pool.map(get, [f"{name}-p{k}" for k in range(3)]))  # starts the pool's threads
        thread = threading.Thread(target=get, args=(f"{name}-t",))  # a plain thread
        thread.start()
        thread.join()
        both_done.wait()
        nobody_done.wait(30)
        scope.close()

    units = [threading.Thread(target=unit, args=(name,)) for name in ("u1", "u2")]
    for thread in units:
        thread.start()
    both_done.wait()
    # while both are open, from outside any scope, on a pool thread started inside one
    pool.submit(get, "nobody").result()
    nobody_done.set()
    for thread in units:
        thread.join()
    out.update({name: sorted(keys(scope)) for name, scope in pooled.items()})

    outer = scopes.open_scope()
    get("o1")
    inner = scopes.open_scope()
    get("i1")
    inner.close()
    get("o2")
    outer.close()
    get("after")
    out["outer"], out["inner"] = keys(outer), keys(inner)
    out["starts"] = [r["start"] for r in inner.records()]

    scope = scopes.open_scope()
    out["counter"] = counter()
    get("x&tenant=acme&page=1")
    scope.close()
    recorded = scope.records()
    out["masked"] = keys(scope)[-1]
    scopes.finish(0)

    engine = scopes.replay(recorded)
    out["replayed_counter"] = counter()
    out["replayed_masked"] = get("x&tenant=other&page=1")
    try:
        get("never-recorded")
    except OSError as exc:
        out["miss"] = type(exc).__name__
    out["hits"], out["misses"] = engine.hits, engine.misses
    scopes.finish(0)
    print(json.dumps(out))
''')


def test_public_scope_interface(tmp_path):
    script = tmp_path / "scopes_app.py"
    script.write_text(SCRIPT)
    http = HttpServer()
    try:
        done = subprocess.run([sys.executable, str(script), http.url], cwd=tmp_path,
                              env=app_env(CODETRACER_DEPS_MASK_WORDS="tenant"),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        with urllib.request.urlopen(f"{http.url}/counter") as answer:
            after = json.loads(answer.read())["n"]
    finally:
        http.stop()
    out = json.loads(done.stdout)
    for i in range(5):
        # its own two calls; not the other four requests', not the late task's, not the
        # background thread's nor the one made before any scope
        assert out[f"r{i}"] == [f"q=r{i}a", f"q=r{i}b"], out
    for name in ("u1", "u2"):  # executor work items and a plain thread carry their scope
        assert out[name] == [f"q={name}-p0", f"q={name}-p1", f"q={name}-p2", f"q={name}-t"]
    assert out["outer"] == ["q=o1", "q=i1", "q=o2"] and out["inner"] == ["q=i1"]
    assert all(start >= 0 for start in out["starts"])
    assert out["masked"] == "q=x&tenant=<masked>&page=1"  # CODETRACER_DEPS_MASK_WORDS
    assert out["replayed_counter"] == out["counter"] == 1
    assert after == 2  # the replayed /counter call never reached the server
    # matched with the secret masked as recorded, answered with the recorded body
    assert out["replayed_masked"] == "q=x&tenant=acme&page=1"
    assert out["miss"] == "ConnectionRefusedError" and out["hits"] == 2 and out["misses"] == 1
    assert "replay miss: http GET" in done.stderr
