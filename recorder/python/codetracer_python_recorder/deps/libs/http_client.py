"""``http.client``: one layer under urllib, urllib3, requests and botocore.

Record: the bytes the program sends are kept per connection (request line, headers, body);
the response body streams to the program as it reads it (``stream=True``, ``iter_content``,
urllib3's ``preload_content=False``) and is kept on the way, chunk framing included, so a
replay gives a chunk reader the server's chunks again (``Content-Encoding`` untouched). The
call is recorded when the body ends or the response is closed. Replay: ``connect`` and ``send`` touch no socket;
``getresponse`` builds the response from the capture. Connects are recorded as
``CONNECT scheme://host:port`` (FIFO like any key), so a failed connect is raised again at
the same point of a replay; a replay that connects more often than the recording (a pool
that kept no socket) finds no record and connects to nothing. Key:
``METHOD scheme://host:port/path?query`` with secret query values masked.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from email.message import compat32

from .. import exceptions, masking, state, store, tape
from ..replay import Miss

CATEGORY = "http"
LIBRARY = "http.client"
_ATTR = "_ct_deps_request"


class _Request:
    """One request as the program sends it (``buf``: its bytes so far). In record mode, also
    the exchange: the request and its response as snapshots the program cannot change, whose
    methods are the record's fields (``record`` module), so the key, masking and header
    parsing wait until the record is written, after the program has its response."""

    __slots__ = ("method", "url", "buf", "start", "origin", "raw", "_keyed", "engine",
                 "pending", "status", "reason", "version", "chunked", "length", "headers",
                 "policy", "wire", "eof", "error")

    def __init__(self, method: str, url: str, start) -> None:
        self.method, self.url, self.buf, self.start, self._keyed = method, url, bytearray(), \
            start, None

    def _key_and_match(self) -> tuple[str, dict]:
        if self._keyed is None:
            self._keyed = _key_and_match(self.origin, self.method, self.url, self.raw)
        return self._keyed

    def key(self) -> str:
        return self._key_and_match()[0]

    def match(self) -> dict:
        return self._key_and_match()[1]

    def request(self) -> dict:
        return _request_record(self.method, self.url, self.raw)

    def done(self, wire: bytes | tape.Spilled, eof: bool, error: OSError | None) -> None:
        """The response ended or was closed: ``wire`` is what the program read, ``error``
        what broke the body off (a reset connection), if anything."""
        self.wire, self.eof, self.error = wire, eof, error
        self.engine.end(self.pending, result=self.result, summary=self.summary)

    def result(self) -> dict:
        result = _result_of(self.status, self.reason, self.version, self.headers, self.policy,
                            self.wire, self.method, self.chunked, self.length, self.eof)
        if self.error is not None:
            result["stream_error"] = exceptions.describe(self.error)
        return result

    def summary(self) -> str:
        return f"{self.key()} -> {self.status}"


class _BytesSocket:
    """What ``HTTPResponse`` reads a rebuilt response from."""

    def __init__(self, raw: bytes, error: dict | None = None) -> None:
        self._raw, self._error = raw, error

    def makefile(self, *args, **kwargs):
        return io.BytesIO(self._raw) if self._error is None else _BrokenOff(self._raw,
                                                                              self._error)


class _BrokenOff(io.BytesIO):
    """A rebuilt response whose body was broken off when recorded: its bytes, then the
    recorded error (a reset connection) where the end would be."""

    def __init__(self, raw: bytes, error: dict) -> None:
        super().__init__(raw)
        self._error = error

    def _check(self, data, asked):
        if not data and asked:
            raise exceptions.rebuild(self._error)
        return data

    def read(self, n=-1):
        return self._check(super().read(n), n)

    def read1(self, n=-1):
        return self._check(super().read1(n), n)

    def readline(self, limit=-1):
        return self._check(super().readline(limit), limit)

    def readinto(self, buffer):
        return self._check(super().readinto(buffer), len(buffer))


class _ReplaySocket:
    """Stands in for a connected socket during replay (urllib3 sets timeouts on it and polls
    it for readability); its descriptor is the read end of a pipe nobody writes to."""

    _fd: int | None = None

    def fileno(self) -> int:
        if _ReplaySocket._fd is None:
            _ReplaySocket._fd = os.pipe()[0]
        return _ReplaySocket._fd

    def settimeout(self, timeout) -> None:
        pass

    def gettimeout(self):
        return None

    def setsockopt(self, *args) -> None:
        pass

    def shutdown(self, how) -> None:
        pass

    def close(self) -> None:
        pass


def _scheme(conn) -> str:
    return "https" if getattr(conn, "default_port", 80) == 443 else "http"


def _origin(conn) -> str:
    return f"{_scheme(conn)}://{conn.host}:{conn.port}"


def _key_and_match(origin: str, method: str, url: str, raw: bytes) -> tuple[str, dict]:
    if "://" in url:  # absolute form (proxies)
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        origin, path, query = f"{parts.scheme}://{parts.netloc}", parts.path or "/", parts.query
    else:
        path, _, query = url.partition("?")
    query = masking.query(query)
    key = f"{method} {origin}{path}" + (f"?{query}" if query else "")
    head, body = _split(raw)
    match = {"method": method, "origin": origin, "path": path, "query": query,
             "body": hashlib.sha256(_masked_body(head, body)).hexdigest()[:16] if body else ""}
    return key, match


def _record_response(engine, conn, req: _Request, orig_getresponse):
    """Record mode: the program gets the live response, its body streamed through a
    :class:`_Tee`; the call is recorded when the body ends (or the response is closed, or the
    capture finishes)."""
    req.origin, req.raw, req.engine = _origin(conn), bytes(req.buf), engine
    req.pending = p = engine.begin(CATEGORY, LIBRARY, req.key, req.request, req.match,
                                   start=req.start)
    engine.idle()  # the request is on its way: write queued records while the server works
    try:
        response = orig_getresponse(conn)
        req.status, req.reason, req.version = response.status, response.reason, \
            response.version
        req.chunked, req.length = response.chunked, response.length
        msg = response.msg
        raw_headers = getattr(msg, "_headers", None)
        if type(raw_headers) is list:  # an email Message: its policy parses them later
            req.headers, req.policy = tuple(raw_headers), msg.policy
        else:
            req.headers, req.policy = msg.items(), None
    except BaseException as exc:
        engine.end(p, error=exc)
        raise
    if response.fp is None:
        req.done(b"", True, None)
    else:
        response.fp = _Tee(response.fp, req.done, engine.tape())
    return response


class _Tee:
    """Record mode: the response's socket file. Whatever the program reads (through
    http.client, urllib3's own chunk reader, ``read``, ``read1``, ``readinto``, ``readline``)
    passes through unchanged and is kept; when the response closes its file (the body ended,
    or the program closed it early) the kept bytes become the record. The body is never read
    ahead of the program, so a long or endless stream behaves as without capture."""

    def __init__(self, fp, done, wire: tape.Tape) -> None:
        self._fp, self._done, self._wire, self._eof, self._error = fp, done, wire, False, None
        _OPEN.add(self)

    def _keep(self, data, asked=1):
        if data:
            self._wire.add(data)
        elif asked:
            self._eof = True
        return data

    def read(self, n=-1):
        try:
            return self._keep(self._fp.read(n) if n is not None else self._fp.read(), n)
        except OSError as exc:
            self._error = exc  # the body broke off here (a reset connection)
            raise

    def read1(self, n=-1):
        try:
            return self._keep(self._fp.read1(n), n)
        except OSError as exc:
            self._error = exc
            raise

    def readline(self, limit=-1):
        try:
            return self._keep(self._fp.readline(limit), limit)
        except OSError as exc:
            self._error = exc
            raise

    def readinto(self, buffer) -> int:
        try:
            n = self._fp.readinto(buffer)
        except OSError as exc:
            self._error = exc
            raise
        if n:
            self._wire.add(memoryview(buffer)[:n])
        elif len(buffer):
            self._eof = True
        return n

    def peek(self, n=0):
        return self._fp.peek(n)

    def close(self) -> None:
        try:
            self._fp.close()
        finally:
            self.finish()

    def finish(self) -> None:
        """Records what was read (idempotent)."""
        if self._done is not None:
            done, self._done = self._done, None
            _OPEN.discard(self)
            done(self._wire.take(), self._eof, self._error)

    def __getattr__(self, name):
        return getattr(self._fp, name)


_OPEN: set = set()  # tees whose response is still open


def forget_streams() -> None:
    """A forked child does not record the responses its parent has open."""
    _OPEN.clear()


def finish_streams() -> None:
    """At the end of a capture: responses still open are recorded with what was read."""
    for tee in list(_OPEN):
        tee.finish()


class _Dechunker:
    """Chunked framing -> payload, fed in pieces (a spilled body is read back in blocks):
    ``sizes`` of the chunks as sent (the last one as far as it came), ``complete`` once the
    last chunk arrived. Broken framing ends it where it broke."""

    _LINE_MAX = 64 * 1024  # a size line longer than this is not chunked framing

    def __init__(self, out: tape.Tape) -> None:
        self.out, self.sizes, self.complete = out, [], False
        self._line, self._left, self._skip, self._ended = b"", 0, 0, False

    def feed(self, data: bytes) -> None:
        if self._line:  # a size line began in the last piece
            data, self._line = self._line + data, b""
        pos, n = 0, len(data)
        while pos < n and not self._ended:
            if self._left:
                piece = data[pos:pos + self._left]
                self.out.add(piece)
                self.sizes[-1] += len(piece)
                self._left -= len(piece)
                pos += len(piece)
                self._skip = 0 if self._left else 2
            elif self._skip:
                step = min(self._skip, n - pos)
                self._skip -= step
                pos += step
            else:
                end = data.find(b"\r\n", pos)
                if end < 0:
                    self._line = data[pos:]
                    self._ended = len(self._line) > self._LINE_MAX
                    return
                line, pos = data[pos:end], end + 2
                try:
                    size = int(line.split(b";", 1)[0].strip() or b"x", 16)
                except ValueError:
                    self._ended = True
                    return
                if size == 0:
                    self.complete = self._ended = True
                    return
                self.sizes.append(0)
                self._left = size


def _dechunk(wire) -> tuple[bytes | tape.Spilled, list[int], bool]:
    """A chunked body as sent -> (payload, chunk sizes, whether the last chunk arrived).
    ``wire``: bytes, or a spilled file, which is read back in blocks and removed (the payload
    of a long one is spilled beside it)."""
    spilled = isinstance(wire, tape.Spilled)
    dechunker = _Dechunker(tape.Tape(os.path.dirname(wire.path) if spilled else None,
                                     store.SIDE_FILE_BYTES))
    if spilled:
        for block in wire.blocks():
            dechunker.feed(block)
        tape.discard(wire)
    else:
        dechunker.feed(wire)
    return dechunker.out.take(), dechunker.sizes, dechunker.complete


def _split(raw: bytes) -> tuple[bytes, bytes]:
    head, sep, body = raw.partition(b"\r\n\r\n")
    return (head, body) if sep else (raw, b"")


_PARSED_HEADERS: dict[bytes, tuple[tuple[str, str], ...]] = {}


def _header_pairs(head: bytes) -> tuple[tuple[str, str], ...]:
    """A request head's header lines as (name, value) pairs, parsed once per distinct lines:
    a client sends the same headers on every call, only its request line changes."""
    start = head.find(b"\r\n")
    if start < 0:
        return ()
    lines = head[start:]
    pairs = _PARSED_HEADERS.get(lines)
    if pairs is None:
        if len(_PARSED_HEADERS) >= 256:  # heads with per-call values: keep it small
            _PARSED_HEADERS.clear()
        pairs = _PARSED_HEADERS[lines] = tuple(
            (name.decode("latin-1").strip(), value.decode("latin-1").strip())
            for name, sep, value in (line.partition(b":") for line in lines.split(b"\r\n"))
            if sep)
    return pairs


def _masked_body(head: bytes, body: bytes) -> bytes:
    """A JSON body with secret fields masked; other bodies as they are."""
    if body[:1] not in (b"{", b"["):
        return body
    try:
        value = json.loads(body)
    except ValueError:
        return body
    masked = masking.mapping(value)
    return body if masked == value else json.dumps(masked).encode()


def _request_record(method: str, url: str, raw: bytes) -> dict:
    head, body = _split(raw)
    path, sep, query = url.partition("?")
    return {"method": method, "url": path + sep + masking.query(query),
            "headers": masking.header_lists(_header_pairs(head)),
            "body": _masked_body(head, body)}


def _raw_response(result: dict) -> bytes:
    version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(result.get("version"), "HTTP/1.1")
    lines = [f"{version} {result['status']} {result.get('reason', '')}"]
    lines += [f"{k}: {v}" for k, v in result["headers"]]
    body = result["body"]
    if "chunks" in result:  # the server's chunks again, so a chunk reader sees the same ones
        framed, pos = bytearray(), 0
        for size in result["chunks"]:
            framed += b"%x\r\n" % size + body[pos:pos + size] + b"\r\n"
            pos += size
        if result.get("complete", True):
            framed += b"0\r\n\r\n"
        body = bytes(framed)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _rebuild(http_client, conn, result: dict):
    response = http_client.HTTPResponse(
        _BytesSocket(_raw_response(result), result.get("stream_error")),
        method=getattr(conn, "_method", None))
    response.begin()
    return response


def _result_of(status, reason, version, items, policy, wire: bytes | tape.Spilled, method: str,
               chunked: bool, length, eof: bool) -> dict:
    """The recorded result: ``body`` is the payload; a chunked body keeps its chunk sizes
    (``chunks``) and ``Transfer-Encoding``; a body the program stopped reading early is
    ``"complete": false`` and keeps the announced ``Content-Length``. ``items``: the response
    headers, raw from an email ``Message`` when ``policy`` is its policy (what ``items()``
    returns is parsed here), else as ``items()`` returned them."""
    if chunked:
        body, sizes, complete = _dechunk(wire)
    else:
        body, sizes = wire, None
        complete = len(body) == length if length is not None else eof or method == "HEAD"
    whole = method != "HEAD" and complete
    dropped = ("transfer-encoding" if not chunked else None,  # None matches no lower name
               "content-length" if whole else None)
    if policy is not None:  # compat32 (http.client's) returns a str free of surrogates as it is
        fetch, same = policy.header_fetch_parse, policy is compat32
        items = ((k, v if same and type(v) is str and v.isascii() else fetch(k, v))
                 for k, v in items)
    items = [(k, v) for k, v in items if k.lower() not in dropped]
    if whole and not chunked:
        items.append(("Content-Length", str(len(body))))
    headers = masking.header_lists(items)
    result = {"status": status, "reason": reason, "version": version, "headers": headers,
              "body": body}
    if sizes is not None:
        result["chunks"] = sizes
    if not complete:
        result["complete"] = False
    return result


def patch(module) -> None:
    """Patches ``http.client`` (or the ``connect`` of ``urllib3.connection``'s classes)."""
    http_client = sys.modules["http.client"]  # loaded first: urllib3 imports it
    base = http_client.HTTPConnection
    if not getattr(base, "_ct_deps_patched", False):
        _patch_base(http_client, base)
    _patch_connects(base)


def _patch_base(http_client, base) -> None:
    orig_putrequest, orig_send, orig_getresponse = base.putrequest, base.send, base.getresponse

    def putrequest(self, method, url, *args, **kwargs):
        engine = state.engine
        if engine is not None:
            start = engine.reserve() if engine.mode == "record" else None
            setattr(self, _ATTR, _Request(method, url, start))
        return orig_putrequest(self, method, url, *args, **kwargs)

    def send(self, data):
        engine, req = state.engine, getattr(self, _ATTR, None)
        if engine is None or req is None or getattr(self, "_ct_deps_live", False):
            return orig_send(self, data)
        if hasattr(data, "read"):
            data = data.read()
            data = data.encode("iso-8859-1") if isinstance(data, str) else data
        if isinstance(data, (bytes, bytearray, memoryview)):
            req.buf += data
        if engine.mode == "record":
            return orig_send(self, data)
        if self.sock is None and self.auto_open:
            self.connect()  # raises a recorded connect error, else touches nothing

    def getresponse(self):
        engine, req = state.engine, getattr(self, _ATTR, None)
        if engine is None or req is None:
            return orig_getresponse(self)
        setattr(self, _ATTR, None)
        if engine.mode == "record":
            return _record_response(engine, self, req, orig_getresponse)
        key, match = _key_and_match(_origin(self), req.method, req.url, bytes(req.buf))
        try:
            record = engine.answer(CATEGORY, key, match)
        except Miss:
            self._HTTPConnection__state = http_client._CS_IDLE
            raise ConnectionRefusedError(
                111, f"Connection refused (codetracer replay has no recorded {key})") from None
        if record is None:  # --deps-miss live
            self._ct_deps_live = True
            try:
                if self.sock is None or isinstance(self.sock, _ReplaySocket):
                    self.sock = None
                    self.connect()
                orig_send(self, bytes(req.buf))
                return orig_getresponse(self)
            finally:
                self._ct_deps_live = False
        self._HTTPConnection__state = http_client._CS_IDLE
        self._HTTPConnection__response = None
        response = _rebuild(http_client, self, engine.result(record))
        if response.will_close:
            self.close()  # as http.client does: the next request connects (and replays that)
        return response

    base.putrequest, base.send, base.getresponse = putrequest, send, getresponse
    base._ct_deps_patched = True


def _subclasses(cls):
    yield cls
    for sub in cls.__subclasses__():
        yield from _subclasses(sub)


def _patch_connects(base) -> None:
    """Every class that defines its own ``connect`` (http.client's HTTPS, urllib3's)."""
    for cls in _subclasses(base):
        if "connect" in cls.__dict__ and not getattr(cls.__dict__["connect"], "_ct_deps", False):
            cls.connect = _connect_wrapper(cls.__dict__["connect"])


def _connect_wrapper(orig):
    def connect(self):
        engine = state.engine
        if engine is None or getattr(self, "_ct_deps_live", False) or getattr(
                self, "_ct_deps_connecting", False):
            return orig(self)
        key = f"CONNECT {_origin(self)}"
        if engine.mode == "record":
            self._ct_deps_connecting = True
            p = engine.begin(CATEGORY, LIBRARY, key)
            try:
                value = orig(self)
            except BaseException as exc:
                engine.end(p, error=exc)
                raise
            finally:
                self._ct_deps_connecting = False
            engine.end(p, summary=f"{key} -> connected")
            return value
        record = engine.take(CATEGORY, key, "")
        if record is not None and "error" in record:
            engine.result(record)  # raises the recorded error
        self.sock = _ReplaySocket()
        if hasattr(self, "is_verified"):  # urllib3 warns about unverified HTTPS otherwise
            self.is_verified = True

    connect._ct_deps = True
    return connect
