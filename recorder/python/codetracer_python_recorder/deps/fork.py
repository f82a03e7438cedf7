"""Forked children (``os.fork``, multiprocessing's fork start): each process its own capture.
Children started by multiprocessing's ``spawn`` get their place the same way (``spawn``).

Every process has a place in the fork tree: the program is ``""``, its first fork ``"1"``, that
child's second fork ``"1.2"``. The counting happens in the parent just before each fork, so a
re-run of the same program gives its children the same ids (``subprocess`` does not fork
through Python and does not count).

Record: a child's calls go to ``deps.fork-<id>.jsonl`` beside the parent's ``deps.jsonl``,
written by the child alone, so no two processes ever append to one file and the parent's
stream stays whole. The child writes each record when its call ends (no writer thread: a
child often leaves by ``os._exit``, which runs no clean-up); its copy of the parent's writer
ignores the child (the native sink belongs to the process that made it), so the parent's
unwritten lines can never reach the parent's file twice.

Replay: a child answers from the capture with its own id; a call that capture lacks is taken
from its siblings' (a ``multiprocessing.Pool`` hands tasks to whichever worker is free, so
which worker made a call differs from run to run); only then is it a miss.
"""

from __future__ import annotations

import os
import re
import sys

from .. import own_threads
from . import state, store

PREFIX = "deps.fork-"
_NAME = re.compile(r"deps\.fork-(\d+(?:\.\d+)*)\.jsonl")

_path = ""  # this process's place in the fork tree
_forks = 0  # forks made by this process so far
_installed = False


def file_name(fork_id: str) -> str:
    return f"{PREFIX}{fork_id}.jsonl"


def fork_id() -> str:
    return _path


def install() -> None:
    """Counts forks and gives each child its capture (record) or its answers (replay)."""
    global _installed
    if _installed or not hasattr(os, "register_at_fork"):
        return
    _installed = True
    os.register_at_fork(before=_before, after_in_child=_in_child)
    own_threads.hide_fork_warning()  # the capture writer is a thread of the recorder's


def _before() -> None:
    """Counts the fork."""
    global _forks
    _forks += 1


def next_child() -> str:
    """Counts a child this process starts without forking (``spawn``) and returns its id."""
    global _forks
    _forks += 1
    return f"{_path}.{_forks}" if _path else str(_forks)


def become(child_id: str) -> None:
    """This process is the child ``child_id`` (a spawned child learns it from its parent)."""
    global _path, _forks
    _path, _forks = child_id, 0


def writer_path(engine) -> str | None:
    """Where the process-wide capture goes (``None``: per-scope capture only)."""
    parent = getattr(engine.writer, "fallback", engine.writer)  # a per-scope writer wraps it
    return getattr(parent, "path", None)


def child_writer(folder: str) -> store.Writer:
    """This child's own capture file in ``folder``, written record by record."""
    return store.Writer(os.path.join(folder, file_name(_path)),
                        {"fork": _path, "pid": os.getpid(), "parent_pid": os.getppid()},
                        background=False)


def _in_child() -> None:
    become(f"{_path}.{_forks}" if _path else str(_forks))
    engine = state.engine
    if engine is None:
        return
    try:
        if engine.mode == "record":
            _record_in_child(engine)
        elif engine.mode == "replay":
            _replay_in_child(engine)
    except Exception as exc:  # noqa: BLE001 - the child must run even if its capture cannot
        sys.stderr.write(f"codetracer deps: forked process {os.getpid()} ({_path}) is not "
                         f"{'captured' if engine.mode == 'record' else 'replayed'}: "
                         f"{type(exc).__name__}: {exc}\n")
        if engine.mode == "record":
            _detach(engine, None)


# --- record ---------------------------------------------------------------------------------

def _record_in_child(engine) -> None:
    from .libs import forget_streams

    forget_streams()  # the responses the parent has open are the parent's to record
    path = writer_path(engine)
    if path is None:  # per-scope capture only: nothing of the process-wide kind to continue
        return
    _detach(engine, child_writer(os.path.dirname(path)))
    engine.calls = 0


def _detach(engine, child) -> None:
    if hasattr(engine.writer, "fallback"):
        engine.writer.fallback = child
    elif child is not None:
        engine.writer = child
    else:
        state.engine = None


# --- replay ---------------------------------------------------------------------------------

def _replay_in_child(engine) -> None:
    if engine.source:
        engine.forked(*child_records(engine.source))


def child_records(source: str) -> tuple[list[dict], list[dict]]:
    """This child's recorded calls and its siblings', from the capture files beside the
    replayed capture ``source``."""
    folder = os.path.dirname(store.resolve(source))
    own, siblings = [], []
    parent = _path.rpartition(".")[0]
    for name in sorted(os.listdir(folder)):
        m = _NAME.fullmatch(name)
        if m is None or m.group(1).rpartition(".")[0] != parent:
            continue
        _header, records = store.load(os.path.join(folder, name))
        (own if m.group(1) == _path else siblings).extend(records)
    return own, siblings


def capture_files(path: str) -> list[tuple[str, str]]:
    """``(fork id, file)`` of every forked child's capture beside the capture at ``path``,
    in fork-tree order."""
    folder = os.path.dirname(store.resolve(path))
    found = [(m.group(1), os.path.join(folder, name)) for name in os.listdir(folder)
             if (m := _NAME.fullmatch(name))]
    return sorted(found, key=lambda f: [int(p) for p in f[0].split(".")])
