"""pymongo, synchronous and asynchronous (``AsyncMongoClient``) APIs: cursor batches as they
are fetched, and collection writes and counts.

Cursors (``find``, ``find_one``): each batch fetch (``Cursor._refresh``) is one call keyed by
the namespace, filter, sort, skip, limit, projection and how many documents came before, so
iterating a cursor replays batch by batch. Writes (``insert_one``/``many``, ``update_*``,
``replace_one``, ``delete_*``, ``bulk_write``) and ``count_documents``, ``distinct``,
``estimated_document_count`` are one call each, keyed by operation, namespace and arguments
(before pymongo adds an ``_id``; secret-named fields masked); so is ``aggregate``, whose
documents are read at once and handed on as a list-backed cursor. Replay: clients are created
with ``connect=False`` and no operation reaches the topology, so no server or monitor
connection is opened; a miss raises ``pymongo.errors.ServerSelectionTimeoutError``.
Operations in an explicit session are keyed as any other (the session shows as
``<session>``). A transaction's ``commitTransaction`` and ``abortTransaction`` (sent when an
operation ran in it) are calls too, keyed by the command name: a replay answers them, so a
commit that failed fails again, and pymongo's transaction state moves as when recorded.
Change streams (``watch`` on a collection, database or client): opening one is a call, and so
is each ``try_next`` (which ``next`` and iteration use), with the change it returned (or
``None``), the resume token after it and whether the stream closed; a replay opens no cursor
and hands the changes back in order.
"""

from __future__ import annotations

import json
import sys

from .. import masking, state, store
from ..replay import Miss

CATEGORY = "mongo"
LIBRARY = "pymongo"
_WRITES = ("insert_one", "insert_many", "update_one", "update_many", "replace_one",
           "delete_one", "delete_many", "bulk_write")
_READS = ("count_documents", "distinct", "estimated_document_count")


def _json(value) -> str:
    """Key text of filters and documents: plain JSON (``$gt`` stays ``$gt``), secret-named
    fields masked, other BSON values (ObjectId, datetime, ...) as their text."""
    return json.dumps(masking.mapping(_plain(value)), sort_keys=True, ensure_ascii=False,
                      default=_text)


def _text(value) -> str:
    """A session's text is the same in every run (its own is an address): the operation
    is what the key is about."""
    if type(value).__name__ in ("ClientSession", "AsyncClientSession"):
        return "<session>"
    return str(value)


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _miss(key):
    errors = sys.modules["pymongo.errors"]
    return errors.ServerSelectionTimeoutError(
        f"No servers available (codetracer replay has no recorded {key})")


def _write_result(value, ids=None):
    """pymongo's result objects as plain data (their class name and constructor args; for
    ``bulk_write`` the ``_id`` pymongo gave each inserted document)."""
    name = type(value).__name__
    if name == "InsertOneResult":
        args = [value.inserted_id]
    elif name == "InsertManyResult":
        args = [value.inserted_ids]
    elif name in ("UpdateResult", "DeleteResult"):
        args = [value.raw_result]
    elif name == "BulkWriteResult":
        args = [value.bulk_api_result]
    else:
        return store.snapshot(value)
    result = {"$mongo_result": name, "args": store.encode(args + [value.acknowledged])}
    if ids:
        result["ids"] = store.encode(ids)
    return store.Encoded(result)


def _from_write_result(value):
    if isinstance(value, dict) and "$mongo_result" in value:
        results = sys.modules["pymongo.results"]
        return getattr(results, value["$mongo_result"])(*value["args"])  # decoded already
    return value


def _in_transaction(session) -> None:
    """Replay: an operation ran in ``session`` (a ``ClientSession`` or anything else). In a
    transaction pymongo would have sent it, moving the transaction from "starting" to "in
    progress", so that its commit or abort goes to the server (and to the capture)."""
    txn = getattr(session, "_transaction", None)
    if txn is None:
        return
    states = sys.modules[type(session).__module__]._TxnState
    if txn.state == states.STARTING:
        txn.state = states.IN_PROGRESS


def _session_of(args, kwargs):
    session = kwargs.get("session")
    if session is None:
        session = next((a for a in args if type(a).__name__ in _SESSIONS), None)
    return session


_SESSIONS = ("ClientSession", "AsyncClientSession")


def patch(module) -> None:
    for flavour, cursor_name, coll_name, client_name in (
            ("synchronous", "Cursor", "Collection", "MongoClient"),
            ("asynchronous", "AsyncCursor", "AsyncCollection", "AsyncMongoClient")):
        cursor_mod = sys.modules.get(f"pymongo.{flavour}.cursor")
        collection_mod = sys.modules.get(f"pymongo.{flavour}.collection")
        client_mod = sys.modules.get(f"pymongo.{flavour}.mongo_client")
        session_mod = sys.modules.get(f"pymongo.{flavour}.client_session")
        stream_mod = sys.modules.get(f"pymongo.{flavour}.change_stream")
        if cursor_mod is None or collection_mod is None or client_mod is None:
            if flavour == "synchronous":
                raise RuntimeError("this pymongo has no pymongo.synchronous (pymongo >= 4.9)")
            continue
        cursor_cls = getattr(cursor_mod, cursor_name)
        if getattr(cursor_cls, "_ct_deps_patched", False):
            continue
        asynchronous = flavour == "asynchronous"
        _patch_cursor(cursor_cls, asynchronous)
        coll_cls = getattr(collection_mod, coll_name)
        for name in _WRITES + _READS:
            _patch_collection_method(coll_cls, name, asynchronous)
        _patch_aggregate(coll_cls, asynchronous)
        _patch_client(getattr(client_mod, client_name))
        if session_mod is not None:
            _patch_session(getattr(session_mod, _SESSIONS[asynchronous]), asynchronous)
        if stream_mod is not None:
            _patch_change_stream(
                getattr(stream_mod, "AsyncChangeStream" if asynchronous else "ChangeStream"),
                asynchronous)
        cursor_cls._ct_deps_patched = True


def _stream_key(stream) -> str:
    target = stream._target
    name = getattr(target, "full_name", None) or getattr(target, "name", None) or "<client>"
    return f"watch {name} {_json(stream._pipeline)}"


class _NoCursor:
    """Replay: a change stream's cursor, which no server stands behind."""

    alive = False

    def close(self):
        return _AwaitableNone()  # an AsyncChangeStream awaits it


def _change(stream, change) -> dict:
    """What a ``try_next`` is recorded as."""
    return store.Encoded(store.encode({"change": change, "resume_token": stream._resume_token,
                                       "closed": stream._closed}))


def _changed(stream, answer):
    """Replay: the recorded ``try_next`` applied to ``stream``; its change."""
    stream._resume_token, stream._closed = answer["resume_token"], answer["closed"]
    return answer["change"]


def _patch_change_stream(stream_cls, asynchronous: bool) -> None:
    """A stream's opening (the aggregate with ``$changeStream``) and each ``try_next``."""
    orig_open, orig_next = stream_cls._initialize_cursor, stream_cls.try_next

    def opening(self):
        key = _stream_key(self)
        return dict(key=key, match={"operation": key}, to_record=lambda _: None,
                    miss_error=lambda: _miss(key), summarize=lambda _: f"{key} -> opened")

    def next_args(self):
        key = f"{_stream_key(self)} next"
        return dict(key=key, match={"operation": key},
                    to_record=lambda change: _change(self, change),
                    miss_error=lambda: _miss(key),
                    summarize=lambda change: f"{key} -> {'a change' if change else 'none'}")

    if asynchronous:
        async def _initialize_cursor(self):
            engine = state.engine
            if engine is None:
                return await orig_open(self)
            await engine.acall(CATEGORY, LIBRARY, live=lambda: orig_open(self),
                               **opening(self))
            if engine.mode != "record" and not hasattr(self, "_cursor"):
                self._cursor = _NoCursor()  # answered, not opened live

        async def try_next(self):
            engine = state.engine
            if engine is None or (engine.mode != "record" and not isinstance(
                    getattr(self, "_cursor", None), _NoCursor)):
                return await orig_next(self)
            if engine.mode == "record":
                return await engine.acall(CATEGORY, LIBRARY, live=lambda: orig_next(self),
                                          **next_args(self))
            return _changed(self, await engine.acall(
                CATEGORY, LIBRARY, live=lambda: orig_next(self), **next_args(self)))
    else:
        def _initialize_cursor(self):
            engine = state.engine
            if engine is None:
                return orig_open(self)
            engine.call(CATEGORY, LIBRARY, live=lambda: orig_open(self), **opening(self))
            if engine.mode != "record" and not hasattr(self, "_cursor"):
                self._cursor = _NoCursor()  # answered, not opened live

        def try_next(self):
            engine = state.engine
            if engine is None or (engine.mode != "record" and not isinstance(
                    getattr(self, "_cursor", None), _NoCursor)):
                return orig_next(self)
            if engine.mode == "record":
                return engine.call(CATEGORY, LIBRARY, live=lambda: orig_next(self),
                                   **next_args(self))
            return _changed(self, engine.call(CATEGORY, LIBRARY, live=lambda: orig_next(self),
                                              **next_args(self)))

    stream_cls._initialize_cursor, stream_cls.try_next = _initialize_cursor, try_next


def _patch_session(session_cls, asynchronous: bool) -> None:
    """``commitTransaction`` / ``abortTransaction`` (with pymongo's retry) as one call."""
    orig = session_cls._finish_transaction_with_retry

    def call_args(command_name):
        key = f"{command_name} <session>"
        return dict(key=key, match={"operation": key}, to_record=lambda reply: None,
                    miss_error=lambda: _miss(key),
                    summarize=lambda reply: f"{key} -> ok")

    if asynchronous:
        async def finish(self, command_name):
            engine = state.engine
            if engine is None:
                return await orig(self, command_name)
            return await engine.acall(CATEGORY, LIBRARY, live=lambda: orig(self, command_name),
                                      **call_args(command_name))
    else:
        def finish(self, command_name):
            engine = state.engine
            if engine is None:
                return orig(self, command_name)
            return engine.call(CATEGORY, LIBRARY, live=lambda: orig(self, command_name),
                               **call_args(command_name))

    session_cls._finish_transaction_with_retry = finish


def _cursor_key(cursor) -> str:
    return (f"find {cursor._collection.full_name} {_json(cursor._spec)}"
            f" sort={_json(cursor._ordering)} skip={cursor._skip} limit={cursor._limit}"
            f" projection={_json(cursor._projection)} after={cursor._retrieved}")


def _patch_cursor(cursor_cls, asynchronous: bool) -> None:
    orig_refresh = cursor_cls._refresh

    def before(self):
        """(engine, key) when this fetch is captured or replayed, else None."""
        engine = state.engine
        if engine is None or len(self._data):
            return None
        return engine, _cursor_key(self)

    def recorded(self, engine, key, p, n):
        docs = store.Encoded(store.encode(list(self._data)))
        engine.end(p, result=docs, summary=lambda: f"{key} -> {n} documents")

    def replayed(self, engine, key):
        """The recorded batch put into the cursor, or None to go live."""
        try:
            record = engine.answer(CATEGORY, key, {"operation": key})
        except Miss:
            raise _miss(key) from None
        if record is None:
            return None
        docs = engine.result(record)
        _in_transaction(self._session)
        self._data.extend(docs)
        self._retrieved += len(docs)
        if not docs:
            self._killed = True
        return len(self._data)

    if asynchronous:
        async def _refresh(self):
            ready = before(self)
            if ready is None:
                return await orig_refresh(self)
            engine, key = ready
            if engine.mode == "record":
                p = engine.begin(CATEGORY, LIBRARY, key, None, {"operation": key})
                try:
                    n = await orig_refresh(self)
                except BaseException as exc:
                    engine.end(p, error=exc)
                    raise
                recorded(self, engine, key, p, n)
                return n
            n = replayed(self, engine, key)
            return await orig_refresh(self) if n is None else n
    else:
        def _refresh(self):
            ready = before(self)
            if ready is None:
                return orig_refresh(self)
            engine, key = ready
            if engine.mode == "record":
                p = engine.begin(CATEGORY, LIBRARY, key, None, {"operation": key})
                try:
                    n = orig_refresh(self)
                except BaseException as exc:
                    engine.end(p, error=exc)
                    raise
                recorded(self, engine, key, p, n)
                return n
            n = replayed(self, engine, key)
            return orig_refresh(self) if n is None else n

    cursor_cls._refresh = _refresh


def _patch_collection_method(coll_cls, name: str, asynchronous: bool) -> None:
    orig = getattr(coll_cls, name)

    def prepare(self, args, kwargs):
        shown = [list(a) if name in ("insert_many", "bulk_write") else a for a in args]
        if name in ("insert_many", "bulk_write") and args:
            args = (shown[0], *args[1:])  # a generator of documents is read once
        if name == "bulk_write" and args:
            shown = [[_op_plain(op) for op in args[0]], *shown[1:]]
        key = f"{name} {self.full_name} {_json(shown)}" + (f" {_json(kwargs)}" if kwargs else "")
        return key, args

    def to_record(args):
        return lambda value: _write_result(value, _bulk_ids(name, args))

    if asynchronous:
        async def method(self, *args, **kwargs):
            engine = state.engine
            if engine is None:
                return await orig(self, *args, **kwargs)
            key, args = prepare(self, args, kwargs)
            if engine.mode == "record":
                return await engine.acall(
                    CATEGORY, LIBRARY, key, lambda: orig(self, *args, **kwargs),
                    match={"operation": key}, to_record=to_record(args),
                    summarize=lambda v: f"{key} -> {type(v).__name__}")
            value = await engine.acall(CATEGORY, LIBRARY, key, lambda: orig(self, *args, **kwargs),
                                       match={"operation": key}, miss_error=lambda: _miss(key),
                                       from_record=lambda raw: _set_ids(name, args, raw))
            _in_transaction(_session_of(args, kwargs))
            return _from_write_result(value)
    else:
        def method(self, *args, **kwargs):
            engine = state.engine
            if engine is None:
                return orig(self, *args, **kwargs)
            key, args = prepare(self, args, kwargs)
            if engine.mode == "record":
                return engine.call(CATEGORY, LIBRARY, key, lambda: orig(self, *args, **kwargs),
                                   match={"operation": key}, to_record=to_record(args),
                                   summarize=lambda v: f"{key} -> {type(v).__name__}")
            value = engine.call(CATEGORY, LIBRARY, key, lambda: orig(self, *args, **kwargs),
                                match={"operation": key}, miss_error=lambda: _miss(key),
                                from_record=lambda raw: _set_ids(name, args, raw))
            _in_transaction(_session_of(args, kwargs))
            return _from_write_result(value)

    method.__name__ = name
    setattr(coll_cls, name, method)


class ListCursor:
    """``aggregate``'s result, read whole: iterates, ``next``, ``to_list``, ``close``,
    ``alive``, ``with``/``async with``, ``async for``."""

    def __init__(self, docs: list) -> None:
        self._docs = list(docs)

    @property
    def alive(self) -> bool:
        return bool(self._docs)

    def __iter__(self):
        return self

    def __next__(self):
        if not self._docs:
            raise StopIteration
        return self._docs.pop(0)

    next = __next__

    def __aiter__(self):
        return self

    async def __anext__(self):
        if not self._docs:
            raise StopAsyncIteration
        return self._docs.pop(0)

    def to_list(self, length=None):
        out, self._docs = self._docs[:length], self._docs[length:] if length else []
        return _maybe_awaitable(out)

    def close(self):
        self._docs = []
        return _maybe_awaitable(None)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._docs = []

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        self._docs = []


def _maybe_awaitable(value):
    """A value the sync API returns and the async API awaits (``await cursor.to_list()``)."""
    return _AwaitableList(value) if isinstance(value, list) else _AwaitableNone()


class _AwaitableList(list):
    def __await__(self):
        return list(self)
        yield  # a generator, so ``await`` works


class _AwaitableNone:
    def __await__(self):
        return None
        yield  # a generator, so ``await`` works


def _patch_aggregate(coll_cls, asynchronous: bool) -> None:
    """``aggregate``: the whole result is one call (read at once, handed on as a list)."""
    orig = coll_cls.aggregate

    def key_of(self, args, kwargs) -> str:
        return (f"aggregate {self.full_name} {_json(list(args))}"
                + (f" {_json(kwargs)}" if kwargs else ""))

    def snapshot(docs):
        return store.Encoded(store.encode(docs))

    if asynchronous:
        async def aggregate(self, *args, **kwargs):
            engine = state.engine
            if engine is None:
                return await orig(self, *args, **kwargs)
            key = key_of(self, args, kwargs)

            async def live():
                cursor = await orig(self, *args, **kwargs)
                return [doc async for doc in cursor]

            docs = await engine.acall(CATEGORY, LIBRARY, key, live, match={"operation": key},
                                      to_record=snapshot, miss_error=lambda: _miss(key),
                                      summarize=lambda v: f"{key} -> {len(v)} documents")
            _in_transaction(kwargs.get("session"))
            return ListCursor(docs)
    else:
        def aggregate(self, *args, **kwargs):
            engine = state.engine
            if engine is None:
                return orig(self, *args, **kwargs)
            key = key_of(self, args, kwargs)
            docs = engine.call(CATEGORY, LIBRARY, key, lambda: list(orig(self, *args, **kwargs)),
                               match={"operation": key}, to_record=snapshot,
                               miss_error=lambda: _miss(key),
                               summarize=lambda v: f"{key} -> {len(v)} documents")
            _in_transaction(kwargs.get("session"))
            return ListCursor(docs)

    coll_cls.aggregate = aggregate


def _set_ids(name: str, args, raw):
    """Replay: pymongo gives inserted documents their ``_id`` in place; so does replay, with
    the recorded ids. ``raw``: the recorded result, before it becomes a result object (a live
    answer under ``--deps-miss live`` is a result object: pymongo set the ids itself)."""
    if not (isinstance(raw, dict) and "$mongo_result" in raw and args):
        return raw
    ids = raw["args"][0] if name in ("insert_one", "insert_many") else raw.get("ids") or []
    docs = [args[0]] if name == "insert_one" else list(args[0])
    if name == "bulk_write":
        docs = [getattr(op, "_doc", None) for op in docs if type(op).__name__ == "InsertOne"]
    for doc, _id in zip(docs, ids if name != "insert_one" else [ids], strict=False):
        if isinstance(doc, dict):
            doc.setdefault("_id", _id)
    return raw


def _bulk_ids(name: str, args) -> list | None:
    """Record: the ``_id`` pymongo gave each document of a ``bulk_write``'s inserts."""
    if name != "bulk_write" or not args:
        return None
    return [getattr(op, "_doc", {}).get("_id") for op in args[0]
            if type(op).__name__ == "InsertOne" and isinstance(getattr(op, "_doc", None), dict)]


def _op_plain(op):
    """A bulk operation as key data (type and fields, secret-named fields masked later); its
    repr would show a document's secrets unmasked."""
    fields = {"op": type(op).__name__}
    for cls in type(op).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            value = getattr(op, slot, None)
            if value is not None and slot.startswith("_") and not slot.startswith("__"):
                fields[slot[1:]] = value
    return fields if len(fields) > 1 else repr(op)


def _patch_client(client_cls) -> None:
    orig_init = client_cls.__init__

    def __init__(self, *args, **kwargs):
        engine = state.engine
        if engine is not None and engine.mode == "replay":
            kwargs["connect"] = False  # no monitor threads, no sockets: nothing reaches them
        orig_init(self, *args, **kwargs)

    client_cls.__init__ = __init__
