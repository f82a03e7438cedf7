"""psycopg during replay: stand-ins for connections, cursors, pipelines and COPY that open
no socket and answer from the capture (the record side and the keys are in ``psycopg``)."""

from __future__ import annotations

import contextlib

from .. import state
from ..replay import Miss
from .psycopg import CATEGORY, many_key, miss_error, statement_key


def answer(engine, key):
    """The recorded value for ``key``; a miss raises psycopg's OperationalError."""
    try:
        record = engine.answer(CATEGORY, key, {"sql": key})
    except Miss:
        raise miss_error(key) from None
    if record is None:  # --deps-miss live needs a real connection, which replay never opens
        raise miss_error(key)
    return engine.result(record)


class Column:
    """What ``cursor.description`` items offer: ``name`` and ``type_code``."""

    def __init__(self, name: str, type_code: int) -> None:
        self.name, self.type_code = name, type_code

    def __getitem__(self, i):
        return (self.name, self.type_code, None, None, None, None, None)[i]

    def __repr__(self) -> str:
        return f"<Column {self.name!r}, type: {self.type_code}>"


class ReplayCursor:
    """A cursor whose results come from the capture (named cursors too)."""

    arraysize = 1
    itersize = 100

    def __init__(self, connection, row_factory=None) -> None:
        self.connection = connection
        self.row_factory = row_factory or connection.row_factory
        self._rows: list = []
        self._pos = 0
        self.description = None
        self.rowcount = -1
        self.statusmessage = None
        self.closed = False
        self._sets: list = []

    def _load(self, result: dict) -> None:
        self._sets = []
        columns = result.get("columns")
        self.description = [Column(n, t) for n, t in columns] if columns is not None else None
        self.rowcount = result.get("rowcount", -1)
        self.statusmessage = result.get("status")
        rows = result.get("rows") or [] if columns is not None else []
        # null: a named cursor's row that the recorded program skipped and never read
        self._rows = [None if r is None else self._make(tuple(r)) for r in rows]
        self._pos = 0

    def _make(self, values: tuple):
        factory = self.row_factory
        name = getattr(factory, "__name__", "")
        names = [c.name for c in self.description or []]
        if factory is None or name == "tuple_row":
            return values
        if name == "dict_row":
            return dict(zip(names, values, strict=False))
        if name == "namedtuple_row":
            import collections

            return collections.namedtuple("Row", names, rename=True)(*values)
        return factory(self)(values)

    def execute(self, query, params=None, **kwargs):
        key = statement_key(query, params)
        self._load(answer(state.engine, key))
        return self

    def executemany(self, query, params_seq, **kwargs):
        key, _ = many_key(query, params_seq)
        result = answer(state.engine, key)
        sets = list(result.get("sets") or [])
        self._load(sets[0] if sets else {"rowcount": result["rowcount"], "columns": None})
        self._sets = sets[1:]
        self.rowcount = result["rowcount"]

    def nextset(self):
        """The next statement's result of an ``executemany(returning=True)``."""
        if not self._sets:
            return None
        self._load(self._sets.pop(0))
        return True

    def fetchone(self):
        if self._pos >= len(self._rows):
            return None
        self._pos += 1
        return self._rows[self._pos - 1]

    def fetchmany(self, size: int = 0):
        size = size or 1
        out = self._rows[self._pos:self._pos + size]
        self._pos += len(out)
        return out

    def fetchall(self):
        out = self._rows[self._pos:]
        self._pos = len(self._rows)
        return out

    def scroll(self, value: int, mode: str = "relative") -> None:
        self._pos = value if mode == "absolute" else self._pos + value

    def __iter__(self):
        while (row := self.fetchone()) is not None:
            yield row

    def close(self) -> None:
        self.closed = True

    @contextlib.contextmanager
    def copy(self, statement, params=None, **kwargs):
        result = answer(state.engine, statement_key(statement, params))
        yield ReplayCopy(result.get("copy") or [])
        self._load(result)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ReplayCopy:
    """``cursor.copy()``'s object during replay: gives back what the recorded program read,
    in order; what the program writes goes nowhere."""

    def __init__(self, tape: list) -> None:
        self._reads = [value for name, value in tape if name == "read"]
        self._rows = [value for name, value in tape if name == "read_row"]

    def read(self):
        return self._reads.pop(0) if self._reads else b""

    def read_row(self):
        row = self._rows.pop(0) if self._rows else None
        return None if row is None else tuple(row)

    def rows(self):
        while (row := self.read_row()) is not None:
            yield row

    def __iter__(self):
        while data := self.read():
            yield data

    def write(self, buffer) -> None:
        pass

    def write_row(self, row) -> None:
        pass

    def set_types(self, types) -> None:
        pass


class AsyncReplayCopy(ReplayCopy):
    async def read(self):
        return ReplayCopy.read(self)

    async def read_row(self):
        return ReplayCopy.read_row(self)

    async def rows(self):
        while (row := ReplayCopy.read_row(self)) is not None:
            yield row

    async def __aiter__(self):
        while data := ReplayCopy.read(self):
            yield data

    async def write(self, buffer) -> None:
        pass

    async def write_row(self, row) -> None:
        pass


class _Transaction:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        return None


class _ReplayPipeline:
    """A pipeline during replay: each statement was answered when it ran."""

    def sync(self) -> None:
        pass


class _AsyncReplayPipeline:
    async def sync(self) -> None:
        pass


class ReplayConnection:
    """Stands in for ``psycopg.Connection`` during replay: no socket, answers from capture."""

    def __init__(self, row_factory=None, autocommit=False) -> None:
        self.row_factory = row_factory
        self.autocommit = autocommit
        self.closed = False

    def cursor(self, *args, row_factory=None, **kwargs):
        return ReplayCursor(self, row_factory)

    def execute(self, query, params=None, **kwargs):
        return self.cursor().execute(query, params, **kwargs)

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def transaction(self, *args, **kwargs):
        return _Transaction()

    def pipeline(self):
        return contextlib.nullcontext(_ReplayPipeline())

    def close(self) -> None:
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AsyncReplayCursor(ReplayCursor):
    async def execute(self, query, params=None, **kwargs):
        return ReplayCursor.execute(self, query, params, **kwargs)

    async def executemany(self, query, params_seq, **kwargs):
        ReplayCursor.executemany(self, query, params_seq, **kwargs)

    async def fetchone(self):
        return ReplayCursor.fetchone(self)

    async def fetchmany(self, size: int = 0):
        return ReplayCursor.fetchmany(self, size)

    async def fetchall(self):
        return ReplayCursor.fetchall(self)

    async def scroll(self, value: int, mode: str = "relative") -> None:
        ReplayCursor.scroll(self, value, mode)

    def __aiter__(self):
        return self._aiter()

    async def _aiter(self):
        while (row := ReplayCursor.fetchone(self)) is not None:
            yield row

    async def close(self) -> None:
        self.closed = True

    @contextlib.asynccontextmanager
    async def copy(self, statement, params=None, **kwargs):
        result = answer(state.engine, statement_key(statement, params))
        yield AsyncReplayCopy(result.get("copy") or [])
        self._load(result)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        self.closed = True


class AsyncReplayConnection(ReplayConnection):
    def cursor(self, *args, row_factory=None, **kwargs):
        return AsyncReplayCursor(self, row_factory)

    async def execute(self, query, params=None, **kwargs):
        return await self.cursor().execute(query, params, **kwargs)

    async def commit(self) -> None:
        pass

    async def rollback(self) -> None:
        pass

    async def set_autocommit(self, value: bool) -> None:
        self.autocommit = value

    def pipeline(self):
        return contextlib.nullcontext(_AsyncReplayPipeline())

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        self.closed = True
