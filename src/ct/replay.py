"""``ct replay-request CAPTURE --app module:app [--factory]`` and ``ct replay-task CAPTURE --app
module:celery_app``: run one captured request or task again on this machine, its dependency
calls answered from the capture, under the time-travel recorder (``--no-record``: just run).

Thin wrappers: the work happens in the user's interpreter, in the recorder package's
``codetracer_python_recorder.integrations.replay_request`` / ``replay_task`` modules, run as
``ct record -m MODULE CAPTURE --app X`` would (same interpreter discovery, trace folder and
index). Exit status: 0 the outcome matches the capture, 1 it differs, 2 usage.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from ct.errors import TARGET, USAGE, CtError

MODULES = {
    "replay-request": ("codetracer_python_recorder.integrations.replay_request", "ASGI app"),
    "replay-task": ("codetracer_python_recorder.integrations.replay_task", "Celery app"),
}


#: the framework (Starlette, FastAPI, Celery, pydantic, drivers) is not recorded: a request
#: through FastAPI is ~500,000 steps with it, a few hundred without
SKIP_INSTALLED = """[meta]
name = "ct-replay-skip-installed"
version = 1

[[scope.rules]]
selector = 'file:regex:[/\\\\](site|dist)-packages[/\\\\]'
exec = "skip"
reason = "installed packages (ct replay-* --record-libraries records them)"
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise CtError(f"{self.prog.removeprefix('ct ')}: {message}; see `{self.prog} --help`",
                      USAGE)


def run(command: str, argv: list[str]) -> int:
    module, what = MODULES[command]
    p = _Parser(prog=f"ct {command}", allow_abbrev=False,
                description=f"Run a captured {'request' if command == 'replay-request' else 'task'}"
                            f" through the {what} in-process, answering its dependency calls "
                            "from the capture, and say whether the outcome matches.")
    p.add_argument("capture", metavar="CAPTURE", help="a capture file (see `ct captures`)")
    p.add_argument("--app", required=True, metavar="MODULE:ATTR",
                   help=f"the {what}, imported from the current directory; MODULE:FACTORY() "
                        "calls a function that returns it"
                        + ("; MODULE alone as for celery -A" if command == "replay-task" else ""))
    p.add_argument("--factory", action="store_true",
                   help="ATTR is a function that returns the app (as uvicorn --factory)")
    p.add_argument("--no-record", action="store_true",
                   help="just run it, without the time-travel recorder")
    p.add_argument("-o", "--output-folder", metavar="DIR", help="trace folder (new or empty)")
    p.add_argument("--deps-miss", choices=("error", "live"), default="error",
                   help="a call with no recorded answer fails (default) or goes to the service")
    p.add_argument("--record-libraries", action="store_true",
                   help="also record installed packages (the framework); by default only the "
                        "program's own code is recorded")
    p.add_argument("-q", "--quiet", action="store_true", help="no ct messages when all is well")
    a = p.parse_args(argv)
    capture = Path(a.capture)
    if not capture.is_file():
        raise CtError(f"{command}: capture {capture} does not exist; list captures with "
                      "`ct captures DIR`", TARGET)
    target = [os.path.abspath(capture), "--app", a.app, "--deps-miss", a.deps_miss]
    if a.factory:
        target.append("--factory")
    if a.no_record:
        return _run_plain(module, target)
    from ct import record

    options = ["-o", a.output_folder] if a.output_folder else []
    if a.quiet:
        options.append("-q")
    if a.record_libraries:
        return record.run([*options, "-m", module, *target])
    with tempfile.TemporaryDirectory(prefix="ct-replay-") as tmp:
        skip = Path(tmp) / "skip-installed-packages.toml"
        skip.write_text(SKIP_INSTALLED, encoding="utf-8")
        return record.run([*options, "--trace-filter", str(skip), "-m", module, *target])


def _run_plain(module: str, target: list[str]) -> int:
    from ct import interpreter, launch, recorder_locate

    env = launch.child_env()
    interp = interpreter.discover(env)
    rec = recorder_locate.locate(interp)
    if rec.source != "installed":
        raise CtError(f"--no-record runs the recorder package installed in {interp.path}, and "
                      f"it has none (ct uses the bundled one); install it with: "
                      f"{recorder_locate.install_hint(interp)}, or drop --no-record", TARGET)
    return launch.end_like(launch.run_child([interp.path, "-m", module, *target], env))
