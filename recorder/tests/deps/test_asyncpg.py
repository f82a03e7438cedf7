"""asyncpg capture and replay against a real PostgreSQL server."""

from __future__ import annotations

import textwrap

import pytest

from conftest import load_capture, needs_recorder, run_recorder

pytestmark = needs_recorder

PROGRAM = textwrap.dedent('''
    import asyncio, sys
    import asyncpg

    async def main(dsn):
        conn = await asyncpg.connect(dsn)
        print(await conn.execute("DROP TABLE IF EXISTS fruit"))
        await conn.execute("CREATE TABLE fruit (id int PRIMARY KEY, name text, price numeric)")
        await conn.executemany("INSERT INTO fruit VALUES ($1, $2, $3)",
                               ((i, n, p) for i, n, p in [(1, "apple", 1.5), (2, "pear", 2)]))
        async with conn.transaction():
            await conn.execute("UPDATE fruit SET price = price + 1 WHERE id = $1", 2)
        rows = await conn.fetch("SELECT * FROM fruit ORDER BY id")
        print(rows)
        print([dict(r) for r in rows], rows[0]["name"], rows[1][2])
        print(await conn.fetchrow("SELECT name FROM fruit WHERE id = $1", 2))
        print(await conn.fetchval("SELECT count(*) FROM fruit"))
        stmt = await conn.prepare("SELECT name FROM fruit WHERE price > $1 ORDER BY id")
        print(await stmt.fetch(1))
        try:
            await conn.fetch("SELECT * FROM nowhere")
        except asyncpg.exceptions.UndefinedTableError as e:
            print("error:", type(e).__name__, e)
        await conn.close()
        async with asyncpg.create_pool(dsn, min_size=2, max_size=3) as pool:
            async with pool.acquire() as pconn:
                print(await pconn.fetchval("SELECT max(id) FROM fruit"))
            print(await pool.fetch("SELECT id FROM fruit WHERE id > $1", 1))

    asyncio.run(main(sys.argv[1]))
''')


def test_replay_with_server_stopped(tmp_path, pg_server):
    pytest.importorskip("asyncpg", reason="asyncpg is not installed (pip install asyncpg)")
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM, encoding="utf-8")
    dsn = f"postgresql://postgres@127.0.0.1:{pg_server.port}/postgres"
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog), dsn],
                       cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert "<Record id=1 name='apple' price=Decimal('1.5')>" in rec.stdout
    assert 'error: UndefinedTableError relation "nowhere" does not exist' in rec.stdout
    keys = [c["key"] for c in load_capture(tmp_path / "t1")]
    assert not any("BEGIN" in k or "COMMIT" in k for k in keys), keys
    assert "SQL fetch SELECT name FROM fruit WHERE price > $1 ORDER BY id [1]" in keys
    pg_server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog), dsn], cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout
    assert rep.stderr == ""
    changed = tmp_path / "changed.py"
    changed.write_text(PROGRAM.replace("WHERE id = $1\", 2))", "WHERE id = $1\", 3))"),
                       encoding="utf-8")
    miss = run_recorder(["--deps", "replay=t1", "--deps-only", str(changed), dsn], cwd=tmp_path)
    assert miss.returncode == 1
    assert "ConnectionDoesNotExistError" in miss.stderr
    lines = [x for x in miss.stderr.splitlines() if "replay miss" in x]
    assert len(lines) == 1 and "SQL fetchrow SELECT name FROM fruit WHERE id = $1 [3]" in lines[0]
    assert "closest recorded: SQL fetchrow SELECT name FROM fruit WHERE id = $1 [2]" in lines[0]


CORNERS = textwrap.dedent('''
    import asyncio, sys
    import asyncpg

    async def main(dsn):
        conn = await asyncpg.connect(dsn)
        await conn.execute("DROP TABLE IF EXISTS acct")
        await conn.execute("CREATE TABLE acct (id int PRIMARY KEY,"
                           " balance int CHECK (balance >= 0))")
        await conn.executemany("INSERT INTO acct VALUES ($1, $2)", [(1, 10), (2, 0)])
        stmt = await conn.prepare("SELECT balance FROM acct WHERE id = $1")
        print("prepared", await stmt.fetchrow(1), await stmt.fetchval(2))
        upd = await conn.prepare("UPDATE acct SET balance = balance + $2 WHERE id = $1")
        await upd.executemany([(1, -5), (2, 5)])
        print("many", await stmt.fetchmany([(1,), (2,)]))
        tr = conn.transaction()
        await tr.start()
        try:
            await conn.execute("UPDATE acct SET balance = balance - 100 WHERE id = $1", 1)
        except asyncpg.exceptions.CheckViolationError as e:
            print("refused:", type(e).__name__)
            await tr.rollback()
        else:
            await tr.commit()
        try:
            async with conn.transaction():
                await conn.execute("UPDATE acct SET balance = 0 WHERE id = $1", 2)
                raise RuntimeError("abort")
        except RuntimeError:
            pass
        print("after", await conn.fetch("SELECT * FROM acct ORDER BY id"))
        await conn.executemany("INSERT INTO acct VALUES ($1, $2)",
                               [(i, i) for i in range(10, 17)])
        async with conn.transaction():  # cursors live in a transaction
            print("iterated", [r["id"] async for r in conn.cursor(
                "SELECT id FROM acct WHERE id >= $1 ORDER BY id", 10, prefetch=3)])
            cur = await conn.cursor("SELECT id FROM acct WHERE id >= $1 ORDER BY id", 10)
            print("fetch", await cur.fetch(2), await cur.fetchrow())
            print("forward", await cur.forward(2), await cur.fetch(5), await cur.fetch(1))
            stmt = await conn.prepare("SELECT id FROM acct WHERE id < $1 ORDER BY id")
            print("prepared cursor", [r[0] async for r in stmt.cursor(12)])
        try:
            await conn.prepare("SELEC nothing")
        except asyncpg.exceptions.PostgresSyntaxError as e:
            print("syntax:", type(e).__name__, e)
        await conn.close()

    asyncio.run(main(sys.argv[1]))
''')


def test_prepared_statements_and_transactions_replay(tmp_path, pg_server):
    pytest.importorskip("asyncpg", reason="asyncpg is not installed (pip install asyncpg)")
    prog = tmp_path / "corners.py"
    prog.write_text(CORNERS, encoding="utf-8")
    dsn = f"postgresql://postgres@127.0.0.1:{pg_server.port}/postgres"
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog), dsn],
                       cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert "prepared <Record balance=10> 0" in rec.stdout
    assert "refused: CheckViolationError" in rec.stdout
    assert "after [<Record id=1 balance=5>, <Record id=2 balance=5>]" in rec.stdout
    assert 'syntax: PostgresSyntaxError syntax error at or near "SELEC"' in rec.stdout
    assert "iterated [10, 11, 12, 13, 14, 15, 16]" in rec.stdout
    assert "forward 2 [<Record id=15>, <Record id=16>] []" in rec.stdout
    assert "prepared cursor [1, 2, 10, 11]" in rec.stdout
    keys = [c["key"] for c in load_capture(tmp_path / "t1")]
    assert "SQL prepare SELEC nothing" in keys
    pg_server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog), dsn], cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout
    assert rep.stderr == ""
