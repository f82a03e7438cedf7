"""aiohttp client: ``ClientSession._request`` (``session.get``/``post``/``request``, with or
without ``async with``).

Record: the real response's body is read once (aiohttp caches it, so the program reads it as
usual; already decompressed, as aiohttp hands it over). Replay: no connector is used; the
program gets a stand-in response with the recorded status, reason, headers, URL and body
(``read``, ``text``, ``json``, ``raise_for_status``, ``release``, ``async with``). A miss
raises ``aiohttp.ClientConnectionError``. Key as for http.client.
"""

from __future__ import annotations

import hashlib
import json as jsonlib
import sys

from .. import masking, state
from ..replay import Miss

CATEGORY = "http"
LIBRARY = "aiohttp"


def _url(session, str_or_url, params):
    yarl = sys.modules["yarl"]
    url = yarl.URL(str_or_url)
    base = getattr(session, "_base_url", None)
    if base is not None and not url.is_absolute():
        url = base.join(url)
    if params:
        url = url.extend_query(params)
    return url


def _key_and_match(method: str, url, data, json_body) -> tuple[str, dict]:
    method = method.upper()
    port = url.port or (443 if url.scheme == "https" else 80)
    origin = f"{url.scheme}://{url.host}:{port}"
    query = masking.query(url.raw_query_string)
    path = url.raw_path or "/"
    key = f"{method} {origin}{path}" + (f"?{query}" if query else "")
    body = b""
    if json_body is not None:
        body = jsonlib.dumps(masking.mapping(json_body), sort_keys=True).encode()
    elif isinstance(data, (bytes, str)):
        body = data.encode() if isinstance(data, str) else data
    match = {"method": method, "origin": origin, "path": path, "query": query,
             "body": hashlib.sha256(body).hexdigest()[:16] if body else ""}
    return key, match


def patch(module) -> None:
    session_cls = module.ClientSession
    if getattr(session_cls, "_ct_deps_patched", False):
        return
    orig = session_cls._request

    async def _request(self, method, str_or_url, **kwargs):
        engine = state.engine
        if engine is None:
            return await orig(self, method, str_or_url, **kwargs)
        url = _url(self, str_or_url, kwargs.get("params"))
        key, match = _key_and_match(method, url, kwargs.get("data"), kwargs.get("json"))
        if engine.mode == "record":
            p = engine.begin(CATEGORY, LIBRARY, key,
                             {"method": method.upper(), "url": key.split(" ", 1)[1]}, match)
            try:
                response = await orig(self, method, str_or_url, **kwargs)
                body = await response.read()
            except BaseException as exc:
                engine.end(p, error=exc)
                raise
            result = {"status": response.status, "reason": response.reason,
                      "headers": [list(h) for h in masking.headers(response.headers.items())],
                      "url": str(response.url), "body": body}
            engine.end(p, result=result, summary=lambda: f"{key} -> {response.status}")
            return response
        try:
            record = engine.answer(CATEGORY, key, match)
        except Miss:
            raise module.ClientConnectionError(
                f"Cannot connect to host {url.host}:{url.port} [Connection refused] "
                f"(codetracer replay has no recorded {key})") from None
        if record is None:
            return await orig(self, method, str_or_url, **kwargs)
        return ReplayResponse(module, method.upper(), engine.result(record))

    session_cls._request = _request
    session_cls._ct_deps_patched = True


class ReplayResponse:
    """What the program reads from an aiohttp response, from the capture."""

    def __init__(self, aiohttp, method: str, result: dict) -> None:
        multidict, yarl = sys.modules["multidict"], sys.modules["yarl"]
        self._aiohttp = aiohttp
        self.method = method
        self.status = result["status"]
        self.reason = result.get("reason")
        self.headers = multidict.CIMultiDictProxy(multidict.CIMultiDict(result["headers"]))
        self.url = yarl.URL(result.get("url", ""))
        self._body = result["body"]
        self.closed = False

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()

    @property
    def charset(self):
        for part in self.headers.get("Content-Type", "").split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset":
                return value.strip('"')
        return None

    async def read(self) -> bytes:
        return self._body

    async def text(self, encoding=None, errors="strict") -> str:
        return self._body.decode(encoding or self.charset or "utf-8", errors)

    async def json(self, *, encoding=None, loads=jsonlib.loads, content_type="application/json"):
        return loads(await self.text(encoding))

    def raise_for_status(self) -> None:
        if not self.ok:
            raise self._aiohttp.ClientResponseError(
                None, (), status=self.status, message=self.reason or "", headers=self.headers)

    def release(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<ClientResponse({self.url}) [{self.status} {self.reason}]>"
