"""Threads carry the scope they were started from (per-scope capture only).

A thread starts with an empty :mod:`contextvars` context, and ``ThreadPoolExecutor`` (which
``loop.run_in_executor`` uses) runs work items without the submitter's context, so calls a
request or task makes through them would belong to no scope, be missing from its capture,
and miss when it is replayed. With these two wrappers a work item runs in its submitter's
context and a thread started inside a scope runs in that scope. A closed scope takes no more
calls, so a thread that outlives its request adds nothing to it. ``asyncio.to_thread`` and
Starlette's threadpool copy the context already.
"""

from __future__ import annotations

import contextvars
import functools
import threading
from concurrent import futures

_installed = False


def install(current: contextvars.ContextVar) -> None:
    """Wraps ``Thread.start`` and ``ThreadPoolExecutor.submit`` once per process."""
    global _installed
    if _installed:
        return
    _installed = True
    start = threading.Thread.start
    submit = futures.ThreadPoolExecutor.submit

    @functools.wraps(start)
    def start_in_scope(self, *args, **kwargs):
        scope = current.get()
        if scope is not None and not scope.closed:
            run = self.run

            def run_in_scope():
                current.set(scope)  # the new thread's own context
                run()

            self.run = run_in_scope
        return start(self, *args, **kwargs)

    @functools.wraps(submit)
    def submit_in_context(self, fn, /, *args, **kwargs):
        # always the submitter's context, none included: a pool thread started inside a
        # scope holds that scope, which must not reach other submitters' work
        return submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    threading.Thread.start = start_in_scope
    futures.ThreadPoolExecutor.submit = submit_in_context
