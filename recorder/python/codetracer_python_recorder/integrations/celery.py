"""``enable_celery(app)``: one capture per Celery task run, written by the worker.

    from codetracer_python_recorder.integrations.celery import enable_celery
    enable_celery(app)                      # capture on when CODETRACER_CAPTURE_DIR is set
    enable_celery(app, capture_dir="caps", errors_only=True)

Uses Celery's signals (``task_prerun``, ``task_retry``, ``task_failure``, ``task_postrun``),
which run in the worker's process around the task function, so no task class changes. Each
run writes one file (see ``capture``): task name, id, args, kwargs, retries, the outcome
(``success`` with the result, ``failure`` with the exception and traceback, ``retry`` with
the reason), duration and the dependency calls made by the task. ``errors_only``: only runs
that failed or will be retried are written. Call it where the app is created (the worker
imports that module in its main process; forked pool processes inherit the capture).
"""

from __future__ import annotations

import functools
import os
import sys
import time

from . import capture

_now = time.time
_enabled: dict[int, dict] = {}
#: Two start-ups, each a capture of its own that task captures name (``startup``):
#: - the worker's (``worker``), in the process ``celery worker`` starts: its ``worker_init``
#:   handlers run then; it ends before the first pool process is forked, when the worker is
#:   ready, or at the first task run, whichever comes first (``worker_name``: its file);
#: - a prefork pool process's (``startup``), from its fork to its first task: its
#:   ``worker_process_init`` handlers run then (``pool_child``: this is such a process).
_process: dict = {"startup": None, "pool_child": False, "dir": None, "worker": None,
                  "worker_init": False, "worker_name": None}


def _not_celery_own(call: dict) -> bool:
    return not _celery_own(call.get("site") or "?")


def _pool_process_started() -> None:
    """After a fork (Celery's prefork pool starts each pool process so): what the process
    does before its first task is its start-up, captured apart from every task run. The
    worker's start-up, if still open, is the parent's to write."""
    _process["pool_child"] = True
    _process["worker"] = None
    if _process["dir"] is not None:
        from .startup import Startup

        _process["startup"] = Startup(_process["dir"], framework="celery",
                                      keep=_not_celery_own)


def _worker_starting(**_) -> None:
    """``worker_init``: connected before the app's own handlers (``enable_celery`` runs where
    the app is created), so their calls are the worker start-up's."""
    if _process["dir"] is not None and _process["worker"] is None:
        from .startup import Startup

        _process["worker_init"] = True
        _process["worker"] = Startup(_process["dir"], framework="celery", keep=_not_celery_own)


def _worker_started(**_) -> None:
    """Ends the worker's start-up (written if it made calls)."""
    startup = _process["worker"]
    if startup is not None and startup.scope is not None:
        startup.end()
        _process["worker_name"] = startup.name


def _startup_name() -> str | None:
    """Ends the start-ups at the first task run (written if they made calls); the pool
    process's file name."""
    _worker_started()
    startup = _process["startup"]
    if startup is None:
        return None
    if startup.scope is not None:
        startup.end()
    return startup.name


def enable_celery(app, *, capture_dir: str | None = None, errors_only: bool | None = None,
                  ) -> bool:
    """Connects the capture to ``app``'s tasks. Returns whether capture is on."""
    directory = capture.capture_dir(capture_dir)
    if directory is None or id(app) in _enabled:
        return id(app) in _enabled
    if not capture.ensure_recording():
        return False
    if errors_only is None:
        errors_only = os.environ.get("CODETRACER_CAPTURE_ERRORS_ONLY", "").lower() in (
            "1", "true", "yes", "on")
    from celery import signals

    config = {"dir": os.path.abspath(directory), "errors_only": errors_only, "app": app}
    _enabled[id(app)] = config
    if _process["dir"] is None:  # one start-up per process, whatever the number of apps
        _process["dir"] = config["dir"]
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_pool_process_started)
        signals.worker_init.connect(_worker_starting, weak=False)
        signals.worker_ready.connect(_worker_started, weak=False)
        before_fork = getattr(signals, "worker_before_create_process", None)  # Celery >= 5.3
        if before_fork is not None:
            before_fork.connect(_worker_started, weak=False)
    runs: dict[str, dict] = {}

    def mine(task) -> bool:
        return getattr(task, "app", None) is app and not capture.replaying

    def prerun(sender=None, task_id=None, task=None, args=None, kwargs=None, **_):
        if task is None or not mine(task):
            return
        request = getattr(task, "request", None)
        startup = _startup_name()  # before the task's scope: the start-up's ends here
        runs[task_id] = {
            "startup": startup, "process_init": _process["pool_child"],
            "worker_startup": _process["worker_name"], "worker_init": _process["worker_init"],
            "started_at": _now(), "task": task.name, "id": task_id,
            "args": list(args or ()), "kwargs": dict(kwargs or {}),
            "retries": getattr(request, "retries", 0) or 0,
            "eta": str(getattr(request, "eta", None) or "") or None,
            "scope": capture.open_scope(),
        }

    def retry(sender=None, request=None, reason=None, einfo=None, **_):
        run = runs.get(getattr(request, "id", None))
        if run is not None:
            exc = getattr(reason, "exc", None) or reason
            if isinstance(exc, BaseException):
                run["exception"] = capture.describe_exception(
                    exc, getattr(einfo, "traceback", None))
            else:
                run["exception"] = {"type": "celery.exceptions:Retry", "message": str(reason),
                                    "traceback": getattr(einfo, "traceback", None)}

    def failure(sender=None, task_id=None, exception=None, einfo=None, **_):
        run = runs.get(task_id)
        if run is not None and exception is not None:
            run["exception"] = capture.describe_exception(
                exception, getattr(einfo, "traceback", None))

    def postrun(sender=None, task_id=None, task=None, retval=None, state=None, **_):
        run = runs.pop(task_id, None)
        if run is None:
            return
        scope = run.pop("scope")
        scope.close()
        duration = time.perf_counter() - scope.t0
        outcome = {"SUCCESS": "success", "FAILURE": "failure", "RETRY": "retry"}.get(
            state, (state or "unknown").lower())
        if config["errors_only"] and outcome == "success":
            return
        _write(config["dir"], run, outcome, retval, duration, scope)

    signals.task_prerun.connect(prerun, weak=False)
    signals.task_retry.connect(retry, weak=False)
    signals.task_failure.connect(failure, weak=False)
    signals.task_postrun.connect(postrun, weak=False)
    return True


def _launcher_files() -> frozenset[str]:
    """The worker's launcher: the ``celery`` console script (in the scripts folder, which the
    call-site search does not count as a library)."""
    main = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return frozenset({main, _scripts_dir()})


@functools.lru_cache(maxsize=1)
def _scripts_dir() -> str:
    """Fixed for the interpreter, and ``sysconfig`` takes ~0.2 ms to find it."""
    import sysconfig

    return sysconfig.get_path("scripts") or ""


def _celery_own(site: str) -> bool:
    if site == "?":
        return True
    path = site.rpartition(":")[0]
    launchers = _launcher_files()
    return path in launchers or os.path.dirname(path) in launchers


def _write(directory: str, run: dict, outcome: str, retval, duration: float, scope) -> None:
    """Written at once, in the worker process: a pool process may exit without running
    ``atexit`` handlers, so nothing waits on a background thread."""
    from ..deps import scopes

    calls = scope.records()
    own = [_celery_own(c.get("site") or "?") for c in calls]
    exception = run.get("exception")
    if outcome == "success":
        exception = None
    data = {
        "format": capture.FORMAT, "version": capture.VERSION, "kind": "task",
        "id": run["id"], "started_at": run["started_at"], "duration": round(duration, 6),
        "framework": "celery", "pid": capture.pid, "python": capture.PYTHON,
        "task": {"name": run["task"], "id": run["id"], "args": scopes.encode(run["args"]),
                 "kwargs": scopes.encode(scopes.mask_mapping(run["kwargs"])),
                 "retries": run["retries"], "eta": run["eta"]},
        "outcome": outcome,
        "result": scopes.encode(retval) if outcome == "success" else None,
        "exception": exception,
        "deps": [c for c, mine in zip(calls, own, strict=True) if not mine],
        # Celery's own calls (result backend, broker) run with no frame of the program on the
        # stack; the task does not make them and its replay does not need them
        "celery_calls_left_out": sum(own),
        "startup": run["startup"],
        # a prefork pool process: its worker_process_init handlers ran before this run, and
        # ct replay-task runs them too (their calls answered from the start-up capture)
        "process_init": run["process_init"],
        # the same for the worker's worker_init handlers and its start-up capture
        "worker_startup": run["worker_startup"],
        "worker_init": run["worker_init"],
    }
    name = capture.file_name(run["started_at"], ["task", run["task"]], run["id"] or "noid")
    try:
        capture.write_file(directory, name, data)
    except OSError as exc:
        sys.stderr.write(f"codetracer capture: cannot write {name} in {directory}: {exc}\n")
