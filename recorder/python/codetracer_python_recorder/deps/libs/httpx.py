"""httpx, sync and async, at its transport (``HTTPTransport.handle_request``,
``AsyncHTTPTransport.handle_async_request``): below the client's redirects, auth and
decoding, so replay hands the client the same raw bytes and headers it got.

Record: the raw body is read in full (``Content-Encoding`` untouched) and handed on as a byte
stream. Replay: the transport's connection pool is never used; a miss raises
``httpx.ConnectError``. Key as for http.client: ``METHOD scheme://host:port/path?query``.
"""

from __future__ import annotations

import hashlib
import sys

from .. import masking, state
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


def _result(response, body: bytes) -> dict:
    headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in response.headers.raw
               if k.lower() != b"transfer-encoding"]
    ext = response.extensions
    return {"status": response.status_code, "headers": [list(p) for p in masking.headers(headers)],
            "body": body, "http_version": _text(ext.get("http_version", b"HTTP/1.1")),
            "reason": _text(ext.get("reason_phrase", b""))}


def _text(value) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _response(httpx, result: dict):
    return httpx.Response(
        result["status"], headers=[(k, v) for k, v in result["headers"]],
        stream=httpx.ByteStream(result["body"]),
        extensions={"http_version": result.get("http_version", "HTTP/1.1").encode("latin-1"),
                    "reason_phrase": result.get("reason", "").encode("latin-1")})


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
                try:
                    body = b"".join(response.iter_raw())
                finally:
                    response.close()
                result = _result(response, body)
            except BaseException as exc:
                engine.end(p, error=exc)
                raise
            engine.end(p, result=result, summary=lambda: f"{key} -> {result['status']}")
            return _response(httpx, result)
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
                try:
                    body = b"".join([chunk async for chunk in response.aiter_raw()])
                finally:
                    await response.aclose()
                result = _result(response, body)
            except BaseException as exc:
                engine.end(p, error=exc)
                raise
            engine.end(p, result=result, summary=lambda: f"{key} -> {result['status']}")
            return _response(httpx, result)
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
