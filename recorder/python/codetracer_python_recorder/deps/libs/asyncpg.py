"""asyncpg: ``connect``, ``prepare``, and on a connection or a prepared statement ``execute``,
``executemany``, ``fetch``, ``fetchrow``, ``fetchval``, ``fetchmany``, and cursors (each
batch of rows, ``forward``).

Key: ``SQL <method> <query text> <args as JSON>``, so a direct call and the same call through
a prepared statement match each other. Rows are kept as column names + values. Replay:
``connect`` returns a stand-in connection that opens no socket; rows come back as records
that index, iterate, ``get`` and print like ``asyncpg.Record``. Statements asyncpg
issues itself (``BEGIN``/``COMMIT``/``ROLLBACK`` of ``conn.transaction()``, a pool's reset of a
released connection) are not captured; a replayed transaction does nothing. A missed connect raises ``ConnectionRefusedError`` (what asyncpg raises for a
stopped server), a missed query ``asyncpg.exceptions.ConnectionDoesNotExistError``. Pools: the
queries run through a pool are captured like any other; the pool's own connects are not
(replay hands out a stand-in pool whose connections answer from the capture).
"""

from __future__ import annotations

import json
import os
import re
import sys

from .. import state, store
from ..replay import Miss

CATEGORY = "sql"
LIBRARY = "asyncpg"
_POOL_FILE = os.path.join("asyncpg", "pool.py")


def _key(method: str, query, args) -> str:
    text = re.sub(r"\s+", " ", str(query)).strip()
    shown = json.dumps(store.encode(list(args)), ensure_ascii=False) if args else ""
    return f"SQL {method} {text}" + (f" {shown}" if shown else "")


def _connect_key(dsn, kwargs) -> str:
    parts = {"host": kwargs.get("host"), "port": kwargs.get("port"),
             "dbname": kwargs.get("database"), "user": kwargs.get("user")}
    if dsn:
        from urllib.parse import urlsplit

        url = urlsplit(dsn)
        parts = {"host": parts["host"] or url.hostname, "port": parts["port"] or url.port,
                 "dbname": parts["dbname"] or url.path.lstrip("/") or None,
                 "user": parts["user"] or url.username}
    return "CONNECT " + " ".join(f"{k}={v}" for k, v in parts.items() if v)


def _rows(value):
    """Records -> {"columns": [...], "rows": [[...], ...]} (keeps what a record shows)."""
    if isinstance(value, list):
        columns = list(value[0].keys()) if value else []
        return {"columns": columns, "rows": [list(r.values()) for r in value]}
    if value is not None and hasattr(value, "keys") and hasattr(value, "values"):
        return {"columns": list(value.keys()), "row": list(value.values())}
    return {"value": store.snapshot(value)}


def _from_rows(result):
    if "rows" in result:
        return [ReplayRecord(result["columns"], r) for r in result["rows"]]
    if "row" in result:
        return ReplayRecord(result["columns"], result["row"])
    return result.get("value")


_PACKAGE_DIR = os.sep + "asyncpg" + os.sep


def _from_asyncpg_itself() -> bool:
    """A bare ``execute`` that asyncpg issues itself (a transaction's BEGIN/COMMIT, a pool's
    reset of a released connection): not the program's call."""
    return _PACKAGE_DIR in sys._getframe(2).f_code.co_filename


def patch(module) -> None:
    conn_cls = module.Connection
    if getattr(conn_cls, "_ct_deps_patched", False):
        return
    connection_mod = sys.modules["asyncpg.connection"]
    prepared_cls = sys.modules["asyncpg.prepared_stmt"].PreparedStatement
    orig_connect = connection_mod.connect

    async def connect(dsn=None, **kwargs):
        engine = state.engine
        if engine is None or sys._getframe(1).f_code.co_filename.endswith(_POOL_FILE):
            return await orig_connect(dsn, **kwargs)  # a pool's own connections: see below
        key = _connect_key(dsn, kwargs)
        if engine.mode == "record":
            return await engine.acall(CATEGORY, LIBRARY, key, lambda: orig_connect(dsn, **kwargs),
                                      to_record=lambda conn: None,
                                      summarize=lambda _: f"{key} -> ok")
        try:
            record = engine.answer(CATEGORY, key, {"sql": key})
        except Miss:
            record = None
        if record is None:
            raise ConnectionRefusedError(
                111, f"Connect call failed (codetracer replay has no recorded {key})")
        engine.result(record)
        return ReplayConnection()

    def wrap(cls, method: str, statement: bool):
        orig = getattr(cls, method)

        async def wrapper(self, *args, **kwargs):
            engine = state.engine
            if engine is None:
                return await orig(self, *args, **kwargs)
            if method in ("executemany", "fetchmany"):  # rows may be a generator: read once
                args = (*args[:-1], [tuple(r) for r in args[-1]])
            if statement:
                query, params = self._query, args
            else:
                query, params = args[0], args[1:]
                if method == "execute" and not params and _from_asyncpg_itself():
                    return await orig(self, *args, **kwargs)
            key = _key(method, query, params)
            return await engine.acall(CATEGORY, LIBRARY, key, lambda: orig(self, *args, **kwargs),
                                      match={"sql": key}, to_record=_rows,
                                      summarize=lambda v: f"{key} -> {_summary(v)}")

        wrapper.__name__ = method
        setattr(cls, method, wrapper)

    for method in ("execute", "executemany", "fetch", "fetchrow", "fetchval", "fetchmany"):
        if hasattr(conn_cls, method):
            wrap(conn_cls, method, statement=False)
    for method in ("executemany", "fetch", "fetchrow", "fetchval", "fetchmany"):
        if hasattr(prepared_cls, method):
            wrap(prepared_cls, method, statement=True)
    orig_prepare = conn_cls.prepare

    async def prepare(self, query, *args, **kwargs):
        """Recorded as a call of its own, so a statement the server refuses (a syntax
        error, a missing table) is refused again at the same point of a replay."""
        engine = state.engine
        if engine is None or engine.mode != "record":
            return await orig_prepare(self, query, *args, **kwargs)
        key = _key("prepare", query, ())
        return await engine.acall(CATEGORY, LIBRARY, key,
                                  lambda: orig_prepare(self, query, *args, **kwargs),
                                  match={"sql": key}, to_record=lambda stmt: None,
                                  summarize=lambda _: f"{key} -> prepared")

    conn_cls.prepare = prepare
    _patch_cursors(sys.modules["asyncpg.cursor"])
    connection_mod.connect = connect
    module.connect = connect
    pool_mod = sys.modules["asyncpg.pool"]
    orig_create_pool = pool_mod.create_pool

    def create_pool(*args, **kwargs):
        engine = state.engine
        if engine is not None and engine.mode == "replay":
            return ReplayPool()
        return orig_create_pool(*args, **kwargs)

    pool_mod.create_pool = create_pool
    module.create_pool = create_pool
    conn_cls._ct_deps_patched = True


def _patch_cursors(cursor_mod) -> None:
    """Cursors (``conn.cursor(query, *args)``, iterated or awaited): each batch of rows
    asyncpg fetches is a call keyed ``SQL cursor <query> <args> n=<batch size>``; batches of
    one cursor share the key and replay in order (FIFO per key). ``forward(n)`` is a call."""
    base, cursor_cls = cursor_mod.BaseCursor, cursor_mod.Cursor

    def batch(name: str):
        orig = getattr(base, name)

        async def method(self, n, timeout):
            engine = state.engine
            if engine is None or engine.mode != "record":
                return await orig(self, n, timeout)
            key = _key("cursor", self._query, self._args) + f" n={n}"
            return await engine.acall(CATEGORY, LIBRARY, key, lambda: orig(self, n, timeout),
                                      match={"sql": key}, to_record=_rows,
                                      summarize=lambda v: f"{key} -> {_summary(v)}")

        method.__name__ = name
        setattr(base, name, method)

    batch("_bind_exec")
    batch("_exec")
    orig_forward = cursor_cls.forward

    async def forward(self, n, *, timeout=None):
        engine = state.engine
        if engine is None or engine.mode != "record":
            return await orig_forward(self, n, timeout=timeout)
        key = _key("cursor-forward", self._query, self._args) + f" n={n}"
        return await engine.acall(CATEGORY, LIBRARY, key,
                                  lambda: orig_forward(self, n, timeout=timeout),
                                  match={"sql": key}, to_record=_rows,
                                  summarize=lambda v: f"{key} -> {v}")

    cursor_cls.forward = forward


def _summary(value) -> str:
    if isinstance(value, list):
        return f"{len(value)} rows"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


async def _answer(method: str, query, args):
    return await _answer_key(_key(method, query, args))


async def _answer_key(key: str):
    engine = state.engine
    try:
        record = engine.answer(CATEGORY, key, {"sql": key}) if engine else None
    except Miss:
        record = None
    if record is None:
        exceptions = sys.modules["asyncpg.exceptions"]
        raise exceptions.ConnectionDoesNotExistError(
            f"connection was closed in the middle of operation (codetracer replay has no "
            f"recorded {key})")
    return _from_rows(engine.result(record))


# --- replay stand-ins ---------------------------------------------------------------------

class ReplayPool:
    """Stands in for ``asyncpg.Pool`` during replay: every acquired connection is a
    ``ReplayConnection`` (queries match by key, whichever connection runs them)."""

    def __init__(self) -> None:
        self._conn = ReplayConnection()

    def __await__(self):
        return self._ready().__await__()

    async def _ready(self):
        return self

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        return None

    def acquire(self, *, timeout=None):
        return _Acquire(self._conn)

    async def release(self, connection, *, timeout=None) -> None:
        return None

    async def execute(self, query, *args, timeout=None):
        return await self._conn.execute(query, *args)

    async def executemany(self, command, args, *, timeout=None):
        return await self._conn.executemany(command, args)

    async def fetch(self, query, *args, timeout=None, record_class=None):
        return await self._conn.fetch(query, *args)

    async def fetchrow(self, query, *args, timeout=None, record_class=None):
        return await self._conn.fetchrow(query, *args)

    async def fetchval(self, query, *args, column=0, timeout=None):
        return await self._conn.fetchval(query, *args)

    async def close(self) -> None:
        return None

    def terminate(self) -> None:
        return None


class _Acquire:
    def __init__(self, conn) -> None:
        self._conn = conn

    def __await__(self):
        return self._get().__await__()

    async def _get(self):
        return self._conn

    async def __aenter__(self):
        return self._conn

    async def __aexit__(self, *exc) -> None:
        return None

class ReplayRecord:
    """Reads like ``asyncpg.Record``: by index and by name, ``get``, ``keys``, ``values``,
    ``items``; iterating gives the values; printed as ``<Record a=1 b='x'>``."""

    __slots__ = ("_columns", "_values")

    def __init__(self, columns, values) -> None:
        self._columns, self._values = list(columns), tuple(values)

    def __getitem__(self, item):
        if isinstance(item, (int, slice)):
            return self._values[item]
        return self._values[self._columns.index(item)]

    def get(self, name, default=None):
        return self[name] if name in self._columns else default

    def keys(self):
        return iter(self._columns)

    def values(self):
        return iter(self._values)

    def items(self):
        return iter(zip(self._columns, self._values, strict=True))

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, name) -> bool:
        return name in self._columns

    def __eq__(self, other) -> bool:
        return tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        return "<Record " + " ".join(f"{k}={v!r}" for k, v in self.items()) + ">"


class ReplayCursorFactory:
    """``conn.cursor(...)`` in replay: iterated, batches of ``prefetch`` rows (50) as recorded,
    until a batch comes short; awaited, a :class:`ReplayCursor`."""

    def __init__(self, query, args, prefetch) -> None:
        self._query, self._args, self._prefetch = query, args, prefetch

    def __aiter__(self):
        return self._rows(50 if self._prefetch is None else self._prefetch)

    async def _rows(self, n: int):
        while True:
            rows = await _batch(self._query, self._args, n)
            for row in rows:
                yield row
            if len(rows) < n:
                return

    def __await__(self):
        return self._cursor().__await__()

    async def _cursor(self):
        return ReplayCursor(self._query, self._args)


class ReplayCursor:
    def __init__(self, query, args) -> None:
        self._query, self._args, self._exhausted = query, args, False

    async def fetch(self, n, *, timeout=None):
        if self._exhausted:
            return []
        rows = await _batch(self._query, self._args, n)
        self._exhausted = len(rows) < n
        return rows

    async def fetchrow(self, *, timeout=None):
        rows = await self.fetch(1)
        return rows[0] if rows else None

    async def forward(self, n, *, timeout=None) -> int:
        moved = await _answer_key(_key("cursor-forward", self._query, self._args) + f" n={n}")
        self._exhausted = moved < n
        return moved


async def _batch(query, args, n: int) -> list:
    return await _answer_key(_key("cursor", query, args) + f" n={n}") or []


class ReplayTransaction:
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        return None

    async def start(self) -> None:
        pass

    async def commit(self) -> None:
        pass

    async def rollback(self) -> None:
        pass


class ReplayPrepared:
    def __init__(self, query) -> None:
        self._query = query

    def cursor(self, *args, prefetch=None, timeout=None):
        return ReplayCursorFactory(self._query, args, prefetch)

    async def fetch(self, *args, timeout=None):
        return await _answer("fetch", self._query, args)

    async def fetchrow(self, *args, timeout=None):
        return await _answer("fetchrow", self._query, args)

    async def fetchval(self, *args, column=0, timeout=None):
        return await _answer("fetchval", self._query, args)

    async def executemany(self, args, *, timeout=None):
        return await _answer("executemany", self._query, ([tuple(r) for r in args],))

    async def fetchmany(self, args, *, timeout=None):
        return await _answer("fetchmany", self._query, ([tuple(r) for r in args],))


class ReplayConnection:
    """Stands in for ``asyncpg.Connection`` during replay."""

    def __init__(self) -> None:
        self._closed = False

    async def execute(self, query, *args, timeout=None):
        return await _answer("execute", query, args)

    async def executemany(self, command, args, *, timeout=None):
        return await _answer("executemany", command, ([tuple(r) for r in args],))

    async def fetch(self, query, *args, timeout=None, record_class=None):
        return await _answer("fetch", query, args)

    async def fetchrow(self, query, *args, timeout=None, record_class=None):
        return await _answer("fetchrow", query, args)

    async def fetchval(self, query, *args, column=0, timeout=None):
        return await _answer("fetchval", query, args)

    async def prepare(self, query, *args, **kwargs):
        engine, key = state.engine, _key("prepare", query, ())
        record = engine.answer(CATEGORY, key, {"sql": key}, quiet=True) if engine else None
        if record is not None:  # (a capture made before prepares were recorded has none)
            engine.result(record)  # raises the error the server gave
        return ReplayPrepared(query)

    async def fetchmany(self, query, args, *, timeout=None, record_class=None):
        return await _answer("fetchmany", query, ([tuple(r) for r in args],))

    def transaction(self, **kwargs):
        return ReplayTransaction()

    def cursor(self, query, *args, prefetch=None, timeout=None, record_class=None):
        return ReplayCursorFactory(query, args, prefetch)

    def is_closed(self) -> bool:
        return self._closed

    async def close(self, *, timeout=None) -> None:
        self._closed = True
