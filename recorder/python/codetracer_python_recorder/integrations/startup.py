"""The app's start-up as a capture of its own (``"kind": "startup"``).

Dependency calls made while the ASGI lifespan starts up (a connection pool opened, a cache
warmed), or while a Celery pool process starts (its ``worker_process_init`` handlers), belong
to no request or task run, so they are in no request's or task's capture. They go to a
start-up capture instead, written once per process when the start-up made calls; each
request or task capture of that process names it (``"startup"``), and ``ct replay-request`` /
``ct replay-task`` answer the start-up's calls from it when they run the start-up again
first. Calls made later outside any request or task run are in no capture.
"""

from __future__ import annotations

import os
import sys
import time

from . import capture

_now = time.time


class Startup:
    """Collects the calls of one lifespan start-up; ``end()`` writes them."""

    def __init__(self, directory: str, framework: str = "asgi", keep=None) -> None:
        self.directory = directory
        self.framework = framework
        self.keep = keep  # which call records to write (default: all)
        self.name: str | None = None  # the file written, named in request captures
        self.started_at = _now()
        self.scope = capture.open_scope()

    def end(self, message: dict | None = None) -> None:
        """At ``lifespan.startup.complete`` (or ``.failed``: ``message``), or before a pool
        process's first task, in the start-up's context. Written at once (not queued): it must
        exist before the first request or task capture names it."""
        scope, self.scope = self.scope, None
        if scope is None:
            return
        scope.close()
        calls = [c for c in scope.records() if self.keep is None or self.keep(c)]
        if not calls:
            return
        failed = (message or {}).get("type") == "lifespan.startup.failed"
        # at most 12 characters: the file name keeps it whole
        ident = f"{os.getpid():x}s{int(self.started_at * 1000) % 0xFFFF:04x}"
        data = {
            "format": capture.FORMAT, "version": capture.VERSION, "kind": "startup",
            "id": ident, "started_at": self.started_at,
            "duration": round(time.perf_counter() - scope.t0, 6), "pid": os.getpid(),
            "framework": self.framework,
            "python": ".".join(map(str, sys.version_info[:3])),
            "outcome": "failure" if failed else "success",
            "exception": {"type": "lifespan.startup.failed", "message": (message or {}).get(
                "message") or "", "traceback": None} if failed else None,
            "deps": calls,
        }
        name = capture.file_name(self.started_at, ["startup"], ident)
        try:
            capture.write_file(self.directory, name, data)
        except OSError as exc:
            sys.stderr.write(f"codetracer capture: cannot write {name} in {self.directory}: "
                             f"{exc}\n")
            return
        self.name = name
