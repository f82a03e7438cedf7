"""Record mode: run each call for real and write what happened to the capture.

A call gets its ``seq`` (start order) when it starts and is written when it ends, with its
masked request, result or error, duration, thread, task and call site. Fields that take work
to build (keys, masking, header parsing) may be passed as functions of immutable data: the
writer thread computes them, so the program's thread only takes a snapshot.
"""

from __future__ import annotations

import itertools
import time

from . import context, events, exceptions, store, tape


class Pending:
    __slots__ = ("seq", "category", "library", "key", "request", "match", "t0", "thread", "task",
                 "site")


class Recorder:
    mode = "record"

    def __init__(self, writer: store.Writer) -> None:
        self.writer = writer
        self._seq = itertools.count(1)
        self._t0 = time.perf_counter()
        self.calls = 0

    def reserve(self) -> tuple[int, float]:
        """A start number and time taken when a call starts but its key is not known yet.
        ``next()`` of an ``itertools.count`` is atomic under the GIL: no lock needed."""
        return next(self._seq), time.perf_counter()

    def begin(self, category, library, key, request=None, match=None, *, start=None) -> Pending:
        p = Pending()
        if start is None:
            p.seq, p.t0 = next(self._seq), time.perf_counter()  # reserve(), without a call
        else:
            p.seq, p.t0 = start
        p.category, p.library, p.key = category, library, key
        p.request, p.match = request, match
        p.thread, p.task, p.site = context.thread_name(), context.task_name(), context.call_site()
        return p

    def end(self, p: Pending, *, result=None, error: BaseException | None = None,
            summary="") -> None:
        """``summary``: the trace event's text, or a function building it (called only when
        a trace is recorded)."""
        t1 = time.perf_counter()
        record = {
            "seq": p.seq, "category": p.category, "library": p.library, "key": p.key,
            "start": p.t0 - self._t0, "duration": t1 - p.t0,
            "thread": p.thread, "task": p.task, "site": p.site, "request": p.request,
        }
        if p.match:
            record["match"] = p.match
        if error is not None:
            record["error"] = exceptions.describe(error)
            summary = f"-> {type(error).__name__}: {error}"
        else:
            record["result"] = result  # the library's snapshot; encoded by the writer thread
        self.calls += 1
        self.writer.write(record)
        if events.active():
            key = p.key() if callable(p.key) else p.key
            if callable(summary):
                summary = summary()
            events.emit(p.category, f"{key} {summary}" if summary.startswith("->") else
                        summary or key)

    def tape(self) -> tape.Tape:
        """Where a streamed body is kept as the program reads it: spilled into the capture's
        side-file folder past ``store.SIDE_FILE_BYTES`` (per-request captures only: memory)."""
        writer = getattr(self.writer, "fallback", self.writer)
        folder = writer.side_folder if writer is not None else None
        return tape.Tape(folder, store.SIDE_FILE_BYTES)

    def idle(self) -> None:
        """The program's thread has sent a request and waits for the answer: a good moment
        to write queued records (see ``store.Writer.drain_some``)."""
        self.writer.drain_some()

    def call(self, category, library, key, live, *, request=None, match=None, to_record=None,
             summarize=None, **_replay_only):
        """Runs ``live()`` and records its value (``to_record(value)``, which must return
        values the program cannot change later; by default a snapshot) or its exception."""
        p = self.begin(category, library, key, request, match)
        try:
            value = live()
        except BaseException as exc:
            self.end(p, error=exc)
            raise
        recorded = to_record(value) if to_record else store.snapshot(value)
        self.end(p, result=recorded, summary=(lambda: summarize(value)) if summarize else "")
        return value

    async def acall(self, category, library, key, live, *, request=None, match=None,
                    to_record=None, summarize=None, **_replay_only):
        """``call`` for a coroutine function ``live``."""
        p = self.begin(category, library, key, request, match)
        try:
            value = await live()
        except BaseException as exc:
            self.end(p, error=exc)
            raise
        recorded = to_record(value) if to_record else store.snapshot(value)
        self.end(p, result=recorded, summary=(lambda: summarize(value)) if summarize else "")
        return value

    def finish(self, exit_status: int | None) -> None:
        self.writer.close({"exit_status": exit_status, "calls": self.calls})
