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
