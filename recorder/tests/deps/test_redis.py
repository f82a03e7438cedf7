"""redis-py capture and replay (sync, asyncio, pipelines) against a real redis-server."""

from __future__ import annotations

import textwrap

import pytest

from conftest import load_capture, needs_recorder, run_recorder

pytestmark = needs_recorder

PROGRAM = textwrap.dedent('''
    import asyncio, hashlib, sys
    import redis, redis.asyncio

    port = int(sys.argv[1])
    r = redis.Redis(host="127.0.0.1", port=port)
    r.set("greeting", "hello")
    print(r.get("greeting"))
    print([r.incr("n") for _ in range(3)])
    r.set("blob", bytes(range(256)) * 4096)
    print(hashlib.sha256(r.get("blob")).hexdigest())
    r.hset("user:1", mapping={"name": "ann", "age": 7})
    print(sorted(r.hgetall("user:1").items()))
    try:
        r.incr("greeting")
    except redis.ResponseError as e:
        print("error:", type(e).__name__, e)
    with r.pipeline() as p:
        p.set("a", 1).incr("a").get("a")
        print(p.execute())
    with r.pipeline(transaction=False) as p:
        p.lpush("l", "x", "y").lrange("l", 0, -1)
        print(p.execute())

    async def main():
        ar = redis.asyncio.Redis(host="127.0.0.1", port=port)
        # 20 concurrent INCRs of one key: the k-th task to start sees k
        values = await asyncio.gather(*(ar.incr("shared") for _ in range(20)))
        print(values)
        async with ar.pipeline() as p:
            p.get("greeting").incr("async-n")
            print(await p.execute())
        await ar.aclose()

    asyncio.run(main())
''')


@pytest.fixture
def program(tmp_path):
    path = tmp_path / "prog.py"
    path.write_text(PROGRAM, encoding="utf-8")
    return path


@pytest.mark.parametrize("only", [False, True], ids=["traced", "deps-only"])
def test_replay_with_server_stopped(tmp_path, redis_server, program, only):
    extra = ["--deps-only"] if only else []
    rec = run_recorder(["--deps", "record", *extra, "--trace-dir", "t1", str(program),
                        str(redis_server.port)], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert "error: ResponseError value is not an integer" in rec.stdout
    assert "[1, 2, 3]" in rec.stdout
    redis_server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(program),
                        str(redis_server.port)], cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout
    assert rep.stderr == ""
    calls = load_capture(tmp_path / "t1")
    keys = [c["key"] for c in calls]
    assert "GET greeting" in keys and "MULTI SET a 1 | INCRBY a 1 | GET a" in keys
    assert "PIPELINE LPUSH l x y | LRANGE l 0 -1" in keys
    assert any(k.startswith("SET blob ") and "1048576 bytes sha256:" in k for k in keys)
    assert sum(k == "INCRBY shared 1" for k in keys) == 20
    assert {c["task"] for c in calls if c["key"] == "INCRBY shared 1"} == {
        f"Task-{n}" for n in range(2, 22)}


def test_extra_command_misses_with_redis_connection_error(tmp_path, redis_server, program):
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(program),
                        str(redis_server.port)], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    redis_server.stop()
    changed = tmp_path / "changed.py"
    changed.write_text(PROGRAM.replace(
        'print(r.get("greeting"))',
        'print(r.get("greeting"))\n'
        'try:\n'
        '    r.get("greting")\n'
        'except redis.ConnectionError as e:\n'
        '    print("extra:", type(e).__name__)'), encoding="utf-8")
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(changed),
                        str(redis_server.port)], cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert "extra: ConnectionError" in rep.stdout
    assert [x for x in rep.stdout.splitlines() if not x.startswith("extra")] == \
        rec.stdout.splitlines()
    lines = rep.stderr.splitlines()
    assert len(lines) == 1, rep.stderr
    assert "replay miss: redis GET greting" in lines[0]
    assert "closest recorded: GET greeting" in lines[0]


def test_auth_is_masked(tmp_path, redis_server):
    prog = tmp_path / "auth.py"
    prog.write_text(textwrap.dedent('''
        import sys, redis
        r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
        try:
            r.execute_command("AUTH", "hunter2-secret")
        except redis.exceptions.RedisError as e:
            print(type(e).__name__)
        r.set("message", "tokens_used")
        print(r.get("message"))
    '''), encoding="utf-8")
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        str(redis_server.port)], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    text = (tmp_path / "t1" / "deps.jsonl").read_text(encoding="utf-8")
    assert "hunter2-secret" not in text
    assert '"AUTH <masked>"' in text and '"SET message tokens_used"' in text
    redis_server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog),
                        str(redis_server.port)], cwd=tmp_path)
    assert (rep.returncode, rep.stdout, rep.stderr) == (0, rec.stdout, "")


def test_redis_secret_settings_are_masked(tmp_path, redis_server):
    """``CONFIG SET masterauth``/``requirepass`` hold no secret word, and ``CONFIG GET``
    answers with the secret: neither reaches the capture, and the replay still matches."""
    prog = tmp_path / "config.py"
    prog.write_text(textwrap.dedent('''
        import sys, redis
        r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), decode_responses=True)
        print(r.config_set("masterauth", "hunter2-secret"))
        print(r.execute_command("CONFIG", "SET", "maxmemory-samples", "6", "masterauth",
                                "hunter3-secret"))
        print(sorted(r.config_get("masterauth")))
        print(r.config_get("maxmemory-samples"))
    '''), encoding="utf-8")
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        str(redis_server.port)], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    text = (tmp_path / "t1" / "deps.jsonl").read_text(encoding="utf-8")
    assert "hunter" not in text
    assert '"CONFIG SET maxmemory-samples 6 masterauth <masked>"' in text
    assert '"maxmemory-samples":"6"' in text  # other settings as they are
    redis_server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog),
                        str(redis_server.port)], cwd=tmp_path)
    assert (rep.returncode, rep.stdout, rep.stderr) == (0, rec.stdout, "")


WATCH = textwrap.dedent('''
    import asyncio, sys
    import redis, redis.asyncio

    port = int(sys.argv[1])
    r = redis.Redis(host="127.0.0.1", port=port)
    other = redis.Redis(host="127.0.0.1", port=port)
    r.set("stock", 5)
    with r.pipeline() as pipe:  # optimistic locking: WATCH, read, MULTI ... EXEC
        pipe.watch("stock")
        n = int(pipe.get("stock"))
        pipe.multi()
        pipe.set("stock", n - 1)
        print("watched", pipe.execute(), pipe.watching)
    with r.pipeline() as pipe:  # another client changes the key: EXEC fails
        pipe.watch("stock")
        other.set("stock", 100)
        pipe.multi()
        pipe.incr("stock")
        try:
            pipe.execute()
        except redis.WatchError as e:
            print("lost the race:", type(e).__name__, e)

    def bump(pipe):
        value = int(pipe.get("stock"))
        pipe.multi()
        pipe.set("stock", value + 1)

    print("transaction", r.transaction(bump, "stock"), r.get("stock"))
    with r.pipeline(transaction=False) as pipe:  # an error among the replies
        pipe.set("s", "x").incr("s").get("s")
        replies = pipe.execute(raise_on_error=False)
        print("replies", replies, [f"{type(x).__name__}: {x}" for x in replies[1:2]])

    async def main():
        ar = redis.asyncio.Redis(host="127.0.0.1", port=port)
        async with ar.pipeline() as pipe:
            await pipe.watch("stock")
            n = int(await pipe.get("stock"))
            pipe.multi()
            pipe.set("stock", n * 2)
            print("async watched", await pipe.execute())
        print(await ar.get("stock"))
        await ar.aclose()

    asyncio.run(main())
''')


def test_watch_transactions_and_error_replies_replay(tmp_path, redis_server):
    prog = tmp_path / "watch.py"
    prog.write_text(WATCH, encoding="utf-8")
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        str(redis_server.port)], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert "watched [True] False" in rec.stdout and "lost the race: WatchError" in rec.stdout
    assert "transaction [True] b'101'" in rec.stdout
    assert "replies [True, server:ResponseError, b'x'] ['ResponseError: value is not an integer or out of range']" \
        in rec.stdout and "b'202'" in rec.stdout
    keys = [c["key"] for c in load_capture(tmp_path / "t1")]
    assert keys.count("WATCH stock") == 4 and "MULTI SET stock 4" in keys
    redis_server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog),
                        str(redis_server.port)], cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout
    assert rep.stderr == ""
