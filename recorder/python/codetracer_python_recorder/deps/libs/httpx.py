"""httpx, sync and async, at its transport (``HTTPTransport.handle_request``,
``AsyncHTTPTransport.handle_async_request``): below the client's redirects, auth and
decoding, so replay hands the client the same raw bytes and headers it got.

Record: the raw body streams to the client as the program reads it (``stream()``,
``iter_bytes``, ``aiter_bytes``; ``Content-Encoding`` untouched) and each raw chunk is kept on
the way; the call is recorded when the response is closed (after a plain ``get``, at once).
Replay: the transport's connection pool is never used; the body comes back in the recorded
chunks (an error that broke the body off is raised again after them); a miss raises ``httpx.ConnectError``. Key as for http.client:
``METHOD scheme://host:port/path?query``.
"""

from __future__ import annotations

import hashlib
import sys

from .. import exceptions, masking, state
from ..replay import Miss

CATEGORY = "http"
LIBRARY = "httpx"


def _key_and_match(request) -> tuple[str, dict]:
    url = request.url
    port = url.port or (443 if url.scheme == "https" else 80)
    origin = f"{url.scheme}://{url.host}:{port}"
    path = url.path or "/"
    query = masking.query(url.query.decode("ascii", "replace"))
    key = f"{request.method} {origin}{path}" + (f"?{query}" if query else "")
    body = request.content
    match = {"method": request.method, "origin": origin, "path": path, "query": query,
             "body": hashlib.sha256(body).hexdigest()[:16] if body else ""}
    return key, match


def _request_record(request) -> dict:
    from .http_client import _masked_body

    headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.headers.raw]
    path, sep, query = request.url.raw_path.decode("ascii", "replace").partition("?")
    return {"method": request.method, "url": path + sep + masking.query(query),
            "headers": [list(p) for p in masking.headers(headers)],
            "body": _masked_body(b"", request.content)}


def _result(status, raw_headers, ext, body, sizes: list[int], eof: bool) -> dict:
    headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in raw_headers
               if k.lower() != b"transfer-encoding"]
    result = {"status": status, "headers": [list(p) for p in masking.headers(headers)],
              "body": body, "chunks": sizes,
              "http_version": _text(ext.get("http_version", b"HTTP/1.1")),
              "reason": _text(ext.get("reason_phrase", b""))}
    if not eof:
        result["complete"] = False  # the program closed the response before its end
    return result


def _text(value) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _response(httpx, result: dict):
    body, sizes = result["body"], result.get("chunks") or [len(result["body"])]
    chunks, pos = [], 0
    for size in sizes:
        chunks.append(body[pos:pos + size])
        pos += size
    return httpx.Response(
        result["status"], headers=[(k, v) for k, v in result["headers"]],
        stream=_streams(httpx)[2](chunks, result.get("stream_error")),
        extensions={"http_version": result.get("http_version", "HTTP/1.1").encode("latin-1"),
                    "reason_phrase": result.get("reason", "").encode("latin-1")})


_OPEN: set = set()  # record mode: tees whose response is still open
_CLASSES: list = []


def _streams(httpx):
    """The stream classes, made once httpx is loaded (they subclass its stream types)."""
    if _CLASSES:
        return _CLASSES

    class _Tee:
        def _start(self, stream, done, wire) -> None:
            self._stream, self._done, self._wire, self._sizes = stream, done, wire, []
            self._eof, self._error = False, None
            _OPEN.add(self)

        def _keep(self, chunk) -> None:
            self._wire.add(chunk)
            self._sizes.append(len(chunk))

        def finish(self) -> None:
            """Records the chunks read so far (idempotent)."""
            if self._done is not None:
                done, self._done = self._done, None
                _OPEN.discard(self)
                done(self._wire.take(), self._sizes, self._eof, self._error)

    class SyncTee(_Tee, httpx.SyncByteStream):
        """Record mode: the raw chunks pass to the client and are kept."""

        def __init__(self, stream, done, wire) -> None:
            self._start(stream, done, wire)

        def __iter__(self):
            try:
                for chunk in self._stream:
                    self._keep(chunk)
                    yield chunk
            except Exception as exc:  # the body broke off (a read timeout, a reset)
                self._error = exceptions.describe(exc)
                raise
            self._eof = True

        def close(self) -> None:
            try:
                self._stream.close()
            finally:
                self.finish()

    class AsyncTee(_Tee, httpx.AsyncByteStream):
        def __init__(self, stream, done, wire) -> None:
            self._start(stream, done, wire)

        async def __aiter__(self):
            try:
                async for chunk in self._stream:
                    self._keep(chunk)
                    yield chunk
            except Exception as exc:
                self._error = exceptions.describe(exc)
                raise
            self._eof = True

        async def aclose(self) -> None:
            try:
                await self._stream.aclose()
            finally:
                self.finish()

    class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
        """Replay: the recorded raw chunks, one by one."""

        def __init__(self, chunks: list[bytes], error: dict | None = None) -> None:
            self._chunks, self._error = chunks, error

        def __iter__(self):
            yield from self._chunks
            if self._error:
                raise exceptions.rebuild(self._error)

        async def __aiter__(self):
            for chunk in self._chunks:
                yield chunk
            if self._error:
                raise exceptions.rebuild(self._error)

    _CLASSES.extend([SyncTee, AsyncTee, Chunks])
    return _CLASSES


def forget_streams() -> None:
    """A forked child does not record the responses its parent has open."""
    _OPEN.clear()


def finish_streams() -> None:
    """At the end of a capture: responses still open are recorded with what was read."""
    for tee in list(_OPEN):
        tee.finish()


def _recording(httpx, engine, key, p, response, tee_cls):
    """The response handed to the client in record mode: its stream goes through a tee that
    records the call when the response is closed."""
    status, raw_headers, ext = response.status_code, list(response.headers.raw), \
        dict(response.extensions)

    def done(body, sizes, eof, error) -> None:
        result = _result(status, raw_headers, ext, body, sizes, eof)
        if error is not None:
            result["stream_error"] = error
        engine.end(p, result=result, summary=lambda: f"{key} -> {status}")

    return httpx.Response(status, headers=raw_headers,
                          stream=tee_cls(response.stream, done, engine.tape()), extensions=ext)


def _miss(httpx, request, key):
    return httpx.ConnectError(
        f"[Errno 111] Connection refused (codetracer replay has no recorded {key})",
        request=request)


def patch(module) -> None:
    httpx = sys.modules["httpx"]
    sync_cls, async_cls = httpx.HTTPTransport, httpx.AsyncHTTPTransport
    if getattr(sync_cls, "_ct_deps_patched", False):
        return
    orig_sync, orig_async = sync_cls.handle_request, async_cls.handle_async_request

    def handle_request(self, request):
        engine = state.engine
        if engine is None:
            return orig_sync(self, request)
        request.read()
        key, match = _key_and_match(request)
        if engine.mode == "record":
            p = engine.begin(CATEGORY, LIBRARY, key, _request_record(request), match)
            try:
                response = orig_sync(self, request)
            except BaseException as exc:
                engine.end(p, error=exc)
                raise
            return _recording(httpx, engine, key, p, response, _streams(httpx)[0])
        try:
            record = engine.answer(CATEGORY, key, match)
        except Miss:
            raise _miss(httpx, request, key) from None
        if record is None:
            return orig_sync(self, request)
        return _response(httpx, engine.result(record))

    async def handle_async_request(self, request):
        engine = state.engine
        if engine is None:
            return await orig_async(self, request)
        await request.aread()
        key, match = _key_and_match(request)
        if engine.mode == "record":
            p = engine.begin(CATEGORY, LIBRARY, key, _request_record(request), match)
            try:
                response = await orig_async(self, request)
            except BaseException as exc:
                engine.end(p, error=exc)
                raise
            return _recording(httpx, engine, key, p, response, _streams(httpx)[1])
        try:
            record = engine.answer(CATEGORY, key, match)
        except Miss:
            raise _miss(httpx, request, key) from None
        if record is None:
            return await orig_async(self, request)
        return _response(httpx, engine.result(record))

    sync_cls.handle_request = handle_request
    async_cls.handle_async_request = handle_async_request
    sync_cls._ct_deps_patched = True
