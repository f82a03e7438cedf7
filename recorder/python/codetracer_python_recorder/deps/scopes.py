"""The public interface for capturing and replaying one unit of work at a time (a web request,
a task run, an app's start-up); the integrations use only this module.

    if scopes.record():              # per-scope capture on in this process (idempotent)
        scope = scopes.open_scope()  # calls made in this context go to ``scope`` ...
        ...                          # serve the request / run the task
        scope.close()                # ... until here
        calls = scope.records()      # completed call records, as lines of deps.jsonl

    engine = scopes.replay(records)  # answer the program's calls from these records
    ...
    scopes.finish(0)                 # stop capture or replay

A scope is a :mod:`contextvars` value, so each asyncio task and each thread started with a
copied context (Starlette's threadpool) sees only its own: concurrent requests never mix their
calls. A scope opened inside another (an eager Celery task inside a request) gives its calls
to both. Threads started in a scope, and executor work items submitted from one, run in it
(``propagate``). A call that ends after its scope closed (a task the request spawned and did
not wait for) and a call made outside every scope (import time, a thread started outside)
goes to no scope; a process-wide ``--deps record`` capture, when one runs, has every call.
"""

from __future__ import annotations

import contextvars
import os
import sys
import threading
import time

from . import events, masking, state, store

_current = contextvars.ContextVar("codetracer_deps_scope", default=None)
_lock = threading.Lock()
_fork_hook: list = []


class Scope:
    """The dependency calls of one unit of work, from ``open_scope()`` to ``close()``."""

    __slots__ = ("calls", "t0", "offset", "token", "parent", "closed")

    def __init__(self, parent: Scope | None) -> None:
        self.calls: list[dict] = []
        self.t0 = t0 = time.perf_counter()
        clock = getattr(state.engine, "_t0", None)
        self.offset = t0 - clock if clock is not None else 0.0  # on the deps recorder's clock
        self.token = None
        self.parent = parent
        self.closed = False

    def close(self) -> None:
        """Ends the scope; in the context that opened it, the enclosing scope is current again.
        Calls that end later are not added."""
        self.closed = True
        if self.token is not None:
            try:
                _current.reset(self.token)
            except ValueError:  # closed from another context (a signal handler): clear it here
                _current.set(None)
            self.token = None

    def records(self) -> list[dict]:
        """The scope's call records in start order, completed like deps.jsonl lines (lazy
        fields computed, values encoded), with ``start`` relative to the scope's start."""
        out = []
        for record in sorted(self.calls, key=lambda r: r["seq"]):
            record = dict(record)
            record["start"] = record["start"] - self.offset
            out.append(store._finish(record))
        return out


class _ScopedWriter:
    """Takes the deps recorder's writer's place: hands each call record to the open scopes of
    the calling context, and to the process-wide capture file when there is one."""

    def __init__(self, fallback=None) -> None:
        self.fallback = fallback

    def write(self, record: dict) -> None:
        scope = _current.get()
        while scope is not None:
            if not scope.closed:
                scope.calls.append(record if self.fallback is None and scope.parent is None
                                   else dict(record))
            scope = scope.parent
        if self.fallback is not None:
            self.fallback.write(record)

    def drain_some(self) -> None:
        if self.fallback is not None:
            self.fallback.drain_some()

    def close(self, footer: dict | None = None) -> None:
        if self.fallback is not None:
            self.fallback.close(footer)


def record() -> bool:
    """Turns per-scope capture on in this process (the import hook patches the supported
    libraries; under ``--deps record`` its capture goes on too). Idempotent. ``False`` when
    the process replays dependencies: there is nothing to capture then; and when the
    masking configuration cannot be read (``_configure_masking``)."""
    with _lock:
        if state.engine is None:
            try:
                _configure_masking()
            except Exception as exc:  # noqa: BLE001 - the recorder's filter error: one line
                sys.stderr.write(f"codetracer capture: off: {exc}\n")
                return False
        if not _fork_hook:
            _fork_hook.append(True)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_forked)
            from . import propagate

            propagate.install(_current)  # threads and executors carry the scope
        engine = state.engine
        if engine is not None:
            if engine.mode != "record":
                return False
            if not isinstance(engine.writer, _ScopedWriter):
                engine.writer = _ScopedWriter(engine.writer)
            return True
        from . import install_hook
        from .record import Recorder

        state.engine = Recorder(_ScopedWriter())
        install_hook()
        return True


def _configure_masking() -> None:
    """The masking rules ``--deps record`` uses: ``CODETRACER_DEPS_MASK_*`` and the ``[deps]``
    table of the trace filter chain (the project's ``.codetracer/trace-filter.toml`` above the
    working directory, ``CODETRACER_TRACE_FILTER``); under ``--deps`` the command line has
    applied them already. Raises the recorder's ``UsageError`` (one line naming the file) when
    the chain cannot be read: capturing with fewer secrets masked than configured would leak
    the others, so capture stays off then."""
    from . import config

    masking.configure(os.environ)
    config.apply(config.load(os.getcwd(), []))


def _forked() -> None:
    """A forked worker (Celery's prefork pool) keeps capturing per scope. A process-wide
    ``--deps record`` goes on in the child into the child's own file (``fork``, whose hook
    runs first and points this writer's fallback there)."""
    if state.engine is None:
        from .record import Recorder

        state.engine = Recorder(_ScopedWriter())


def open_scope() -> Scope:
    """Starts collecting the calls made in the calling context (and in tasks and threads that
    copy it) until ``close()``. Cheap: one context variable set."""
    scope = Scope(_current.get())
    scope.token = _current.set(scope)
    return scope


def replay(records: list[dict], *, miss: str = "error", source: str = ""):
    """Answers the program's dependency calls from ``records`` (call records as
    ``Scope.records()`` returns them): nothing reaches the services, connection set-up
    included. Returns the engine (``hits``, ``misses``). ``miss="live"`` sends calls that have
    no recorded answer to the service."""
    from . import install_hook
    from .replay import Replayer

    _configure_masking()  # live calls are masked as the recorded ones were
    engine = Replayer(list(records), miss=miss, source=source)
    state.engine = engine
    install_hook()
    return engine


def finish(exit_status: int | None = None) -> None:
    """Stops capture or replay (a replay lists the recorded calls left unused)."""
    from . import finish as deps_finish

    deps_finish(exit_status)


# --- values and the time-travel trace, for the integrations' own records ------------------

encode = store.encode
decode = store.decode
mask_query = masking.query
mask_mapping = masking.mapping
#: is the time-travel recorder running? (integrations check it per request: no wrapper)
tracing = events.active

_MAX_NAMES = 1024  # header names remembered per allow-list: a flood of odd names stays small
_names: dict = {}  # allow-list -> {raw header name: (text, secret) or () when not allowed}
_names_masking: tuple = ()  # the masking configuration they were decided under


def mask_headers(pairs, allowed: frozenset | None = None) -> list[list[str]]:
    """ASGI header pairs (bytes) -> ``[[name, value], ...]`` as latin-1 text, secret values
    masked; with ``allowed`` (lower-case names) only those. Each name is decided once per
    masking configuration: requests repeat the same dozen names."""
    global _names_masking
    rules = _names_masking
    if (not rules or rules[0] is not masking.SECRET_HEADERS
            or rules[1] is not masking.SECRET_WORDS or rules[2] is not masking.SECRET_PAIRS):
        _names.clear()  # configure(), the [deps] config or a test replaced a rule set
        _names_masking = (masking.SECRET_HEADERS, masking.SECRET_WORDS, masking.SECRET_PAIRS)
    memo = _names.get(allowed)
    if memo is None:
        memo = _names[allowed] = {}
    out = []
    for name, value in pairs:
        kind = memo.get(name)
        if kind is None:
            if len(memo) >= _MAX_NAMES:
                memo.clear()
            text = name.decode("latin-1")
            kind = memo[name] = (() if allowed is not None and text.lower() not in allowed
                                 else (text, masking.is_secret_header(text)))
        if kind:
            out.append([kind[0], masking.MASK if kind[1] else value.decode("latin-1")])
    return out


def trace_event(metadata: str, summary) -> None:
    """An event in the time-travel trace when one is being recorded (else nothing).
    ``summary``: the text, or a function building it."""
    if not events.active():
        return
    try:
        events._native.record_event("socket", metadata,
                                    summary() if callable(summary) else summary)
    except Exception:  # noqa: BLE001 - the event is a courtesy
        pass
