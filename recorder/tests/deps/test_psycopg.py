"""psycopg 3 capture and replay (sync and async) against a real PostgreSQL server."""

from __future__ import annotations

import textwrap

import pytest

from conftest import load_capture, needs_recorder, run_plain, run_recorder

pytestmark = needs_recorder

PROGRAM = textwrap.dedent('''
    import asyncio, sys
    import psycopg
    from psycopg.rows import dict_row

    dsn = sys.argv[1]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS item")
        conn.execute("CREATE TABLE item (id serial PRIMARY KEY, name text, price numeric,"
                     " data bytea, seen timestamptz DEFAULT '2026-01-02T03:04:05Z')")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO item (name, price, data) VALUES (%s, %s, %s)",
                            [("apple", "1.50", b"\\x00\\xff"), ("pear", "2.25", None)])
            print("inserted", cur.rowcount)
            cur.execute("SELECT id, name, price, data, seen FROM item ORDER BY id")
            print([d.name for d in cur.description])
            print(cur.fetchone())
            print(cur.fetchall())
        cur = conn.cursor(row_factory=dict_row)
        print(cur.execute("SELECT name FROM item WHERE price > %(p)s", {"p": 2}).fetchall())
        try:
            conn.execute("SELECT * FROM missing_table")
        except psycopg.errors.UndefinedTable as e:
            print("error:", type(e).__name__, str(e).splitlines()[0])

    async def main():
        async with await psycopg.AsyncConnection.connect(dsn) as aconn:
            async with aconn.cursor() as cur:
                await cur.execute("SELECT count(*) FROM item")
                print("async", await cur.fetchone())

    asyncio.run(main())
''')


@pytest.fixture
def program(tmp_path):
    path = tmp_path / "prog.py"
    path.write_text(PROGRAM, encoding="utf-8")
    return path


def test_replay_with_server_stopped(tmp_path, pg_server, program):
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(program),
                        pg_server.dsn], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert "error: UndefinedTable" in rec.stdout and "async (2,)" in rec.stdout
    assert "Decimal('1.50')" in rec.stdout and "b'\\x00\\xff'" in rec.stdout
    pg_server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(program), pg_server.dsn],
                       cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout
    assert rep.stderr == ""
    keys = [c["key"] for c in load_capture(tmp_path / "t1")]
    assert keys[0] == f"CONNECT host=127.0.0.1 port={pg_server.port} dbname=postgres user=postgres"
    assert 'SQL SELECT name FROM item WHERE price > %(p)s {"p": 2}' in keys


def test_changed_query_misses_with_operational_error(tmp_path, pg_server, program):
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(program),
                        pg_server.dsn], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    pg_server.stop()
    changed = tmp_path / "changed.py"
    changed.write_text(PROGRAM.replace('{"p": 2}', '{"p": 1}').replace(
        'cur = conn.cursor(row_factory=dict_row)',
        'cur = conn.cursor(row_factory=dict_row)\n    try:\n'
        '        cur.execute("SELECT name FROM item WHERE price > %(p)s", {"p": 1})\n'
        '    except psycopg.OperationalError as e:\n'
        '        print("miss:", type(e).__name__)\n'
        '        raise SystemExit(4)'), encoding="utf-8")
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(changed), pg_server.dsn],
                       cwd=tmp_path)
    assert rep.returncode == 4, rep.stderr
    assert "miss: OperationalError" in rep.stdout
    miss = [line for line in rep.stderr.splitlines() if "replay miss" in line]
    assert len(miss) == 1
    assert 'sql SQL SELECT name FROM item WHERE price > %(p)s {"p": 1}' in miss[0]
    assert 'closest recorded: SQL SELECT name FROM item WHERE price > %(p)s {"p": 2}' in miss[0]
    assert "not used in this replay" in rep.stderr


CORNERS = textwrap.dedent('''
    import asyncio, sys
    import psycopg

    dsn = sys.argv[1]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS fruit")
        conn.execute("CREATE TABLE fruit (id int PRIMARY KEY, name text)")
        conn.cursor().executemany("INSERT INTO fruit VALUES (%s, %s)",
                                  ((i, n) for i, n in enumerate(["fig", "kiwi", "lime"], 1)))
    with psycopg.connect(dsn) as conn:  # not autocommit: a transaction, rolled back below
        with conn.cursor() as cur:
            cur.execute("SELECT id, name FROM fruit ORDER BY id")
            print("fetchmany", cur.fetchmany(1), "rest", [row for row in cur])
        try:
            with conn.transaction():
                conn.execute("INSERT INTO fruit VALUES (4, 'pear')")
                conn.execute("INSERT INTO fruit VALUES (1, 'dup')")
        except psycopg.errors.UniqueViolation as e:
            print("rolled back:", type(e).__name__, e.diag.sqlstate)
        print("count", conn.execute("SELECT count(*) FROM fruit").fetchone())
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.cursor()
        cur.executemany("INSERT INTO fruit VALUES (%s, %s) RETURNING id, upper(name)",
                        [(7, "yuzu"), (8, "ume")], returning=True)
        print("returning", cur.rowcount, cur.fetchone())
        while cur.nextset():
            print("next", cur.fetchone())

    async def main():
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as aconn:
            async with aconn.cursor() as cur:
                await cur.executemany("INSERT INTO fruit VALUES (%s, %s)",
                                      [(5, "date"), (6, "plum")])
                print("async many", cur.rowcount)
                await cur.execute("SELECT name FROM fruit ORDER BY id")
                print("async", await cur.fetchmany(2), [row async for row in cur])
                await cur.execute("SELECT name FROM fruit WHERE id > %s AND id < 7", (4,))
                print("async all", await cur.fetchall())
                await cur.executemany("DELETE FROM fruit WHERE id = %s RETURNING name",
                                      [(7,), (8,)], returning=True)
                print("async returning", cur.rowcount, await cur.fetchall())
                while cur.nextset():
                    print("async next", await cur.fetchall())

    asyncio.run(main())
''')


def _record(tmp_path, pg_server, source: str, name: str):
    """Runs the program plainly, then under --deps-only record: the capture must change
    nothing the program sees. Returns the program and the recorded run."""
    prog = tmp_path / name
    prog.write_text(source, encoding="utf-8")
    plain = run_plain([str(prog), pg_server.dsn], cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        pg_server.dsn], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout == plain.stdout
    return prog, rec


def _replay_with_server_stopped(tmp_path, pg_server, prog, rec):
    """Stops PostgreSQL and replays the recorded run: the same output."""
    pg_server.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog), pg_server.dsn],
                       cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout
    return rep


def test_fetch_variants_transactions_and_async_executemany_replay(tmp_path, pg_server):
    prog, rec = _record(tmp_path, pg_server, CORNERS, "corners.py")
    assert "fetchmany [(1, 'fig')] rest [(2, 'kiwi'), (3, 'lime')]" in rec.stdout
    assert "rolled back: UniqueViolation 23505" in rec.stdout and "count (3,)" in rec.stdout
    assert "async many 2" in rec.stdout and "async all [('date',), ('plum',)]" in rec.stdout
    assert "(7, 'YUZU')\nnext (8, 'UME')" in rec.stdout
    assert "[('yuzu',)]\nasync next [('ume',)]" in rec.stdout
    rep = _replay_with_server_stopped(tmp_path, pg_server, prog, rec)
    assert rep.stderr == ""


NAMED = textwrap.dedent('''
    import asyncio, sys
    import psycopg
    from psycopg.rows import dict_row

    dsn = sys.argv[1]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS big")
        conn.execute("CREATE TABLE big AS SELECT i AS id, 'row ' || i AS name, i * 1.5 AS score"
                     " FROM generate_series(1, 500) AS i")
    with psycopg.connect(dsn) as conn:
        with conn.cursor("pages") as cur:
            cur.execute("SELECT id, name FROM big WHERE id > %s ORDER BY id", (10,))
            print("columns", [d.name for d in cur.description])
            print("one", cur.fetchone())
            print("page", cur.fetchmany(3))
            cur.scroll(100, "absolute")
            print("after scroll", cur.fetchone())
        cur = conn.cursor("walk", row_factory=dict_row)
        cur.itersize = 50
        total = 0
        for row in cur.execute("SELECT id, score FROM big ORDER BY id"):
            total += row["score"]
        print("walked", total)
        cur.close()
        left_open = conn.cursor("left")  # never closed: the capture's end records it
        left_open.execute("SELECT name FROM big WHERE id <= 2 ORDER BY id")
        print("left open", left_open.fetchall())

        async def main():
            async with await psycopg.AsyncConnection.connect(dsn) as aconn:
                async with aconn.cursor("apages") as acur:
                    await acur.execute("SELECT id FROM big WHERE mod(id, 100) = 0 ORDER BY id")
                    print("async named", await acur.fetchmany(2), await acur.fetchall())

        asyncio.run(main())
        print("done")
''')


def test_named_cursors_record_what_is_fetched_and_replay(tmp_path, pg_server):
    prog, rec = _record(tmp_path, pg_server, NAMED, "named.py")
    assert "one (11, 'row 11')" in rec.stdout and "after scroll (111, 'row 111')" in rec.stdout
    assert "walked 187875.0" in rec.stdout.replace("Decimal('187875.0')", "187875.0")
    assert "async named [(100,), (200,)] [(300,), (400,), (500,)]" in rec.stdout
    calls = {c["key"]: c for c in load_capture(tmp_path / "t1")}
    pages = calls['SQL SELECT id, name FROM big WHERE id > %s ORDER BY id {"$tuple": [10]}']
    rows = pages["result"]["rows"]
    # what the program read, by position: rows 0-3, then row 100; the skipped ones are null
    # and the rest of the 490 rows were never fetched from the server
    assert len(rows) == 101 and rows[99] is None and rows[100] is not None
    assert "SQL SELECT name FROM big WHERE id <= 2 ORDER BY id" in calls  # closed by the end
    rep = _replay_with_server_stopped(tmp_path, pg_server, prog, rec)
    assert rep.stderr == ""


PIPELINE = textwrap.dedent('''
    import asyncio, sys, psycopg
    dsn = sys.argv[1]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS p")
        conn.execute("CREATE TABLE p (id int PRIMARY KEY, name text)")
        with conn.pipeline() as pipe:
            conn.execute("INSERT INTO p VALUES (%s, %s)", (1, "one"))
            cur = conn.execute("INSERT INTO p VALUES (%s, %s) RETURNING id", (2, "two"))
            with conn.cursor() as many:
                many.executemany("INSERT INTO p VALUES (%s, %s)", [(3, "three"), (4, "four")])
                pipe.sync()
                print("many rowcount", many.rowcount)
            with conn.cursor() as back:
                back.executemany("INSERT INTO p VALUES (%s, %s) RETURNING id * 10",
                                 [(7, "seven"), (8, "eight")], returning=True)
                pipe.sync()
                ids = [back.fetchone()]
                while back.nextset():
                    ids.append(back.fetchone())
                print("returned", ids)
            print("pipeline returned", cur.fetchone())
            sel = conn.execute("SELECT name FROM p ORDER BY id")
        print("after", sel.fetchall())
        try:
            with conn.pipeline():
                conn.execute("INSERT INTO p VALUES (%s, %s)", (5, "five"))
                conn.execute("INSERT INTO p VALUES (%s, %s)", (1, "dup"))
                conn.execute("INSERT INTO p VALUES (%s, %s)", (6, "six"))
        except psycopg.Error as e:
            print("pipeline failed:", type(e).__name__, e.sqlstate)
        print(conn.execute("SELECT count(*) FROM p").fetchone())

    async def main():
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as aconn:
            async with aconn.pipeline():
                c1 = await aconn.execute("SELECT name FROM p WHERE id = %s", (2,))
                c2 = await aconn.execute("SELECT count(*) FROM p")
            print("async", await c1.fetchone(), await c2.fetchone())

    asyncio.run(main())
''')


def test_pipelines_record_results_at_the_sync_and_replay(tmp_path, pg_server):
    prog, rec = _record(tmp_path, pg_server, PIPELINE, "pipe.py")
    assert "many rowcount 2\nreturned [(70,), (80,)]\npipeline returned (2,)" in rec.stdout
    assert "pipeline failed: UniqueViolation 23505\n(6,)\nasync ('two',) (6,)" in rec.stdout
    calls = {c["key"]: c for c in load_capture(tmp_path / "t1")}
    returned = calls['SQL INSERT INTO p VALUES (%s, %s) RETURNING id {"$tuple": [2, "two"]}']
    assert returned["result"]["rows"] == [[2]]  # read when the results came, not before
    assert calls['SQL INSERT INTO p VALUES (%s, %s) {"$tuple": [1, "dup"]}']["error"][
        "type"] == "psycopg.errors:UniqueViolation"
    # psycopg raises the refusal at the sync, or already from the next execute when the
    # answer came in while it sent that statement: the error that call raised
    assert calls['SQL INSERT INTO p VALUES (%s, %s) {"$tuple": [6, "six"]}']["error"][
        "type"] in ("psycopg.errors:PipelineAborted", "psycopg.errors:UniqueViolation")
    rep = _replay_with_server_stopped(tmp_path, pg_server, prog, rec)
    # replay raises the refused statement's error at once, so the aborted one never runs
    assert rep.stderr.count("\n") == 2 and '[6, "six"]' in rep.stderr


COPY = textwrap.dedent('''
    import asyncio, sys, psycopg
    dsn = sys.argv[1]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS c")
        conn.execute("CREATE TABLE c (id int, name text, price numeric)")
        with conn.cursor() as cur:
            with cur.copy("COPY c (id, name, price) FROM STDIN") as copy:
                for i in range(5):
                    copy.write_row((i, f"n{i}", i * 1.5))
                copy.write("10\\tblock\\t2.5\\n")
            print("copied in", cur.rowcount, cur.statusmessage)
            with cur.copy("COPY (SELECT id, name, price FROM c WHERE id > %s ORDER BY id)"
                          " TO STDOUT", (1,)) as copy:
                copy.set_types(["int4", "text", "numeric"])
                print("rows", list(copy.rows()))
            print("copied out", cur.rowcount)
            with cur.copy("COPY c TO STDOUT (FORMAT csv)") as copy:
                print("blocks", b"".join(bytes(b) for b in copy))

    async def main():
        async with await psycopg.AsyncConnection.connect(dsn) as aconn:
            async with aconn.cursor() as cur:
                async with cur.copy("COPY (SELECT name FROM c ORDER BY id LIMIT 2) TO STDOUT") as cp:
                    print("async rows", [r async for r in cp.rows()])
                async with cur.copy("COPY c (id, name) FROM STDIN") as cp:
                    await cp.write_row((99, "async"))
                print("async in", cur.rowcount)

    asyncio.run(main())
''')


def test_copy_in_and_out_replays(tmp_path, pg_server):
    # not copy.py: that would shadow the copy module
    prog, rec = _record(tmp_path, pg_server, COPY, "copies.py")
    assert "copied in 6 COPY 6\nrows [(2, 'n2', Decimal('3.0'))" in rec.stdout
    assert "blocks b'10,block,2.5\\n0,n0,0.0\\n" in rec.stdout
    assert "async rows [('n0',), ('n1',)]\nasync in 1" in rec.stdout
    calls = {c["key"]: c for c in load_capture(tmp_path / "t1")}
    copied_in = calls["SQL COPY c (id, name, price) FROM STDIN"]
    assert copied_in["request"]["written"] == {"rows": 5, "blocks": 1}
    rep = _replay_with_server_stopped(tmp_path, pg_server, prog, rec)
    assert rep.stderr == ""
