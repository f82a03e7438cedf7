"""Run a script under do-nothing sys.monitoring callbacks: the floor CPython itself imposes.

Usage: python floor_launcher.py SCRIPT [ARGS...]

Registers a Python callback returning None (never DISABLE, so every event keeps firing) for the
same events our recorder uses, then runs SCRIPT like `python SCRIPT` would (argv, sys.path[0],
__main__). With BENCH_FLOOR_COUNT=FILE the callbacks count events instead and write
"TOTAL USER" to FILE at exit (USER = events in code under the script's directory); the suite
uses those counts to predict upstream run times.
This file is standalone on purpose: it is started by the interpreter under test, not imported.
"""
import os
import runpy
import sys

TOOL_NAME = "bench-floor"
EVENT_NAMES = (
    "PY_START", "PY_RETURN", "PY_YIELD", "PY_RESUME", "PY_THROW", "PY_UNWIND",
    "LINE", "RAISE", "RERAISE", "EXCEPTION_HANDLED",
)


def _noop(*args):
    return None


def install(callback=_noop):
    """Claim a free tool id and register `callback` for every event in EVENT_NAMES."""
    mon = sys.monitoring
    for tool_id in (mon.PROFILER_ID, mon.OPTIMIZER_ID, 3, 4):
        if mon.get_tool(tool_id) is None:
            break
    else:
        raise SystemExit("floor_launcher: every sys.monitoring tool id is taken")
    mon.use_tool_id(tool_id, TOOL_NAME)
    mask = 0
    for name in EVENT_NAMES:
        event = getattr(mon.events, name)
        mon.register_callback(tool_id, event, callback)
        mask |= event
    mon.set_events(tool_id, mask)
    return tool_id


def _counting_callback(path, user_dir):
    import atexit

    counter = [0, 0]
    prefix = os.path.join(user_dir, "")

    def count(code, *args):
        counter[0] += 1
        if code.co_filename.startswith(prefix):
            counter[1] += 1

    def dump():
        with open(path, "w") as fh:
            fh.write(f"{counter[0]} {counter[1]}")

    atexit.register(dump)
    return count


def main():
    if len(sys.argv) < 2:
        raise SystemExit("usage: floor_launcher.py SCRIPT [ARGS...]")
    script = sys.argv[1]
    count_file = os.environ.pop("BENCH_FLOOR_COUNT", None)
    sys.argv = sys.argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    install(_counting_callback(count_file, sys.path[0]) if count_file else _noop)
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
