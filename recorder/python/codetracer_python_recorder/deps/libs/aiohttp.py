"""aiohttp client: ``ClientSession._request`` (``session.get``/``post``/``request``, with or
without ``async with``).

Record: the program gets the real response and reads it as it likes (``read``, ``text``,
``content.read(n)``, ``iter_chunked``, ``iter_any``, ``iter_chunks``, lines); the body is
kept as aiohttp's parser hands it to the response's ``StreamReader`` (decompressed), piece by
piece, with the HTTP chunk ends, and the call is recorded when the body has arrived (or the
response is closed, or the capture ends). Replay: no connector is used; the program gets a
stand-in response with the recorded status, reason, headers and URL whose ``content`` is a
real ``StreamReader`` fed the recorded pieces, so every way of reading gives what it gave when
recorded (``read``, ``text``, ``json``, ``raise_for_status``, ``release``, ``async with``).
A miss raises ``aiohttp.ClientConnectionError``. Key as for http.client.
"""

from __future__ import annotations

import hashlib
import json as jsonlib
import sys

from .. import exceptions, masking, state, tape
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
            except BaseException as exc:
                engine.end(p, error=exc)
                raise
            _tap(engine, p, key, response)
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

    _patch_streams(sys.modules["aiohttp.streams"].StreamReader,
                   sys.modules["aiohttp.client_reqrep"].ClientResponse)
    session_cls._request = _request
    session_cls._ct_deps_patched = True


# --- record: what the parser feeds a response's StreamReader, and when the program reads ----
#
# A body is kept as the events the parser gave its ``StreamReader``: a piece of data (its
# size, > 0) or the end of an HTTP chunk (0); then EOF unless ``"complete": false``. What a
# read returns depends on how much had arrived when it ran (``content.read(500)`` returns what
# is buffered), so each read method's start and each wake-up from waiting for data ("marks")
# note how many events had arrived; a replay feeds its reader the events in the same steps.

_TAPS: dict = {}  # id(StreamReader) -> _Tap, while its body is arriving
_READS = ("read", "readany", "readchunk", "readuntil", "readline", "readexactly")


class _Tap:
    """The body of one recorded response, as fed to its ``StreamReader``."""

    def __init__(self, reader, done, body: tape.Tape, events: list[int]) -> None:
        self.reader = reader  # held, so its id is not reused while the tap is open
        self.done, self.body, self.events = done, body, events
        self.initial, self.marks, self.error = len(events), [], None

    def mark(self) -> None:
        n = len(self.events)
        if self.marks and self.marks[-1][0] == n:
            self.marks[-1][1] += 1  # runs of one value: reading lines of a buffered body
        else:
            self.marks.append([n, 1])

    def finish(self, complete: bool) -> None:
        if self.done is not None:
            done, self.done = self.done, None
            self.reader = None
            done(self, complete)


def _tap(engine, p, key, response) -> None:
    """Starts keeping the response's body; what arrived with the headers is in the reader's
    buffer already (the program has read nothing yet), with the chunk ends aiohttp noted."""
    status, reason, url = response.status, response.reason, str(response.url)
    headers = list(response.headers.items())

    def done(tap: _Tap, complete: bool) -> None:
        result = {"status": status, "reason": reason,
                  "headers": [list(h) for h in masking.headers(headers)], "url": url,
                  "body": tap.body.take(), "events": tap.events, "initial": tap.initial,
                  "marks": tap.marks}
        if chunked or 0 in tap.events:  # HTTP chunk ends were reported
            result["chunked"] = True
        if not complete:
            result["complete"] = False
        if tap.error is not None:
            result["stream_error"] = tap.error
        engine.end(p, result=result, summary=lambda: f"{key} -> {status}")

    content = response.content
    pieces, body = getattr(content, "_buffer", ()), engine.tape()
    splits = getattr(content, "_http_chunk_splits", None)
    chunked = splits is not None
    events, total, ends = [], 0, list(splits or ())
    for piece in pieces:
        body.add(piece)
        events.append(len(piece))
        total += len(piece)
        while ends and ends[0] <= total:
            ends.pop(0)
            events.append(0)
    tap = _Tap(content, done, body, events)
    if getattr(content, "_eof", False):
        tap.finish(True)
    else:
        _TAPS[id(content)] = tap


def _patch_streams(reader, response_cls) -> None:
    """``StreamReader`` reports to the tap of a recorded response: what is fed, and when the
    program reads or wakes up (a dict look-up for every other stream)."""
    orig_data, orig_eof, orig_error = reader.feed_data, reader.feed_eof, reader.set_exception
    orig_split, orig_wait = reader.end_http_chunk_receiving, reader._wait

    def feed_data(self, data, *args, **kwargs):
        tap = _TAPS.get(id(self))
        if tap is not None and data:
            tap.body.add(data)
            tap.events.append(len(data))
        return orig_data(self, data, *args, **kwargs)

    def end_http_chunk_receiving(self):
        tap = _TAPS.get(id(self))
        if tap is not None:
            tap.events.append(0)
        return orig_split(self)

    def feed_eof(self):
        orig_eof(self)
        tap = _TAPS.pop(id(self), None)
        if tap is not None:
            tap.finish(True)

    def set_exception(self, exc, *args, **kwargs):
        tap = _TAPS.pop(id(self), None)
        if tap is not None:  # the body broke off (the connection was lost)
            tap.error = exceptions.describe(exc)
            tap.finish(False)
        return orig_error(self, exc, *args, **kwargs)

    async def _wait(self, func_name):
        try:
            return await orig_wait(self, func_name)
        finally:
            tap = _TAPS.get(id(self))
            if tap is not None:
                tap.mark()

    reader.feed_data, reader.feed_eof, reader.set_exception = feed_data, feed_eof, set_exception
    reader.end_http_chunk_receiving, reader._wait = end_http_chunk_receiving, _wait
    for name in _READS:
        _mark_on(reader, name)
    for name in ("close", "release"):
        _end_on(response_cls, name)


def _mark_on(reader, name: str) -> None:
    orig = getattr(reader, name)

    async def method(self, *args, **kwargs):
        tap = _TAPS.get(id(self))
        if tap is not None:
            tap.mark()
        return await orig(self, *args, **kwargs)

    method.__name__ = name
    setattr(reader, name, method)


def _end_on(response_cls, name: str) -> None:
    """A response closed or released before its body arrived is recorded with what came."""
    orig = getattr(response_cls, name)

    def method(self, *args, **kwargs):
        content = getattr(self, "content", None)
        value = orig(self, *args, **kwargs)
        tap = _TAPS.pop(id(content), None) if content is not None else None
        if tap is not None:
            tap.finish(False)
        return value

    method.__name__ = name
    setattr(response_cls, name, method)


def forget_streams() -> None:
    """A forked child does not record the responses its parent has open."""
    _TAPS.clear()


def finish_streams() -> None:
    """At the end of a capture: bodies still arriving are recorded with what came."""
    for key in list(_TAPS):
        tap = _TAPS.pop(key, None)
        if tap is not None:
            tap.finish(False)


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
        self._body = None
        self.content = _content(result)
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
        if self._body is None:
            self._body = await self.content.read()
        return self._body

    async def text(self, encoding=None, errors="strict") -> str:
        return (await self.read()).decode(encoding or self.charset or "utf-8", errors)

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


class _NoFlow:
    """The protocol a replayed ``StreamReader`` pauses and resumes: there is no socket."""

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


_REPLAY_READER: list = []


def _content(result: dict):
    """A real ``StreamReader`` that is fed the recorded events in the recorded steps."""
    import asyncio

    if not _REPLAY_READER:
        _REPLAY_READER.append(_replay_reader_class(sys.modules["aiohttp.streams"].StreamReader))
    reader = _REPLAY_READER[0](_NoFlow(), 2 ** 16, loop=asyncio.get_running_loop())
    body = result["body"]
    events = result.get("events")
    if events is None:  # a capture made before events were kept: one piece
        events = [len(body)] if body else []
    marks = [n for n, count in result.get("marks") or [] for _ in range(count)]
    if result.get("chunked"):
        reader.begin_http_chunk_receiving()
    # body, events, applied, offset, marks, next mark, the error that ends it (or None)
    reader._ct = [body, events, 0, 0, marks, 0, result.get("stream_error")]
    reader._ct_apply(result.get("initial", len(events)))
    return reader


def _replay_reader_class(base):
    class ReplayReader(base):
        """Feeds itself the recorded events up to the next mark whenever the program starts
        a read or would wait for data (it never waits: everything is in the capture)."""

        __slots__ = ("_ct",)

        def _ct_apply(self, upto: int) -> bool:
            body, events, applied, offset = self._ct[:4]
            start = applied
            while applied < min(upto, len(events)):
                size = events[applied]
                if size:
                    base.feed_data(self, body[offset:offset + size])
                    offset += size
                else:
                    base.end_http_chunk_receiving(self)
                applied += 1
            self._ct[2], self._ct[3] = applied, offset
            if applied >= len(events) and upto > len(events) and not self._eof:
                error, self._ct[6] = self._ct[6], None
                if error is not None:  # it broke off when recorded
                    base.set_exception(self, exceptions.rebuild(error))
                elif self._exception is None:
                    base.feed_eof(self)
                return True
            return applied > start

        def _ct_step(self, waiting: bool = False) -> None:
            marks, i = self._ct[4], self._ct[5]
            self._ct[5] = i + 1
            upto = marks[i] if i < len(marks) else len(self._ct[1]) + 1
            if not self._ct_apply(upto) and waiting:
                self._ct_apply(self._ct[2] + 1)  # a changed program waits for more: go on

        async def _wait(self, func_name):
            self._ct_step(waiting=True)
            if self._exception is not None:  # as a real waiter is woken by set_exception
                raise self._exception

    for name in _READS:
        orig = getattr(base, name)

        def method(self, *args, _orig=orig, **kwargs):
            self._ct_step()
            return _orig(self, *args, **kwargs)

        method.__name__ = name
        setattr(ReplayReader, name, method)
    return ReplayReader
