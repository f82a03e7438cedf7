"""``CodeTracerMiddleware``: one capture per HTTP request of an ASGI app (Starlette, FastAPI,
or any plain ASGI callable).

    app.add_middleware(CodeTracerMiddleware)             # Starlette / FastAPI
    app = CodeTracerMiddleware(app, capture_dir="caps")  # any ASGI app

Capture is on when ``capture_dir=`` is given or ``CODETRACER_CAPTURE_DIR`` is set; then each
request writes one file (see ``capture``): method, path, the route template (read from the
scope after routing, so ``/items/{item_id}``, mounts included), path parameters, query
(secret-named values masked), allow-listed request headers, request body, response status,
headers and body, the dependency calls made while serving it, timing, and the exception with
its traceback. Options: ``sample_rate`` (0..1, ``CODETRACER_CAPTURE_SAMPLE_RATE``),
``errors_only`` (5xx and exceptions only, ``CODETRACER_CAPTURE_ERRORS_ONLY=1``),
``exclude_paths`` (shell patterns such as ``/health`` or ``/static/*``), ``max_body`` (bytes
kept of each body; the rest is cut and the capture says so). When the process is being
recorded by the time-travel recorder, each request is also an event and a request span in the
trace (CodeTracer's request panel lists the spans).
"""

from __future__ import annotations

import fnmatch
import itertools
import os
import random
import sys
import time

from ..deps import scopes
from . import capture

DEFAULT_HEADERS = ("accept", "accept-encoding", "accept-language", "content-type",
                   "content-length", "content-encoding", "user-agent", "host", "origin",
                   "referer", "x-request-id", "x-forwarded-for", "x-forwarded-proto")
DEFAULT_MAX_BODY = 256 * 1024
_now = time.time  # taken before any clock capture patches it
_ids = itertools.count(1)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _env_rate() -> float | None:
    """``CODETRACER_CAPTURE_SAMPLE_RATE`` (default 1); a bad value turns capture off with one
    line on stderr rather than stopping the app."""
    text = os.environ.get("CODETRACER_CAPTURE_SAMPLE_RATE", "").strip() or "1"
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if 0.0 <= rate <= 1.0:
        return rate
    sys.stderr.write(f"codetracer capture: CODETRACER_CAPTURE_SAMPLE_RATE={text!r} is not a "
                     "number from 0 to 1 (0.1 keeps one request in ten); capture is off\n")
    return None


class CodeTracerMiddleware:
    def __init__(self, app, *, capture_dir: str | None = None, sample_rate: float | None = None,
                 errors_only: bool | None = None, exclude_paths=(),
                 max_body: int = DEFAULT_MAX_BODY, headers=DEFAULT_HEADERS) -> None:
        self.app = app
        self.dir = capture.capture_dir(capture_dir)
        if sample_rate is None:
            sample_rate = _env_rate()
            if sample_rate is None:  # a bad value: said on stderr, capture off
                self.dir = None
                sample_rate = 0.0
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError(f"sample_rate must be between 0 and 1, not {sample_rate}")
        self.sample_rate = sample_rate
        self.errors_only = (_env_flag("CODETRACER_CAPTURE_ERRORS_ONLY") if errors_only is None
                            else errors_only)
        self.exclude = tuple(exclude_paths)
        self.selective = sample_rate < 1.0 or bool(self.exclude)  # else no request is skipped
        self.max_body = max(max_body, 0)  # negative: no body kept
        self.headers = frozenset(h.lower() for h in headers)
        self.enabled = self.dir is not None and capture.ensure_recording()
        if self.enabled:
            self.dir = os.path.abspath(self.dir)
        self.startup = None  # the lifespan start-up's capture (``startup``)

    async def __call__(self, scope, receive, send):
        if not self.enabled:  # capture off: the app as it is, unless a trace is being recorded
            if capture.tracing() and scope["type"] == "http":
                return await self._traced_only(scope, receive, send)
            return await self.app(scope, receive, send)
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                return await self.app(scope, receive, self._lifespan(send))
            return await self.app(scope, receive, send)
        tracing = capture.tracing()
        if capture.replaying or (self.selective and self._skipped(scope)):
            if not tracing:
                return await self.app(scope, receive, send)
            return await self._traced_only(scope, receive, send)
        exchange = _Exchange(self, scope, receive, send)
        span = _begin_event(scope) if tracing else None
        calls = capture.open_scope()
        error = None
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except BaseException as exc:
            error = exc
            raise
        finally:
            calls.close()
            exchange.end(calls, error, tracing, span)

    def _lifespan(self, send):
        """Lifespan: the start-up's calls go to a start-up capture of their own; the queued
        captures are on disk before the server is told shutdown is complete (uvicorn then ends
        the process by re-raising SIGTERM: no ``atexit``)."""
        from .startup import Startup

        self.startup = startup = Startup(self.dir)

        async def send_after_flush(message):
            if message["type"].startswith("lifespan.startup."):
                startup.end(message)
            elif message["type"] == "lifespan.shutdown.complete":
                import asyncio

                await asyncio.get_running_loop().run_in_executor(None, capture.writer.flush)
            await send(message)

        return send_after_flush

    def _skipped(self, scope) -> bool:
        """Left out by ``sample_rate`` or ``exclude_paths``."""
        if self.sample_rate < 1.0 and random.random() >= self.sample_rate:
            return True
        path = scope.get("path", "")
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.exclude)

    async def _traced_only(self, scope, receive, send):
        status = []

        async def send_status(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        t0 = time.perf_counter()
        span = _begin_event(scope)
        try:
            await self.app(scope, receive, send_status)
        except BaseException as exc:
            _end_event(scope, status[0] if status else 500, t0, exc, span)
            raise
        _end_event(scope, status[0] if status else None, t0, None, span)


class _Exchange:
    """One captured request. While it is served only references are kept (body chunks, the
    response's status and headers); ``name()`` and ``build()`` decode, mask and name once the
    response went out (``capture.writer.submit``)."""

    __slots__ = ("mw", "scope", "_receive", "_send", "root_path", "started_at",
                 "request_chunks", "request_size", "response_chunks", "response_size", "status",
                 "response_headers", "duration", "exception", "calls", "number", "startup",
                 "_ident")

    def __init__(self, mw: CodeTracerMiddleware, scope, receive, send) -> None:
        self.mw = mw
        self.scope = scope
        self._receive = receive
        self._send = send
        self.root_path = scope.get("root_path", "")  # before routing adds the mounts' paths
        self.request_chunks: list[bytes] = []
        self.request_size = 0
        self.response_chunks: list[bytes] = []
        self.response_size = 0
        self.status = None  # None: the response was sent outside the middleware (error page)
        self._ident = None
        self.started_at = _now()

    async def receive(self):
        message = await self._receive()
        if message["type"] == "http.request":
            body = message.get("body", b"")
            if body:
                self.request_size = _keep(self.request_chunks, self.request_size, body,
                                          self.mw.max_body)
        return message

    async def send(self, message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            self.response_headers = message.get("headers", [])
        elif kind == "http.response.body":
            body = message.get("body", b"")
            if body:
                self.response_size = _keep(self.response_chunks, self.response_size, body,
                                           self.mw.max_body)
        await self._send(message)

    def end(self, calls, error, tracing: bool, span) -> None:
        """After the app (its scope closed): the trace's end event; queues the capture."""
        self.duration = time.perf_counter() - calls.t0
        status = self.status or (500 if error is not None else None)
        if tracing:
            _end_event(self.scope, status, calls.t0, error, span)
        if self.mw.errors_only and error is None and (status or 0) < 500:
            return
        self.calls = calls
        self.exception = capture.describe_exception(error) if error is not None else None
        self.number = next(_ids)
        self.startup = self.mw.startup.name if self.mw.startup is not None else None
        capture.writer.submit(self.mw.dir, self.name, self.build)

    def ident(self) -> str:
        if self._ident is None:  # made by name() or build(), whichever runs first
            self._ident = f"{capture.pid:x}{self.number:05x}"
        return self._ident

    def name(self) -> str:
        scope = self.scope
        route = _route_template(scope, self.root_path)
        return capture.file_name(self.started_at, [scope.get("method", "GET"),
                                                   route or scope.get("path", "")], self.ident())

    def build(self) -> dict:
        scope = self.scope
        request = {
            "method": scope.get("method", "GET"), "path": scope.get("path", ""),
            "route": _route_template(scope, self.root_path),
            "path_params": scopes.encode(scopes.mask_mapping(
                dict(scope.get("path_params") or {}))),
            "query": scopes.mask_query(scope.get("query_string", b"").decode("latin-1")),
            "headers": scopes.mask_headers(scope.get("headers") or (), self.mw.headers),
            "scheme": scope.get("scheme", "http"), "http_version": scope.get("http_version"),
            "root_path": self.root_path,
            "body": capture.body_value(b"".join(self.request_chunks)),
            "body_cut": max(self.request_size - self.mw.max_body, 0),
        }
        response = None
        if self.status is not None:
            response = {"status": self.status,
                        "headers": scopes.mask_headers(self.response_headers),
                        "body": capture.body_value(b"".join(self.response_chunks)),
                        "body_cut": max(self.response_size - self.mw.max_body, 0)}
        return {"format": capture.FORMAT, "version": capture.VERSION, "kind": "request",
                "id": self.ident(), "started_at": self.started_at,
                "duration": round(self.duration, 6), "framework": _framework(scope),
                "pid": capture.pid, "python": capture.PYTHON, "request": request,
                "response": response, "exception": self.exception,
                "deps": self.calls.records(), "startup": self.startup}


def _keep(chunks: list, size: int, chunk, cap: int) -> int:
    """Keeps what of ``chunk`` falls in a body's first ``cap`` bytes (bytes do not change:
    kept as they are, not copied); returns the body's size so far (past ``cap``: cut)."""
    if size < cap:
        end = cap - size
        chunks.append(chunk if type(chunk) is bytes and len(chunk) <= end
                      else bytes(chunk[:end]))
    return size + len(chunk)


def _route_template(scope, root_path: str) -> str | None:
    """The matched route's template after routing (``/items/{item_id}``), with the templates
    of the mounts it sits under; ``None`` when no route matched or the app has no router."""
    route = scope.get("route")
    template = getattr(route, "path", None) or getattr(route, "path_format", None)
    if not isinstance(template, str):
        return None
    mounted = scope.get("root_path", "")
    prefix = mounted[len(root_path):] if mounted.startswith(root_path) else ""
    return prefix + template


def _framework(scope) -> str:
    app = scope.get("app")
    kind = type(app)
    name = _frameworks.get(kind)
    if name is None:
        module = kind.__module__ if app is not None else ""
        name = _frameworks[kind] = ("fastapi" if module.startswith("fastapi") else "starlette"
                                    if module.startswith("starlette") else "asgi")
    return name


_frameworks: dict[type, str] = {}  # an app's class -> its framework (one app, one lookup)


_native = None


def _begin_event(scope):
    """The request's begin event and its span in the trace (CodeTracer's request panel lists
    spans, ``docs/spans.md``); returns the span's id, None if the recorder took no span."""
    global _native
    method, path = scope.get("method"), scope.get("path")
    capture.trace_event(f"request:{method} {path}", "begin")
    if _native is None:
        from .. import _native as native

        _native = native
    metadata = [("http.method", method or ""), ("http.url", path or ""),
                ("http.status_code", "0"), ("http.duration_ms", "0")]
    if scope.get("client"):
        metadata.append(("http.remote_addr", str(scope["client"][0])))
    metadata.append(("framework", _framework(scope)))
    try:
        return _native.span_begin("web-request", f"{method} {path}", metadata)
    except Exception:  # noqa: BLE001 - the span is a courtesy; the request goes on
        return None


def _end_span(span, scope, status, ms: float, error) -> None:
    """Closes the request's span: status code, whole milliseconds (the panel reads an
    integer), route template, error; a 4xx/5xx or an exception makes it an error."""
    end = [("http.status_code", str(status or 0)), ("http.duration_ms", str(round(ms)))]
    route = _route_template(scope, "")
    if route:
        end.append(("http.route", route))
    if error is not None:
        end.append(("error.message", f"{type(error).__name__}: {error}"))
    failed = error is not None or (status or 0) >= 400
    try:
        _native.span_end(span, "error" if failed else "ok", end)
    except Exception:  # noqa: BLE001
        pass


def _end_event(scope, status, t0: float, error, span=None) -> None:
    route = _route_template(scope, "") or scope.get("path")
    ms = (time.perf_counter() - t0) * 1000
    if span is not None:
        _end_span(span, scope, status, ms, error)
    text = f"{scope.get('method')} {scope.get('path')} (route {route}) -> {status} in {ms:.1f} ms"
    if error is not None:
        text += f"; {type(error).__name__}: {error}"
    capture.trace_event(f"request:{scope.get('method')} {route}", text)
