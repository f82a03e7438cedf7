"""Forked children (os.fork, multiprocessing with the fork start method) and spawned ones
(multiprocessing's spawn): each process records its calls into its own file beside the
parent's deps.jsonl, the parent's stream stays whole, and a replay answers each child from its
own records, with the HTTP server stopped."""

from __future__ import annotations

import json
import textwrap

import pytest

from conftest import load_capture, needs_recorder, run_recorder

pytestmark = needs_recorder

OS_FORK = textwrap.dedent('''
    import os, sys, urllib.request
    base = sys.argv[1]
    print("parent", urllib.request.urlopen(base + "/counter").read().decode(), flush=True)
    pid = os.fork()
    if pid == 0:
        for _ in range(2):
            print("child", urllib.request.urlopen(base + "/counter").read().decode(), flush=True)
        if os.fork() == 0:  # a grandchild
            print("grandchild", urllib.request.urlopen(base + "/json?g=1").read().decode(),
                  flush=True)
            os._exit(0)
        os.wait()
        sys.exit(0)  # the child ends through the recorder's own exit path
    os.waitpid(pid, 0)
    print("parent", urllib.request.urlopen(base + "/counter").read().decode(), flush=True)
''')


def _keys(folder, name):
    lines = (folder / name).read_text(encoding="utf-8").splitlines()
    return json.loads(lines[0]), [json.loads(x)["key"] for x in lines[1:] if '"seq"' in x]


@pytest.mark.parametrize("only", [False, True], ids=["traced", "deps-only"])
def test_os_fork_children_have_their_own_capture_and_replay(tmp_path, http_server, only):
    prog = tmp_path / "fork.py"
    prog.write_text(OS_FORK, encoding="utf-8")
    extra = ["--deps-only"] if only else []
    rec = run_recorder(["--deps", "record", *extra, "--trace-dir", "t1", str(prog),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout.count("child") == 3 and rec.stderr == ""
    url = http_server.url
    parent = [c["key"] for c in load_capture(tmp_path / "t1")]
    assert parent.count(f"GET {url}/counter") == 2 and not any("g=1" in k for k in parent)
    text = (tmp_path / "t1" / "deps.jsonl").read_text(encoding="utf-8")
    assert text.count('"end":true') == 1  # the children wrote nothing into it
    header, child = _keys(tmp_path / "t1", "deps.fork-1.jsonl")
    assert header["format"] == "codetracer-deps" and header["fork"] == "1"
    assert child.count(f"GET {url}/counter") == 2 and f"GET {url}/json?g=1" not in child
    _, grandchild = _keys(tmp_path / "t1", "deps.fork-1.1.jsonl")
    assert grandchild == [f"CONNECT {url}", f"GET {url}/json?g=1"]
    http_server.stop()
    rep = run_recorder(["--deps", "replay=t1", *extra, "--trace-dir", "t2", str(prog), url],
                       cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert sorted(rep.stdout.splitlines()) == sorted(rec.stdout.splitlines())
    assert [x for x in rep.stdout.splitlines() if x.startswith("child")] == \
        [x for x in rec.stdout.splitlines() if x.startswith("child")]
    assert rep.stderr == ""


POOL = textwrap.dedent('''
    import multiprocessing, sys, urllib.request

    def fetch(n):
        return urllib.request.urlopen(f"{sys.argv[1]}/json?n={n}").read().decode()

    if __name__ == "__main__":
        ctx = multiprocessing.get_context("fork")
        pool = ctx.Pool(3)
        print(pool.map(fetch, range(12), chunksize=1))
        pool.close()  # workers end on their own (Pool.terminate's SIGTERM: see the note below)
        pool.join()
        p = ctx.Process(target=fetch, args=(99,))
        p.start()
        p.join()
        print("exit", p.exitcode, fetch(100))
''')


# Pool.__exit__ is terminate(): SIGTERM to workers that are waiting for a task. Under the
# recorder, with or without --deps, a worker now and then survives it and the program hangs in
# Pool's join (reproduced with the recorder's plain tracing, never with plain Python): a
# recorder issue of its own, kept out of this test by ending the pool with close() + join().
def test_multiprocessing_fork_pool_records_every_call_and_replays(tmp_path, http_server):
    prog = tmp_path / "pool.py"
    prog.write_text(POOL, encoding="utf-8")
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    url = http_server.url
    keys = []
    for path in sorted((tmp_path / "t1").glob("deps.fork-*.jsonl")):
        keys += _keys(tmp_path / "t1", path.name)[1]
    # every task's call is in some worker's file (workers leave by os._exit: nothing lost)
    gets = [k for k in keys if not k.startswith("CONNECT") and "n=99" not in k]
    assert sorted(gets) == sorted(f"GET {url}/json?n={n}" for n in range(12))
    assert f"GET {url}/json?n=99" in keys
    assert [c["key"] for c in load_capture(tmp_path / "t1")] == [
        f"CONNECT {url}", f"GET {url}/json?n=100"]
    http_server.stop()
    for _ in range(2):  # tasks land on other workers than when recorded: siblings answer
        rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog), url], cwd=tmp_path)
        assert rep.returncode == 0, rep.stderr
        assert rep.stdout == rec.stdout
        assert "miss" not in rep.stderr, rep.stderr


SPAWN = textwrap.dedent('''
    import multiprocessing, sys, urllib.request

    def fetch(n):
        return urllib.request.urlopen(f"{sys.argv[1]}/json?n={n}").read().decode()

    def report(queue, n):
        queue.put(fetch(n))

    if __name__ == "__main__":
        ctx = multiprocessing.get_context(sys.argv[2])  # spawn: the default on macOS, Windows
        print("parent", fetch(0))
        with ctx.Pool(2) as pool:
            print(pool.map(fetch, range(1, 7), chunksize=1))
        queue = ctx.Queue()
        p = ctx.Process(target=report, args=(queue, 99))
        p.start()
        print("process", queue.get())
        p.join()
        print("exit", p.exitcode)
''')


@pytest.mark.parametrize(("method", "only"), [("spawn", True), ("spawn", False),
                                              ("forkserver", True)],
                         ids=["spawn-deps-only", "spawn-traced", "forkserver-deps-only"])
def test_spawned_children_have_their_own_capture_and_replay(tmp_path, http_server, method,
                                                            only):
    """A spawned child (or a fork server) is a new interpreter: it gets the capture from its
    command line."""
    prog = tmp_path / "spawned.py"
    prog.write_text(SPAWN, encoding="utf-8")
    extra = ["--deps-only"] if only else []
    rec = run_recorder(["--deps", "record", *extra, "--trace-dir", "t1", str(prog),
                        http_server.url, method], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert "exit 0" in rec.stdout and rec.stderr == ""
    url = http_server.url
    keys = []
    for path in sorted((tmp_path / "t1").glob("deps.fork-*.jsonl")):
        keys += _keys(tmp_path / "t1", path.name)[1]
    gets = sorted(k for k in keys if k.startswith("GET"))
    assert gets == sorted(f"GET {url}/json?n={n}" for n in [*range(1, 7), 99])
    assert [k for k in (c["key"] for c in load_capture(tmp_path / "t1"))
            if k.startswith("GET")] == [f"GET {url}/json?n=0"]
    http_server.stop()
    rep = run_recorder(["--deps", "replay=t1", *extra, "--trace-dir", "t2", str(prog), url,
                        method], cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout
    assert "miss" not in rep.stderr, rep.stderr


def test_child_miss_names_the_call(tmp_path, http_server):
    prog = tmp_path / "fork.py"
    prog.write_text(OS_FORK, encoding="utf-8")
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    http_server.stop()
    changed = tmp_path / "changed.py"
    changed.write_text(OS_FORK.replace("/json?g=1", "/json?g=2"), encoding="utf-8")
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(changed), http_server.url],
                       cwd=tmp_path)
    misses = [x for x in rep.stderr.splitlines() if "replay miss" in x]
    assert len(misses) == 1 and f"GET {http_server.url}/json?g=2" in misses[0], rep.stderr
    assert f"closest recorded: GET {http_server.url}/json?g=1" in misses[0]


def test_a_forked_replayer_answers_from_its_own_capture_then_its_siblings():
    from codetracer_python_recorder.deps.replay import Replayer

    def rec(seq, key):
        return {"seq": seq, "category": "http", "key": key, "thread": "MainThread",
                "task": None, "result": seq}

    engine = Replayer([rec(1, "GET /parent")])
    engine.forked([rec(1, "GET /a"), rec(2, "GET /a")], [rec(1, "GET /a"), rec(1, "GET /b")])
    assert engine.take("http", "GET /parent", "MainThread") is None  # the parent's: not here
    assert [engine.take("http", "GET /a", "MainThread")["seq"] for _ in range(3)] == [1, 2, 1]
    assert engine.take("http", "GET /b", "MainThread")["result"] == 1
    assert engine.take("http", "GET /b", "MainThread") is None
    assert engine.index.unused() == []


def test_ct_deps_lists_the_childrens_calls(tmp_path, http_server):
    from test_deps_through_ct_record import run_ct

    prog = tmp_path / "fork.py"
    prog.write_text(OS_FORK, encoding="utf-8")
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    listing = run_ct(["deps", "t1"], tmp_path)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split()[:3] == ["TIME", "PROCESS", "CATEGORY"]
    procs = [line.split()[1:3] for line in lines[1:]]
    assert procs.count(["main", "http"]) == 4 and procs.count(["fork", "1"]) == 4
    assert procs.count(["fork", "1.1"]) == 2 and procs[:4] == [["main", "http"]] * 4
    import json

    calls = json.loads(run_ct(["deps", "t1", "--json"], tmp_path).stdout)
    assert [c.get("fork") for c in calls].count("1.1") == 2


def test_a_response_open_at_fork_is_the_parents(tmp_path, http_server):
    pytest.importorskip("requests", reason="requests is not installed (pip install requests)")
    prog = tmp_path / "open.py"
    prog.write_text(textwrap.dedent('''
        import os, sys, requests
        r = requests.get(sys.argv[1] + "/stream", stream=True)  # open while forking
        pid = os.fork()
        if pid == 0:
            sys.exit(0)  # the child's capture ends: it must not record the parent's response
        os.waitpid(pid, 0)
        print(len(r.content))
    '''), encoding="utf-8")
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    _header, child = _keys(tmp_path / "t1", "deps.fork-1.jsonl")
    assert child == []
    parent = [c for c in load_capture(tmp_path / "t1") if c["key"].endswith("/stream")]
    assert len(parent) == 1 and "complete" not in parent[0]["result"]
