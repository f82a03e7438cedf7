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
        self.max_body = max_body
        self.headers = frozenset(h.lower() for h in headers)
        self.enabled = self.dir is not None and capture.ensure_recording()
        if self.enabled:
            self.dir = os.path.abspath(self.dir)
        self.startup = None  # the lifespan start-up's capture (``startup``)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and self.enabled:
                return await self.app(scope, receive, self._lifespan(send))
            return await self.app(scope, receive, send)
        tracing = _tracing()
        if not self.enabled or capture.replaying or not (
                self.sample_rate >= 1.0 or random.random() < self.sample_rate) or (
                self.exclude and self._excluded(scope.get("path", ""))):
            if not tracing:
                return await self.app(scope, receive, send)
            return await self._traced_only(scope, receive, send)
        return await self._captured(scope, receive, send, tracing)

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

    def _excluded(self, path: str) -> bool:
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

    async def _captured(self, scope, receive, send, tracing: bool):
        cap = self.max_body
        request_body = bytearray()
        response_body = bytearray()
        cut = {"request": 0, "response": 0}
        response: dict = {}

        async def receive_wrapper():
            message = await receive()
            if message["type"] == "http.request":
                _keep(request_body, message.get("body", b""), cap, cut, "request")
            return message

        async def send_wrapper(message):
            kind = message["type"]
            if kind == "http.response.start":
                response["status"] = message["status"]
                response["headers"] = message.get("headers", [])
            elif kind == "http.response.body":
                _keep(response_body, message.get("body", b""), cap, cut, "response")
            await send(message)

        root_path = scope.get("root_path", "")
        started_at = _now()
        span = _begin_event(scope) if tracing else None
        scope_calls = capture.open_scope()
        error = None
        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except BaseException as exc:
            error = exc
            raise
        finally:
            capture.close_scope(scope_calls)
            duration = time.perf_counter() - scope_calls.t0
            status = response.get("status") or (500 if error is not None else None)
            if tracing:
                _end_event(scope, status, scope_calls.t0, error, span)
            failed = error is not None or (status or 0) >= 500
            if failed or not self.errors_only:
                self._submit(scope, root_path, started_at, duration, status, response,
                             bytes(request_body), bytes(response_body), cut, error,
                             scope_calls)

    def _submit(self, scope, root_path, started_at, duration, status, response, request_body,
                response_body, cut, error, scope_calls) -> None:
        method = scope.get("method", "GET")
        route = _route_template(scope, root_path)
        ident = f"{os.getpid():x}{next(_ids):05x}"
        exception = capture.describe_exception(error) if error is not None else None
        request = {
            "method": method, "path": scope.get("path", ""), "route": route,
            "path_params": dict(scope.get("path_params") or {}),
            "query": scope.get("query_string", b""), "headers": list(scope.get("headers") or []),
            "scheme": scope.get("scheme", "http"), "http_version": scope.get("http_version"),
            "root_path": root_path,
        }
        allowed = self.headers
        startup = self.startup.name if self.startup is not None else None

        def build() -> dict:
            from ..deps import scopes

            req = dict(request)
            req["query"] = scopes.mask_query(req["query"].decode("latin-1"))
            req["headers"] = [list(p) for p in scopes.mask_headers(
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in req["headers"]
                if k.decode("latin-1").lower() in allowed)]
            req["path_params"] = scopes.encode(scopes.mask_mapping(req["path_params"]))
            req["body"] = capture.body_value(request_body)
            req["body_cut"] = cut["request"]
            resp = None  # None: the response was sent outside this middleware (an error page)
            if response.get("status") is not None:
                resp = {"status": response["status"],
                        "headers": [list(p) for p in scopes.mask_headers(
                            (k.decode("latin-1"), v.decode("latin-1"))
                            for k, v in response.get("headers", []))],
                        "body": capture.body_value(response_body), "body_cut": cut["response"]}
            calls = capture.complete_calls(scope_calls)
            return {"format": capture.FORMAT, "version": capture.VERSION, "kind": "request",
                    "id": ident, "started_at": started_at, "duration": round(duration, 6),
                    "framework": _framework(scope), "pid": os.getpid(),
                    "python": ".".join(map(str, sys.version_info[:3])),
                    "request": req, "response": resp, "exception": exception,
                    "deps": calls, "startup": startup}

        parts = [method, route or scope.get("path", "")]
        capture.writer.submit(self.dir, lambda: capture.file_name(started_at, parts, ident),
                              build)  # the name too is made on the writer thread


def _keep(buf: bytearray, chunk: bytes, cap: int, cut: dict, which: str) -> None:
    room = cap - len(buf)
    if len(chunk) <= room:
        buf += chunk
    else:
        if room > 0:
            buf += chunk[:room]
        cut[which] += len(chunk) - max(room, 0)


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
    module = type(app).__module__ if app is not None else ""
    if module.startswith("fastapi"):
        return "fastapi"
    if module.startswith("starlette"):
        return "starlette"
    return "asgi"


_events = None


def _tracing() -> bool:
    """Is the time-travel recorder running (cheap: checked on every request)?"""
    global _events
    if _events is None:
        from ..deps import scopes

        _events = scopes
    return _events.tracing()


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
