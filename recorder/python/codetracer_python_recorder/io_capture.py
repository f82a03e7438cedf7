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
    __slots__ = ("_ct_stream", "_ct_kind")

    def __init__(self, stream, kind: str) -> None:
        object.__setattr__(self, "_ct_stream", stream)
        object.__setattr__(self, "_ct_kind", kind)

    def __getattr__(self, name):
        return getattr(self._ct_stream, name)

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
        if isinstance(text, str) and text:
            _native.record_io(self._ct_kind, text)
        return written

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)


class InputProxy(_StreamProxy):
    __slots__ = ()

    def _seen(self, text):
        if isinstance(text, str) and text:
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

    def install(self) -> None:
        self._saved = (sys.stdout, sys.stderr, sys.stdin)
        if sys.stdout is not None:
            sys.stdout = OutputProxy(sys.stdout, "stdout")
        if sys.stderr is not None:
            sys.stderr = OutputProxy(sys.stderr, "stderr")
        if sys.stdin is not None:
            sys.stdin = InputProxy(sys.stdin, "stdin")

    def uninstall(self) -> None:
        """Restores the real streams, unless the program replaced them itself."""
        if self._saved is None:
            return
        for name, original in zip(("stdout", "stderr", "stdin"), self._saved, strict=True):
            current = getattr(sys, name)
            if isinstance(current, _StreamProxy) and current._ct_stream is original:
                setattr(sys, name, original)
        self._saved = None
