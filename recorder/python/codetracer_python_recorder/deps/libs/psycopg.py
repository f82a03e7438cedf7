"""psycopg 3, sync and async: ``connect``, ``execute``, ``executemany`` and what the cursor
fetches afterwards.

Record: after a real ``execute`` the result rows are read once from what psycopg holds (the
program then fetches them as usual); column names and type OIDs, rowcount and status message
are kept. Replay (``psycopg_replay``): ``connect`` returns a stand-in connection that opens
no socket; its cursors answer ``execute`` from the capture and fetch from the recorded rows
(tuple, dict and namedtuple row factories). Key: ``SQL <query text> <params>``; connections
are keyed ``CONNECT host=... port=... dbname=... user=...`` (the password never recorded).
A miss raises ``psycopg.OperationalError`` (also with ``--deps-miss live``: a stand-in has no
server to ask). ``executemany(returning=True)`` keeps each statement's result (``nextset``).
A real connection made during replay some other way (a pool's) talks to its server.
Server-side (named) cursors are recorded as the program fetches from them (never read ahead:
a cursor over a huge table stays cheap): one record per cursor, keyed as ``execute``, holding
the rows fetched by position; it is written when the cursor is closed or collected, or when
the capture ends. Replay answers them with a stand-in cursor like any other.
In pipeline mode (``conn.pipeline()``) a statement's record (an ``executemany``'s: its
batch's) waits for its results, which psycopg receives at the pipeline's sync. A statement
the server refused is recorded with the pipeline's error and the ones after it with
``PipelineAborted``; a replay answers each statement at once, so such an error is raised by
the statement itself rather than at the sync.
COPY (``cursor.copy()``, sync and async) is one record keyed as ``execute``: what the program
read (``read``, ``read_row``, ``rows()``, block iteration), in order, and the row count;
for COPY FROM how many rows and blocks it wrote. Replay hands the program a stand-in copy
object that gives back what was read.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import weakref

from .. import masking, state, store

CATEGORY = "sql"
LIBRARY = "psycopg"


def _query_text(query) -> str:
    if isinstance(query, bytes):
        query = query.decode("utf-8", "backslashreplace")
    elif not isinstance(query, str):
        try:  # psycopg.sql.Composable; no connection, so record and replay spell it alike
            query = query.as_string(None)
        except Exception:  # noqa: BLE001
            query = str(query)
    return re.sub(r"\s+", " ", query).strip()


def _params_text(params) -> str:
    if params is None:
        return ""
    if isinstance(params, dict):
        params = masking.mapping(params)
    return json.dumps(store.encode(params), sort_keys=True, ensure_ascii=False)


def statement_key(query, params) -> str:
    text = _params_text(params)
    return f"SQL {_query_text(query)}" + (f" {text}" if text else "")


def many_key(query, params_seq) -> tuple[str, list]:
    params_list = list(params_seq)
    import hashlib

    digest = hashlib.sha256("\n".join(_params_text(p) for p in params_list).encode()).hexdigest()
    return (f"SQL MANY {_query_text(query)} <{len(params_list)} rows "
            f"sha256:{digest[:16]}>", params_list)


_CONNECT_OPTIONS = {"autocommit", "prepare_threshold", "context", "row_factory",
                    "cursor_factory"}


def _connect_key(conninfo, kwargs) -> str:
    conninfo_mod = sys.modules["psycopg.conninfo"]
    kwargs = {k: v for k, v in kwargs.items() if k not in _CONNECT_OPTIONS}
    try:
        params = conninfo_mod.conninfo_to_dict(conninfo_mod.make_conninfo(conninfo, **kwargs))
    except Exception:  # noqa: BLE001 - a bad conninfo fails for real in the original call
        params = {}
    shown = [f"{k}={params[k]}" for k in ("host", "port", "dbname", "user") if params.get(k)]
    return "CONNECT " + " ".join(shown)


def miss_error(key):
    errors = sys.modules["psycopg"]
    return errors.OperationalError(
        f"connection failed: Connection refused (codetracer replay has no recorded {key})")


def _result_of(cur) -> dict:
    """What the program can read from a cursor's current result, rows as lists. Read from
    the result psycopg already holds: the cursor's position and row factory stay as they
    are, and there is no I/O, so sync and async cursors and pipelines read it alike."""
    result = {"rowcount": cur.rowcount, "status": cur.statusmessage, "columns": None}
    desc, res = cur.description, cur.pgresult
    if desc is not None and res is not None:
        result["columns"] = [[c.name, c.type_code] for c in desc]
        result["rows"] = cur._tx.load_rows(0, res.ntuples, list)
    return result


def _result_sets(cur):
    """Selects each statement's result of an ``executemany(returning=True)`` in turn, then
    puts the cursor back on the first, as the program finds it."""
    current, rowcount = cur._iresult, cur._rowcount
    try:
        for i in range(len(cur._results)):
            cur._select_current_result(i)
            yield i
    finally:
        cur._select_current_result(current)
        cur._rowcount = rowcount


def _many_result(cur, returning) -> dict:
    """``executemany``: the row count; with ``returning=True`` also each statement's result
    (``sets``), read once."""
    result = {"rowcount": cur.rowcount}
    if returning and getattr(cur, "_results", None):
        result["sets"] = [_result_of(cur) for _ in _result_sets(cur)]
    return result


def _summary(key, result) -> str:
    rows = result.get("rows")
    return f"{key} -> {result.get('status')}" + (f" ({len(rows)} rows)" if rows is not None else "")


def patch(module) -> None:
    if getattr(module.Cursor, "_ct_deps_patched", False):
        return
    _patch_sync(module)
    _patch_async(module)
    _patch_server_cursors(sys.modules["psycopg._server_cursor_base"].ServerCursorMixin)
    _patch_results(sys.modules["psycopg._cursor_base"].BaseCursor)
    _patch_copy(module)
    module.Cursor._ct_deps_patched = True


def _patch_sync(psycopg) -> None:
    conn_cls, cur_cls = psycopg.Connection, psycopg.Cursor
    orig_connect = conn_cls.__dict__["connect"].__func__
    orig_execute, orig_many = cur_cls.execute, cur_cls.executemany

    def connect(cls, conninfo="", **kwargs):
        engine = state.engine
        if engine is None:
            return orig_connect(cls, conninfo, **kwargs)
        key = _connect_key(conninfo, kwargs)
        if engine.mode == "record":
            return engine.call(CATEGORY, LIBRARY, key, lambda: orig_connect(cls, conninfo, **kwargs),
                               to_record=lambda conn: None, summarize=lambda _: f"{key} -> ok")
        from .psycopg_replay import ReplayConnection, answer

        answer(engine, key)
        return ReplayConnection(kwargs.get("row_factory"), kwargs.get("autocommit", False))

    def execute(self, query, params=None, **kwargs):
        engine = state.engine
        if engine is None or engine.mode != "record":  # a real connection during replay
            return orig_execute(self, query, params, **kwargs)
        key = statement_key(query, params)
        p = engine.begin(CATEGORY, LIBRARY, key, {"params": params}, {"sql": key})
        ran = _Ran(self, engine, p, key)
        try:
            orig_execute(self, query, params, **kwargs)
        except BaseException as exc:
            ran.failed(exc)
            raise
        ran.returned()
        return self

    def executemany(self, query, params_seq, **kwargs):
        engine = state.engine
        if engine is None or engine.mode != "record":
            return orig_many(self, query, params_seq, **kwargs)
        key, params_list = many_key(query, params_seq)
        returning = kwargs.get("returning")
        p = engine.begin(CATEGORY, LIBRARY, key)
        ran = _Ran(self, engine, p, key, len(params_list), returning)
        try:
            orig_many(self, query, params_list, **kwargs)
        except BaseException as exc:
            ran.failed(exc)
            raise
        ran.returned()

    orig_pipeline = conn_cls.pipeline

    @contextlib.contextmanager
    def pipeline(self):
        with _settled(self), orig_pipeline(self) as pipe:
            yield pipe

    conn_cls.connect = classmethod(connect)
    cur_cls.execute, cur_cls.executemany = execute, executemany
    conn_cls.pipeline = pipeline
    if getattr(psycopg, "connect", None) is not None:  # ``connect = Connection.connect``
        psycopg.connect = conn_cls.connect


def _patch_async(psycopg) -> None:
    conn_cls, cur_cls = psycopg.AsyncConnection, psycopg.AsyncCursor
    orig_connect = conn_cls.__dict__["connect"].__func__
    orig_execute, orig_many = cur_cls.execute, cur_cls.executemany

    async def connect(cls, conninfo="", **kwargs):
        engine = state.engine
        if engine is None:
            return await orig_connect(cls, conninfo, **kwargs)
        key = _connect_key(conninfo, kwargs)
        if engine.mode == "record":
            return await engine.acall(
                CATEGORY, LIBRARY, key, lambda: orig_connect(cls, conninfo, **kwargs),
                to_record=lambda conn: None, summarize=lambda _: f"{key} -> ok")
        from .psycopg_replay import AsyncReplayConnection, answer

        answer(engine, key)
        return AsyncReplayConnection(kwargs.get("row_factory"), kwargs.get("autocommit", False))

    async def execute(self, query, params=None, **kwargs):
        engine = state.engine
        if engine is None or engine.mode != "record":
            return await orig_execute(self, query, params, **kwargs)
        key = statement_key(query, params)
        p = engine.begin(CATEGORY, LIBRARY, key, {"params": params}, {"sql": key})
        ran = _Ran(self, engine, p, key)
        try:
            await orig_execute(self, query, params, **kwargs)
        except BaseException as exc:
            ran.failed(exc)
            raise
        ran.returned()
        return self

    async def executemany(self, query, params_seq, **kwargs):
        engine = state.engine
        if engine is None or engine.mode != "record":
            return await orig_many(self, query, params_seq, **kwargs)
        key, params_list = many_key(query, params_seq)
        returning = kwargs.get("returning")
        p = engine.begin(CATEGORY, LIBRARY, key)
        ran = _Ran(self, engine, p, key, len(params_list), returning)
        try:
            await orig_many(self, query, params_list, **kwargs)
        except BaseException as exc:
            ran.failed(exc)
            raise
        ran.returned()

    orig_pipeline = conn_cls.pipeline

    @contextlib.asynccontextmanager
    async def pipeline(self):
        with _settled(self):
            async with orig_pipeline(self) as pipe:
                yield pipe

    conn_cls.connect = classmethod(connect)
    cur_cls.execute, cur_cls.executemany = execute, executemany
    conn_cls.pipeline = pipeline


def _patch_copy(psycopg) -> None:
    """``cursor.copy()``: the copy object keeps, in order, what the program read from it."""
    for cur_cls, copy_cls, asynchronous in ((psycopg.Cursor, psycopg.Copy, False),
                                            (psycopg.AsyncCursor, psycopg.AsyncCopy, True)):
        cur_cls.copy = (_async_copy_method if asynchronous else _copy_method)(cur_cls.copy)
        for name, wrap in (("read", _kept), ("read_row", _kept), ("write", _counted),
                           ("write_row", _counted)):
            setattr(copy_cls, name, wrap(getattr(copy_cls, name), name, asynchronous))


def _kept(orig, name: str, asynchronous: bool):
    def keep(self, value):
        tape = getattr(self, "_ct_tape", None)
        if tape is not None:
            tape.append([name, None if value is None else
                         bytes(value) if name == "read" else list(value)])
        return value

    if asynchronous:
        async def read(self):
            return keep(self, await orig(self))
    else:
        def read(self):
            return keep(self, orig(self))
    read.__name__ = name
    return read


def _counted(orig, name: str, asynchronous: bool):
    field = "rows" if name == "write_row" else "blocks"

    def count(self):
        written = getattr(self, "_ct_written", None)
        if written is not None:
            written[field] += 1

    if asynchronous:
        async def write(self, data):
            await orig(self, data)
            count(self)
    else:
        def write(self, data):
            orig(self, data)
            count(self)
    write.__name__ = name
    return write


def _copy_record(self, statement, params):
    """(engine, pending, key, tape, written) when this COPY is recorded, else None."""
    engine = state.engine
    if engine is None or engine.mode != "record":
        return None
    key = statement_key(statement, params)
    written = {"rows": 0, "blocks": 0}
    p = engine.begin(CATEGORY, LIBRARY, key, {"params": params, "written": written},
                     {"sql": key})
    return engine, p, key, [], written


def _copy_done(cur, recording, error: BaseException | None) -> None:
    engine, p, key, tape, _ = recording
    if error is not None:
        engine.end(p, error=error)
        return
    result = {"rowcount": cur.rowcount, "status": cur.statusmessage, "columns": None,
              "copy": tape}
    engine.end(p, result=result, summary=lambda: f"{key} -> {result['status']}")


def _copy_method(orig):
    @contextlib.contextmanager
    def copy(self, statement, params=None, **kwargs):
        recording = _copy_record(self, statement, params)
        if recording is None:
            with orig(self, statement, params, **kwargs) as cp:
                yield cp
            return
        try:
            with orig(self, statement, params, **kwargs) as cp:
                cp._ct_tape, cp._ct_written = recording[3], recording[4]
                yield cp
        except BaseException as exc:
            _copy_done(self, recording, exc)
            raise
        _copy_done(self, recording, None)

    return copy


def _async_copy_method(orig):
    @contextlib.asynccontextmanager
    async def copy(self, statement, params=None, **kwargs):
        recording = _copy_record(self, statement, params)
        if recording is None:
            async with orig(self, statement, params, **kwargs) as cp:
                yield cp
            return
        try:
            async with orig(self, statement, params, **kwargs) as cp:
                cp._ct_tape, cp._ct_written = recording[3], recording[4]
                yield cp
        except BaseException as exc:
            _copy_done(self, recording, exc)
            raise
        _copy_done(self, recording, None)

    return copy


class _Ran:
    """A statement's record, made before it runs. Written when the call returns; in pipeline
    mode when psycopg hands the cursor its results (at a sync, which may come during the
    call itself: ``executemany(returning=True)`` fetches its own)."""

    __slots__ = ("cursor", "engine", "pending", "key", "batch", "left", "returning", "queued",
                 "done")

    def __init__(self, cursor, engine, pending, key: str, batch: int = 0,
                 returning=None) -> None:
        self.cursor, self.engine, self.pending, self.key = cursor, engine, pending, key
        self.batch, self.returning = batch, returning  # batch: an executemany's statements
        self.left = batch or 1  # statements whose results have not come yet
        self.done = False
        self.queued = cursor._conn._pipeline is not None
        if self.queued:
            _AWAITED.setdefault(id(cursor._conn), []).append(self)

    def returned(self) -> None:
        if not self.queued:
            try:
                self.end()
            except Exception as exc:  # the result could not be read: recorded as the error
                self.end(exc)
                raise

    def failed(self, error: BaseException) -> None:
        items = _AWAITED.get(id(self.cursor._conn)) or []
        if self in items:
            items.remove(self)
        self.end(error)

    def end(self, error: BaseException | None = None) -> None:
        if self.done:
            return
        key = self.key
        if error is not None:
            self.engine.end(self.pending, error=error)
        elif self.batch:
            result = _many_result(self.cursor, self.returning)
            self.engine.end(self.pending, result=result,
                            summary=lambda: f"{key} -> {result['rowcount']} rows")
        else:
            result = _result_of(self.cursor)
            self.engine.end(self.pending, result=result, summary=lambda: _summary(key, result))
        self.done = True


_AWAITED: dict[int, list[_Ran]] = {}  # by connection, in the order the server answers


def _patch_results(base) -> None:
    """A pipelined statement is recorded when psycopg hands its results to the cursor."""
    orig_set_results = base._set_results

    def _set_results(self, results):
        orig_set_results(self, results)
        items = _AWAITED.get(id(self._conn))
        if not items:
            return
        batch = self._execmany_returning is not None  # one statement of an executemany
        for i, item in enumerate(items):
            if item.cursor is self and bool(item.batch) == batch:
                item.left -= 1
                if not item.left:  # the statement's or the batch's last results
                    del items[i]
                    item.end()
                break

    base._set_results = _set_results


@contextlib.contextmanager
def _settled(conn):
    """Around a pipeline block: once the outermost one has ended, the statements still
    waiting are recorded (after an error, the refused statement with it and the ones behind
    it as aborted)."""
    try:
        yield
    except BaseException as exc:
        if conn._pipeline is None:
            _settle(conn, exc)
        raise
    if conn._pipeline is None:
        _settle(conn, None)


def _settle(conn, error: BaseException | None) -> None:
    for item in _AWAITED.pop(id(conn), ()):
        if error is None:
            item.end()
        else:
            item.end(error)
            error = sys.modules["psycopg"].errors.PipelineAborted("pipeline aborted")


def _patch_server_cursors(mixin) -> None:
    """Named cursors, sync and async alike: their generators declare the cursor and fetch
    from it, whichever flavour of connection waits on them."""
    orig_declare, orig_fetch = mixin._declare_gen, mixin._fetch_gen

    def _declare_gen(self, query, params=None, binary=None):
        engine = state.engine
        if engine is None or engine.mode != "record":
            return (yield from orig_declare(self, query, params, binary))
        _finish(id(self))  # executed again: the previous query's record is complete
        key = statement_key(query, params)
        p = engine.begin(CATEGORY, LIBRARY, key, {"params": params}, {"sql": key})
        try:
            done = yield from orig_declare(self, query, params, binary)
        except BaseException as exc:
            engine.end(p, error=exc)
            raise
        fetched = _Fetched(engine, p, key, self)
        _OPEN[id(self)] = fetched
        weakref.finalize(self, _finish, id(self))
        return done

    def _fetch_gen(self, num):
        fetched = _OPEN.get(id(self))
        if fetched is None:
            return (yield from orig_fetch(self, num))
        pos = self._pos  # the server's position before this fetch (scroll moves it)
        rows = yield from orig_fetch(self, num)
        fetched.keep(pos, self._tx.load_rows(0, self.pgresult.ntuples, tuple))
        return rows

    mixin._declare_gen, mixin._fetch_gen = _declare_gen, _fetch_gen
    close = mixin.__dict__.get("_close_gen")
    if close is not None:
        def _close_gen(self):
            _finish(id(self))
            return (yield from close(self))

        mixin._close_gen = _close_gen


class _Fetched:
    """A named cursor's record while the program fetches: the rows read, by position."""

    def __init__(self, engine, pending, key: str, cur) -> None:
        self.engine, self.pending, self.key = engine, pending, key
        desc = cur.description
        self.result = {"rowcount": cur.rowcount, "status": cur.statusmessage,
                       "columns": [[c.name, c.type_code] for c in desc] if desc else None}
        self.rows: dict[int, list] = {}

    def keep(self, pos: int, rows: list) -> None:
        for i, row in enumerate(rows, pos):
            self.rows[i] = list(row)

    def finish(self) -> None:
        """Writes the record: rows 0..last fetched (a row skipped by a scroll is null; the
        program did not read it)."""
        result = self.result
        if result["columns"] is not None:
            last = max(self.rows, default=-1)
            result["rows"] = [self.rows.get(i) for i in range(last + 1)]
        key = self.key
        self.engine.end(self.pending, result=result, summary=lambda: _summary(key, result))


_OPEN: dict[int, _Fetched] = {}  # named cursors being fetched from, by id


def _finish(ident: int) -> None:
    fetched = _OPEN.pop(ident, None)
    if fetched is not None:
        fetched.finish()


def forget_streams() -> None:
    """A forked child does not record the cursors and pipelines its parent has open."""
    _OPEN.clear()
    _AWAITED.clear()


def finish_streams() -> None:
    """At the end of a capture: named cursors still open are recorded with what was read."""
    for ident in list(_OPEN):
        _finish(ident)
