"""A response body kept for its record as the program reads it, in bounded memory.

Up to a limit (``store.SIDE_FILE_BYTES``, from which a body is a side file anyway) the bytes
stay in memory; past that they go to a temporary file in the capture's side-file folder,
hashed on the way, and that file becomes the body's side file (``store``) when the record is
written. So a program that streams a download of any size
through a recorded client uses no more memory than without capture. Without a capture folder
(per-request captures only, which embed their bodies) everything stays in memory.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

_BLOCK = 1024 * 1024


class Spilled:
    """A body in a file: ``path`` (a temporary file until the writer renames it to its side
    file's name), ``size`` and ``sha256`` (hex digest)."""

    __slots__ = ("path", "size", "sha256")

    def __init__(self, path: str, size: int, sha256: str) -> None:
        self.path, self.size, self.sha256 = path, size, sha256

    def __len__(self) -> int:
        return self.size

    def read(self) -> bytes:
        """The whole body (for a per-request capture, which embeds it). The writer thread
        may be renaming the file meanwhile: then the new name is read."""
        for _ in range(3):
            path = self.path
            try:
                with open(path, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                if self.path == path:
                    raise
        raise FileNotFoundError(self.path)

    def blocks(self):
        with open(self.path, "rb") as f:
            while block := f.read(_BLOCK):
                yield block


class Lost:
    """A body that could not be kept (its spill file failed); its record says why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __len__(self) -> int:
        return 0


class Tape:
    """Bytes appended as they are read; ``take()`` gives them as ``bytes`` or, past ``limit``
    bytes with a ``folder``, as a :class:`Spilled` file in ``folder``."""

    __slots__ = ("_buf", "_file", "_path", "_hash", "_size", "_folder", "_lost", "_limit")

    def __init__(self, folder: str | None, limit: int) -> None:
        self._buf, self._file, self._path, self._hash = bytearray(), None, None, None
        self._size, self._folder, self._lost, self._limit = 0, folder, None, limit

    def __len__(self) -> int:
        return self._size

    def add(self, data) -> None:
        self._size += len(data)
        if self._file is not None:
            self._hash.update(data)
            try:
                self._file.write(data)
            except OSError as exc:  # a full disk: the program reads on, the body is lost
                self._lose(exc)
            return
        if self._lost is None:
            self._buf += data
            if self._folder is not None and len(self._buf) > self._limit:
                self._spill()

    def _lose(self, exc: OSError) -> None:
        self._lost = f"cannot keep the body in {self._folder}: {exc.strerror or exc}"
        try:
            self._file.close()
        except OSError:
            pass
        _remove(self._path)
        self._file = None

    def _spill(self) -> None:
        try:
            os.makedirs(self._folder, exist_ok=True)
            fd, path = tempfile.mkstemp(dir=self._folder, prefix=".body-", suffix=".part")
        except OSError:
            self._folder = None  # cannot spill (a full or read-only disk): keep it in memory
            return
        self._file, self._path = os.fdopen(fd, "wb"), path
        self._hash = hashlib.sha256(self._buf)
        try:
            self._file.write(self._buf)
        except OSError as exc:
            self._lose(exc)
        self._buf = bytearray()

    def take(self) -> bytes | Spilled | Lost:
        """What was kept; the tape is empty afterwards."""
        if self._lost is not None:
            return Lost(self._lost)
        if self._file is None:
            data, self._buf = bytes(self._buf), bytearray()
            return data
        try:
            self._file.close()
        except OSError as exc:
            self._lose(exc)
            return Lost(self._lost)
        spilled = Spilled(self._path, self._size, self._hash.hexdigest())
        self._file, self._path, self._hash, self._size = None, None, None, 0
        return spilled


def discard(body) -> None:
    """Removes a spilled body's file (once it has been read back, dechunked)."""
    if isinstance(body, Spilled):
        _remove(body.path)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
