"""Children started by multiprocessing's ``spawn`` method (the default on macOS and Windows),
and the server of its ``forkserver`` method: a new interpreter, with nothing of the parent's
capture in it.

The parent counts each such child as ``fork`` counts forks (same ids, same files) and puts what
the child needs at the front of the child's ``-c`` command: where the recorder is, the child's
id, record or replay, where the capture is, the ``[deps]`` settings. Before multiprocessing
runs any of the program's code there, the child starts its own capture into
``deps.fork-<id>.jsonl`` (record), or answers from its own capture and its siblings' (replay);
for a spawned child multiprocessing then puts back the parent's ``sys.path``. A fork server's
children are forks of it, so ``fork`` gives them their place below it.
"""

from __future__ import annotations

import json
import os
import sys

from . import fork, state

_settings: dict | None = None  # the [deps] table the parent applied (``config.apply``)


def remember_settings(settings: dict | None) -> None:
    global _settings
    _settings = settings


def patch(module) -> None:
    """Patches ``multiprocessing.spawn.get_command_line`` (a spawned child's command)."""
    orig = module.get_command_line
    if getattr(orig, "_ct_deps_patched", False):
        return

    def get_command_line(**kwds):
        return _passed_on(orig(**kwds))

    get_command_line._ct_deps_patched = True
    module.get_command_line = get_command_line


def patch_forkserver(module) -> None:
    """Patches the start of multiprocessing's fork server (``util.spawnv_passfds``, which
    also starts the resource tracker: that one is left as it is)."""
    util = module.util
    orig = util.spawnv_passfds
    if getattr(orig, "_ct_deps_patched", False):
        return

    def spawnv_passfds(path, args, passfds):
        i = args.index("-c") + 1 if "-c" in args[:-1] else 0
        if i and args[i].startswith("from multiprocessing.forkserver import main"):
            args = _passed_on(list(args))
        return orig(path, args, passfds)

    spawnv_passfds._ct_deps_patched = True
    util.spawnv_passfds = spawnv_passfds


def _passed_on(argv: list) -> list:
    """``argv`` (``python ... -c CODE ...``) with the capture passed on in front of CODE."""
    spec = _child_spec() if "-c" in argv[:-1] else None
    if spec is None:
        return argv
    i = argv.index("-c") + 1
    home = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    prefix = (f"import sys; sys.path.insert(0, {home!r}); "
              "import codetracer_python_recorder.deps.spawn as _ct_spawn; "
              f"_ct_spawn.child({json.dumps(spec)!r}); ")
    return [*argv[:i], prefix + argv[i], *argv[i + 1:]]


def _child_spec() -> dict | None:
    engine = state.engine
    if engine is None:
        return None
    if engine.mode == "record":
        path = fork.writer_path(engine)
        if path is None:  # per-scope capture only
            return None
        where = os.path.dirname(path)
    elif engine.mode == "replay" and engine.source:
        where = engine.source
    else:
        return None
    return {"id": fork.next_child(), "mode": engine.mode, "where": where,
            "miss": getattr(engine, "miss", "error"), "settings": _settings}


def child(spec_text: str) -> None:
    """In the spawned child, before multiprocessing runs the program's code."""
    spec = {}
    try:
        spec = json.loads(spec_text)
        from .. import deps
        from . import config, masking

        fork.become(spec["id"])
        if spec["mode"] == "record":
            from .record import Recorder

            engine = Recorder(fork.child_writer(spec["where"]))
        else:
            from .replay import Replayer

            engine = Replayer([], miss=spec["miss"], source=spec["where"])
            engine.forked(*fork.child_records(spec["where"]))
        masking.configure(os.environ)
        config.apply(spec["settings"])
        state.engine = engine
        fork.install()
        deps.install_hook()
    except Exception as exc:  # noqa: BLE001 - the child must run even if its capture cannot
        state.engine = None
        sys.stderr.write(f"codetracer deps: spawned process {os.getpid()} "
                         f"({spec.get('id', '?')}) is not "
                         f"{'captured' if spec.get('mode') == 'record' else 'replayed'}: "
                         f"{type(exc).__name__}: {exc}\n")
