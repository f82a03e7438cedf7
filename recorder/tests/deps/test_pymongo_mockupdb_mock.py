"""pymongo capture and replay against mockupdb, a MOCK MongoDB server (Debian ships no
MongoDB): mockupdb speaks the real wire protocol on loopback, so pymongo runs its real network
code (handshake, monitors, commands); the answers are scripted here."""

from __future__ import annotations

import textwrap

import pytest

from conftest import load_capture, needs_recorder, run_recorder

pytestmark = needs_recorder

PROGRAM = textwrap.dedent('''
    import sys
    from pymongo import MongoClient, errors

    client = MongoClient(sys.argv[1], serverSelectionTimeoutMS=3000)
    people = client.app.people
    doc = {"name": "cy", "password": "pw"}
    result = people.insert_one(doc)
    print("inserted", type(result).__name__, doc["_id"] == result.inserted_id)
    print([d["name"] for d in people.find({"age": {"$gt": 3}}).sort("name").limit(5)])
    print(people.find_one({"name": "ann"}))
    print(people.update_one({"name": "ann"}, {"$set": {"age": 9}}).modified_count)
    print(people.delete_many({"age": {"$lt": 0}}).deleted_count)
    print(people.count_documents({}))
    print(people.distinct("name"))
    with people.aggregate([{"$group": {"_id": 1, "n": {"$sum": 1}}}]) as cursor:
        print(list(cursor))
    client.close()
''')


@pytest.fixture
def mongo_mock():
    mockupdb = pytest.importorskip("mockupdb", reason="mockupdb is not installed (pip install mockupdb)")
    pytest.importorskip("pymongo", reason="pymongo is not installed (pip install pymongo)")
    server = mockupdb.MockupDB(auto_ismaster={"maxWireVersion": 21, "minWireVersion": 0,
                                              "logicalSessionTimeoutMinutes": 30})
    people = [{"_id": 1, "name": "ann", "age": 7}, {"_id": 2, "name": "bob", "age": 5}]
    replies = {
        "insert": {"ok": 1, "n": 1},
        "find": {"ok": 1, "cursor": {"id": 0, "ns": "app.people", "firstBatch": people}},
        "update": {"ok": 1, "n": 1, "nModified": 1},
        "delete": {"ok": 1, "n": 2},
        "aggregate": {"ok": 1, "cursor": {"id": 0, "ns": "app.people",
                                          "firstBatch": [{"_id": 1, "n": 2}]}},
        "distinct": {"ok": 1, "values": ["ann", "bob"]},
        "endSessions": {"ok": 1},
    }

    def answer(request):
        if request.command_name == "find" and request.doc.get("batchSize") == 2:
            request.reply({"ok": 1, "cursor": {"id": 42, "ns": "app.people",
                                               "firstBatch": people}})
            return True
        if request.command_name == "getMore":  # the second and last batch
            request.reply({"ok": 1, "cursor": {"id": 0, "ns": "app.people", "nextBatch": [
                {"_id": 3, "name": "cy", "age": 4}]}})
            return True
        reply = replies.get(request.command_name)
        if reply is None:
            return False
        request.reply(reply)
        return True

    server.autoresponds(answer)
    server.run()
    yield server
    server.stop()


def test_replay_with_mock_server_stopped(tmp_path, mongo_mock):
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM, encoding="utf-8")
    uri = mongo_mock.uri
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog), uri],
                       cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert "inserted InsertOneResult True" in rec.stdout
    assert "['ann', 'bob']" in rec.stdout and "{'_id': 1, 'name': 'ann', 'age': 7}" in rec.stdout
    calls = load_capture(tmp_path / "t1")
    text = (tmp_path / "t1" / "deps.jsonl").read_text(encoding="utf-8")
    assert any(c["key"].startswith('find app.people {"age": {"$gt": 3}}') for c in calls)
    assert "pw" not in text
    assert calls[0]["key"] == 'insert_one app.people [{"name": "cy", "password": "<masked>"}]'
    mongo_mock.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog), uri], cwd=tmp_path,
                       timeout=60)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout
    assert rep.stderr == ""
    changed = tmp_path / "changed.py"
    changed.write_text(PROGRAM.replace('{"name": "ann"})', '{"name": "zed"})', 1),
                       encoding="utf-8")
    miss = run_recorder(["--deps", "replay=t1", "--deps-only", str(changed), uri], cwd=tmp_path,
                        timeout=60)
    assert miss.returncode == 1 and "ServerSelectionTimeoutError" in miss.stderr
    lines = [x for x in miss.stderr.splitlines() if "replay miss" in x]
    assert len(lines) == 1 and 'find app.people {"name": "zed"}' in lines[0]


ASYNC_PROGRAM = textwrap.dedent('''
    import asyncio, sys
    from pymongo import AsyncMongoClient

    async def main(uri):
        client = AsyncMongoClient(uri, serverSelectionTimeoutMS=3000)
        people = client.app.people
        print((await people.insert_one({"name": "dee"})).acknowledged)
        print([d["name"] async for d in people.find({}).sort("name")])
        print(await people.find_one({"name": "bob"}))
        print(await people.count_documents({}))
        cursor = await people.aggregate([{"$match": {}}])
        print(await cursor.to_list())
        await client.close()

    asyncio.run(main(sys.argv[1]))
''')


def _record(tmp_path, mongo_mock, source: str, name: str):
    prog = tmp_path / name
    prog.write_text(source, encoding="utf-8")
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(prog),
                        mongo_mock.uri], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    return prog, rec


def _replay_with_mock_stopped(tmp_path, mongo_mock, prog, rec) -> None:
    """Stops the mock server and replays the recorded run: the same output, nothing else."""
    mongo_mock.stop()
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", str(prog), mongo_mock.uri],
                       cwd=tmp_path, timeout=60)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout == rec.stdout  # the recorded _ids too
    assert rep.stderr == ""


def test_async_client_replays_with_mock_server_stopped(tmp_path, mongo_mock):
    pytest.importorskip("pymongo.asynchronous", reason="pymongo < 4.9 has no asynchronous API")
    prog, rec = _record(tmp_path, mongo_mock, ASYNC_PROGRAM, "aprog.py")
    assert rec.stdout.splitlines()[:2] == ["True", "['ann', 'bob']"]
    _replay_with_mock_stopped(tmp_path, mongo_mock, prog, rec)


LAZY = textwrap.dedent('''
    import sys
    from pymongo import DeleteOne, InsertOne, MongoClient, UpdateOne

    client = MongoClient(sys.argv[1], serverSelectionTimeoutMS=3000)
    people = client.app.people
    cursor = people.find({}, batch_size=2)
    print("first", next(cursor)["name"])  # one batch fetched so far
    for doc in cursor:  # the rest: the first batch's second document, then a getMore
        print("then", doc["name"], doc["age"])
    ops = [InsertOne({"name": "eve", "api_token": "TOK-1"}), InsertOne({"name": "fay"}),
           UpdateOne({"name": "ann"}, {"$set": {"age": 8}}), DeleteOne({"name": "bob"})]
    result = people.bulk_write(ops)
    print("bulk", type(result).__name__, result.inserted_count, result.modified_count,
          result.deleted_count, result.acknowledged)
    print("ids", [type(op._doc.get("_id")).__name__ for op in ops[:2]],
          str(ops[0]._doc["_id"]) == str(ops[0]._doc["_id"]))
    print("same ids", str(ops[0]._doc["_id"]))
    client.close()
''')


def test_lazy_cursor_and_bulk_write_replay_with_mock_server_stopped(tmp_path, mongo_mock):
    prog, rec = _record(tmp_path, mongo_mock, LAZY, "lazy.py")
    assert rec.stdout.splitlines()[:4] == ["first ann", "then bob 5", "then cy 4",
                                           "bulk BulkWriteResult 1 1 2 True"]  # the mock says n=1
    calls = load_capture(tmp_path / "t1")
    finds = [c["key"] for c in calls if c["key"].startswith("find")]
    assert [k.rsplit(" ", 1)[1] for k in finds][:2] == ["after=0", "after=2"]  # batch by batch
    text = (tmp_path / "t1" / "deps.jsonl").read_text(encoding="utf-8")
    assert "TOK-1" not in text
    bulk = next(c for c in calls if c["key"].startswith("bulk_write"))
    assert '"op": "InsertOne"' in bulk["key"] and '"api_token": "<masked>"' in bulk["key"]
    _replay_with_mock_stopped(tmp_path, mongo_mock, prog, rec)


SESSIONS = textwrap.dedent('''
    import asyncio, sys
    from pymongo import AsyncMongoClient, MongoClient

    client = MongoClient(sys.argv[1], serverSelectionTimeoutMS=3000)
    people = client.app.people
    with client.start_session() as s:
        print(people.find_one({"name": "ann"}, session=s))
        print(people.insert_one({"name": "dee"}, None, s).acknowledged)  # positional too
        print(people.count_documents({}, session=s))
        with people.aggregate([{"$match": {}}], session=s) as cursor:
            print(list(cursor))
    client.close()

    async def main():
        aclient = AsyncMongoClient(sys.argv[1], serverSelectionTimeoutMS=3000)
        async with aclient.start_session() as s:
            print(await aclient.app.people.count_documents({}, session=s))
        await aclient.close()

    asyncio.run(main())
''')


def test_operations_in_a_session_replay_with_mock_server_stopped(tmp_path, mongo_mock):
    """A session is a new object in every run: its text in a key is always the same."""
    pytest.importorskip("pymongo.asynchronous", reason="pymongo < 4.9 has no asynchronous API")
    prog, rec = _record(tmp_path, mongo_mock, SESSIONS, "sessions.py")
    assert rec.stdout.splitlines()[1:3] == ["True", "2"]
    keys = [c["key"] for c in load_capture(tmp_path / "t1")]
    assert 'insert_one app.people [{"name": "dee"}, null, "<session>"]' in keys
    assert 'count_documents app.people [{}] {"session": "<session>"}' in keys
    _replay_with_mock_stopped(tmp_path, mongo_mock, prog, rec)


TRANSACTIONS = textwrap.dedent('''
    import asyncio, sys
    from pymongo import AsyncMongoClient, MongoClient, errors

    uri = sys.argv[1] + "/?replicaSet=rs0"
    client = MongoClient(uri, serverSelectionTimeoutMS=3000)
    people = client.app.people
    with client.start_session() as s:
        with s.start_transaction():
            people.insert_one({"name": "a"}, session=s)
            print([d["name"] for d in people.find({}, session=s)])
        print("committed", s.in_transaction)
        try:
            with s.start_transaction():
                people.insert_one({"name": "conflict"}, session=s)
        except errors.OperationFailure as exc:
            print("commit failed:", type(exc).__name__, exc.code)
        s.start_transaction()
        people.insert_one({"name": "c"}, session=s)
        s.abort_transaction()
        print("aborted", s.in_transaction)
        with s.start_transaction():
            pass  # nothing sent: pymongo sends no commit either
        print("empty", s.in_transaction)
    client.close()

    async def main():
        client = AsyncMongoClient(uri, serverSelectionTimeoutMS=3000)
        async with client.start_session() as s:
            async with await s.start_transaction():
                await client.app.people.insert_one({"name": "async"}, session=s)
            print("async committed", s.in_transaction)
        await client.close()

    asyncio.run(main())
''')


def _change(n: int) -> dict:
    from bson import ObjectId, Timestamp

    return {"_id": {"_data": f"token-{n}"}, "operationType": "insert",
            "clusterTime": Timestamp(1700000000, n), "ns": {"db": "app", "coll": "people"},
            "documentKey": {"_id": ObjectId(f"{n:024x}")},
            "fullDocument": {"_id": ObjectId(f"{n:024x}"), "name": f"p{n}"}}


@pytest.fixture
def replica_set_mock():
    """mockupdb answering as the primary of replica set rs0 (transactions need one); the
    second commit (txnNumber 2) fails with a WriteConflict."""
    mockupdb = pytest.importorskip("mockupdb", reason="mockupdb is not installed (pip install mockupdb)")
    pytest.importorskip("pymongo", reason="pymongo is not installed (pip install pymongo)")
    server = mockupdb.MockupDB()
    server.run()
    hello = {"setName": "rs0", "hosts": [server.address_string], "maxWireVersion": 21,
             "minWireVersion": 0, "logicalSessionTimeoutMinutes": 30}
    server.autoresponds("ismaster", ismaster=True, **hello)
    server.autoresponds("hello", isWritablePrimary=True, **hello)
    sent = []

    def answer(request):
        name = request.command_name
        sent.append(name)
        if name == "commitTransaction" and request.doc.get("txnNumber") == 2:
            request.reply({"ok": 0, "errmsg": "WriteConflict error", "code": 112,
                           "codeName": "WriteConflict"})
        elif name == "find":
            request.reply({"ok": 1, "cursor": {"id": 0, "ns": "app.people",
                                               "firstBatch": [{"_id": 1, "name": "a"}]}})
        elif name == "aggregate" and "$changeStream" in request.doc["pipeline"][0]:
            request.reply({"ok": 1, "cursor": {"id": 77, "ns": "app.people", "firstBatch": [
                _change(1)], "postBatchResumeToken": {"_data": "token-1"}}})
        elif name == "getMore":  # one more change, then none, then the stream is invalidated
            more = sent.count("getMore")
            request.reply({"ok": 1, "cursor": {
                "id": 0 if more >= 3 else 77, "ns": "app.people",
                "nextBatch": [_change(2)] if more == 1 else [],
                "postBatchResumeToken": {"_data": f"token-{more + 1}"}}})
        elif name in ("insert", "commitTransaction", "abortTransaction", "endSessions",
                      "killCursors"):
            request.reply({"ok": 1, "n": 1})
        else:
            return False
        return True

    server.autoresponds(answer)
    server.sent = sent
    yield server
    server.stop()


def test_transactions_replay_with_mock_server_stopped(tmp_path, replica_set_mock):
    """Commits and aborts are calls: a replay answers them (the failed commit fails again)
    and pymongo's transaction state moves as it did when recorded, sync and async."""
    prog, rec = _record(tmp_path, replica_set_mock, TRANSACTIONS, "txn.py")
    assert "commit failed: OperationFailure 112" in rec.stdout and "async committed" in rec.stdout
    assert replica_set_mock.sent.count("commitTransaction") == 3  # the empty one sends none
    keys = [c["key"] for c in load_capture(tmp_path / "t1")]
    assert keys.count("commitTransaction <session>") == 3
    assert keys.count("abortTransaction <session>") == 1
    _replay_with_mock_stopped(tmp_path, replica_set_mock, prog, rec)  # all were answered


CHANGE_STREAMS = textwrap.dedent('''
    import asyncio, sys
    from pymongo import AsyncMongoClient, MongoClient

    uri = sys.argv[1] + "/?replicaSet=rs0"
    client = MongoClient(uri, serverSelectionTimeoutMS=3000)
    with client.app.people.watch([{"$match": {"operationType": "insert"}}],
                                 max_await_time_ms=10) as stream:
        first = next(stream)
        print(first["fullDocument"], first["clusterTime"], stream.resume_token)
        print(stream.try_next()["documentKey"], stream.alive)
        print(stream.try_next(), stream.resume_token, stream.alive)
        print(stream.try_next(), stream.alive)
    client.close()

    async def main():
        client = AsyncMongoClient(uri, serverSelectionTimeoutMS=3000)
        stream = await client.app.people.watch(max_await_time_ms=10)
        change = await stream.next()
        print("async", change["fullDocument"]["name"], stream.resume_token)
        await stream.close()
        print("async closed", stream.alive)
        await client.close()

    asyncio.run(main())
''')


def test_change_streams_replay_with_mock_server_stopped(tmp_path, replica_set_mock):
    """Each change a stream hands the program (with its BSON types, the resume token after
    it, the stream closing when its cursor ends) comes back in a replay, sync and async."""
    prog, rec = _record(tmp_path, replica_set_mock, CHANGE_STREAMS, "watch.py")
    assert "Timestamp(1700000000, 1)" in rec.stdout and "ObjectId(" in rec.stdout
    assert "None {'_data': 'token-3'} True" in rec.stdout and "None False" in rec.stdout
    keys = [c["key"] for c in load_capture(tmp_path / "t1")]
    assert keys.count('watch app.people [{"$match": {"operationType": "insert"}}]') == 1
    _replay_with_mock_stopped(tmp_path, replica_set_mock, prog, rec)
