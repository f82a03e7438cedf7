"""Capture of stdout/stderr writes and stdin reads as trace events.

The proxies forward every call to the real stream first, so the user sees exactly the bytes,
interleaving and terminal behaviour of plain Python (``isatty``, ``fileno``, ``buffer`` and
every other attribute are the real stream's), then record the text as a Write, WriteOther or
Read event attributed to the current step. Writes that bypass ``sys.stdout`` (``os.write``,
``sys.stdout.buffer``) are shown but not recorded.
"""

from __future__ import annotations

import sys

from . import _native


class _StreamProxy:
    """Forwards everything to ``_ct_stream``. ``_ct_kind`` is the stream's name while
    recording and ``None`` once detached: a daemon thread may keep a proxy and write through it
    until the interpreter is gone, long after the trace was closed, so a detached proxy only
    forwards and never calls into the native module again."""

    __slots__ = ("_ct_stream", "_ct_kind")

    def __init__(self, stream, kind: str) -> None:
        object.__setattr__(self, "_ct_stream", stream)
        object.__setattr__(self, "_ct_kind", kind)

    def __getattr__(self, name):
        # Reached only for names the proxy lacks. At interpreter exit the garbage collector may
        # have cleared the slots already; asking for ``self._ct_stream`` here would come back
        # to ``__getattr__`` until RecursionError. Then the proxy is simply closed.
        if name in ("_ct_stream", "_ct_kind"):
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, "_ct_stream"), name)

    def _ct_detach(self) -> None:
        object.__setattr__(self, "_ct_kind", None)

    def __setattr__(self, name, value) -> None:
        setattr(self._ct_stream, name, value)

    def __repr__(self) -> str:
        return repr(self._ct_stream)

    def __enter__(self):
        self._ct_stream.__enter__()
        return self

    def __exit__(self, *exc):
        return self._ct_stream.__exit__(*exc)


class OutputProxy(_StreamProxy):
    __slots__ = ()

    def write(self, text):
        written = self._ct_stream.write(text)
        kind = self._ct_kind
        if kind is not None and isinstance(text, str) and text:
            _native.record_io(kind, text)
        return written

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)


class InputProxy(_StreamProxy):
    __slots__ = ()

    def _seen(self, text):
        if self._ct_kind is not None and isinstance(text, str) and text:
            _native.record_io("stdin", text)
        return text

    def read(self, *args):
        return self._seen(self._ct_stream.read(*args))

    def readline(self, *args):
        return self._seen(self._ct_stream.readline(*args))

    def readlines(self, *args):
        lines = self._ct_stream.readlines(*args)
        for line in lines:
            self._seen(line)
        return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class IOCapture:
    """Installs the proxies on ``sys.stdout``/``stderr``/``stdin`` and removes them again."""

    def __init__(self) -> None:
        self._saved: tuple | None = None
        self._proxies: list[_StreamProxy] = []

    def install(self) -> None:
        self._saved = (sys.stdout, sys.stderr, sys.stdin)
        if sys.stdout is not None:
            sys.stdout = OutputProxy(sys.stdout, "stdout")
            self._proxies.append(sys.stdout)
        if sys.stderr is not None:
            sys.stderr = OutputProxy(sys.stderr, "stderr")
            self._proxies.append(sys.stderr)
        if sys.stdin is not None:
            sys.stdin = InputProxy(sys.stdin, "stdin")
            self._proxies.append(sys.stdin)

    def uninstall(self) -> None:
        """Restores the real streams, unless the program replaced them itself, and detaches
        every proxy (threads that still hold one write straight through)."""
        for proxy in self._proxies:
            proxy._ct_detach()
        self._proxies = []
        if self._saved is None:
            return
        for name, original in zip(("stdout", "stderr", "stdin"), self._saved, strict=True):
            current = getattr(sys, name)
            if isinstance(current, _StreamProxy) and current._ct_stream is original:
                setattr(sys, name, original)
        self._saved = None
