"""``python -m codetracer_python_recorder.integrations.replay_task CAPTURE --app module:celery_app``

Runs one captured Celery task run in this process: no broker, no worker. The task function is
called with the recorded args and kwargs (its ``self.request`` carries the recorded id and
retries) and every dependency call is answered from the capture. Then it says whether the
outcome matches: the same result for a successful run, the same exception class and message
for a failed one (or one that was retried). Exit status: 0 matches, 1 differs, 2 usage error.
``ct replay-task`` runs this under the time-travel recorder.
"""

from __future__ import annotations

import json
import sys
import traceback

from . import capture, replay

PROG = "ct replay-task"


def run_task(app, recorded: dict) -> dict:
    from ..deps import scopes

    info = recorded["task"]
    name = info["name"]
    try:
        app.loader.import_default_modules()  # the worker's imports (``include=``, autodiscovery)
    except Exception:  # noqa: BLE001 - the task may still be registered already
        pass
    task = app.tasks.get(name)
    if task is None:
        raise replay.ReplayUsageError(
            f"task {name!r} is not registered in the app given by --app; known tasks: "
            + ", ".join(sorted(t for t in app.tasks if not t.startswith("celery."))[:10]))
    from celery import signals

    if recorded.get("worker_init"):  # the worker's start-up, as ``celery worker`` runs it
        signals.worker_init.send(sender=None)
    if recorded.get("process_init"):  # the recorded run was in a prefork pool process
        signals.worker_process_init.send(sender=None)  # its start-up, as the pool runs it
    args = scopes.decode(info.get("args") or [])
    kwargs = scopes.decode(info.get("kwargs") or {})
    task.push_request(id=info.get("id"), retries=info.get("retries", 0), args=args,
                      kwargs=kwargs, task=name)
    outcome: dict = {"exception": None}
    try:
        outcome["result"] = task.run(*args, **kwargs)
        outcome["outcome"] = "success"
    except Exception as exc:  # noqa: BLE001 - the outcome to compare
        outcome["exception"] = exc
        outcome["traceback"] = traceback.format_exc()
        outcome["outcome"] = "failure"
    finally:
        task.pop_request()
    return outcome


def compare(recorded: dict, outcome: dict) -> tuple[bool, str]:
    from ..deps import scopes

    rec_exc = recorded.get("exception")
    exc = outcome["exception"]
    if recorded.get("outcome") == "success":
        if exc is not None:
            return False, (f"  raised {type(exc).__name__}: {exc}; the recorded run succeeded "
                           f"with {_show(recorded.get('result'))}")
        got = scopes.encode(outcome["result"])
        if got != recorded.get("result"):
            return False, f"  result {_show(got)}, recorded {_show(recorded.get('result'))}"
        return True, ""
    if exc is None:
        return False, (f"  succeeded with {_show(scopes.encode(outcome['result']))}; the "
                       f"recorded run ended in {recorded.get('outcome')}: "
                       f"{(rec_exc or {}).get('type')}: {(rec_exc or {}).get('message')}")
    name = f"{type(exc).__module__}:{type(exc).__qualname__}"
    if rec_exc and (name != rec_exc.get("type") or str(exc) != rec_exc.get("message")):
        return False, (f"  raised {name}: {exc}, recorded {rec_exc.get('type')}: "
                       f"{rec_exc.get('message')}")
    return True, ""


def _show(value) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 200 else text[:197] + "..."


def main(argv: list[str] | None = None) -> int:
    try:
        recorded, engine, app, startup_calls = replay.start(
            argv, prog=PROG, doc=__doc__, kind="task", what="Celery app")
        outcome = run_task(app, recorded)
    except (capture.CaptureFileError, replay.ReplayUsageError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    info = recorded["task"]
    if outcome["exception"] is not None:
        sys.stderr.write(f"{PROG}: task {info['name']} raised:\n{outcome['traceback']}")
    replay.disarm(0)
    same, detail = compare(recorded, outcome)
    calls = len(recorded.get("deps") or []) + startup_calls
    print(f"{PROG}: {info['name']}[{info.get('id')}] -> {outcome['outcome']} (recorded "
          f"{recorded.get('outcome')}); {engine.hits} of {calls} dependency calls answered "
          "from the capture"
          + (f" ({startup_calls} of the worker's start-up)" if startup_calls else "")
          + (f", {engine.misses} missed" if engine.misses else ""))
    print("outcome matches the recording" if same else f"outcome differs:\n{detail}")
    sys.stdout.flush()
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
