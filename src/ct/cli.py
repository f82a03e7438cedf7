"""Entry point of the ``ct`` command: dispatch to subcommands, turn errors into one line.

``ct record`` parses its own arguments (see ``ct.record``) because argparse cannot be trusted
to leave a program's options alone; the other commands have plain options and use argparse
with errors redirected to our one-line format and exit status 2.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys

from ct import __version__
from ct.errors import INTERNAL, USAGE, CtError

COMMANDS = ("record", "list", "show", "deps", "captures", "replay-request", "replay-task",
            "doctor", "install", "index")

HELP = f"""\
usage: ct [--version] [--help] COMMAND [ARGS...]

ct {__version__}: record Python programs with CodeTracer and find the traces again.

commands:
  record [options] PROGRAM [ARGS...]   run PROGRAM like `python PROGRAM ARGS...`, recording it
  list [--json] [-n N]                 recordings, newest first
  show ID|latest [--json]              one recording: metadata and a summary
  deps TRACE [--json]                  the external calls a recording captured (--deps record)
  captures [DIR] [--json]              request and task captures (CODETRACER_CAPTURE_DIR)
  replay-request CAPTURE --app M:APP   run a captured request in-process, recorded; compare
  replay-task CAPTURE --app M:APP      run a captured Celery task locally, recorded; compare
  doctor                               which interpreter and recorder ct would use; problems
  install [--uninstall]                put ct and ct-python-recorder on PATH (Linux, macOS)
  index --import DIR... | --rebuild    add trace folders to the index; rebuild a broken index

`ct COMMAND --help` describes each command. Exit status: 2 usage, 10 environment,
20 target, 70 internal, 127 no Python interpreter; `ct record` returns the program's status.
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line with status 2 instead of a usage dump."""

    def error(self, message: str):  # type: ignore[override]
        raise CtError(f"{self.prog.removeprefix('ct ')}: {message}; see `{self.prog} --help`", USAGE)


def _sub(name: str, description: str) -> _Parser:
    return _Parser(prog=f"ct {name}", description=description, allow_abbrev=False)


def _run_list(argv: list[str]) -> int:
    p = _sub("list", "List recordings, newest first.")
    p.add_argument("--json", action="store_true", help="print a JSON array (args as arrays)")
    p.add_argument("-n", "--limit", type=int, default=None, help="show at most N recordings")
    a = p.parse_args(argv)
    from ct.browse import cmd_list

    return cmd_list(a.json, a.limit)


def _run_show(argv: list[str]) -> int:
    p = _sub("show", "Show one recording: metadata, top functions by calls, exit status, size.")
    p.add_argument("ref", metavar="ID|latest", help="index id, `latest`, or the trace folder")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--top", type=int, default=10, help="how many functions to list (default 10)")
    a = p.parse_args(argv)
    from ct.browse import cmd_show

    return cmd_show(a.ref, a.json, a.top)


def _run_deps(argv: list[str]) -> int:
    from ct import deps

    return deps.run(argv)


def _run_captures(argv: list[str]) -> int:
    from ct import captures

    return captures.run(argv)


def _run_replay(command: str):
    def run(argv: list[str]) -> int:
        from ct import replay

        return replay.run(command, argv)

    return run


def _run_index(argv: list[str]) -> int:
    p = _sub("index", "Maintain the trace index.")
    p.add_argument("--import", dest="import_dirs", metavar="DIR", nargs="+", default=[],
                   help="add these trace folders to the index")
    p.add_argument("--rebuild", action="store_true",
                   help="move the index aside and re-import every trace folder it and the data dir know")
    a = p.parse_args(argv)
    from ct.browse import cmd_index

    return cmd_index(a.import_dirs, a.rebuild)


def _run_doctor(argv: list[str]) -> int:
    _sub("doctor", "Report the interpreter, recorder, data dir and PATH shims ct would use.").parse_args(argv)
    from ct import doctor

    return doctor.run()


def _run_install(argv: list[str]) -> int:
    p = _sub("install", "Link ct and ct-python-recorder into ~/.local/bin (plus desktop entry on Linux).")
    p.add_argument("--uninstall", action="store_true", help="remove what `ct install` added")
    a = p.parse_args(argv)
    from ct import install

    return install.uninstall() if a.uninstall else install.install()


def _run_record(argv: list[str]) -> int:
    from ct import record

    return record.run(argv)


def _invoked_as_shim(argv0: str | None) -> bool:
    """The AppImage runtime sets ARGV0 to the name it was started as (e.g. a symlink)."""
    name = os.path.basename(os.environ.get("ARGV0") or argv0 or "")
    return name.startswith("ct-python-recorder")


def dispatch(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(HELP)
        return 0 if argv else USAGE
    cmd, rest = argv[0], argv[1:]
    if cmd in ("--version", "-V"):
        print(f"ct {__version__}")
        return 0
    table = {
        "record": _run_record, "list": _run_list, "show": _run_show, "doctor": _run_doctor,
        "install": _run_install, "index": _run_index, "deps": _run_deps,
        "captures": _run_captures, "replay-request": _run_replay("replay-request"),
        "replay-task": _run_replay("replay-task"),
    }
    if cmd == "python-recorder":  # the shim's behaviour, reachable without the symlink name
        from ct import record

        return record.run_shim(rest)
    if cmd not in table:
        what = "option" if cmd.startswith("-") else "command"
        raise CtError(f"unknown {what} {cmd!r}; commands: {', '.join(COMMANDS)} (see `ct --help`)", USAGE)
    return table[cmd](rest)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if argv is None:  # the real process, not a test calling main()
        from ct import appimage_run

        appimage_run.setup()
        atexit.register(appimage_run.finish)
    try:
        if argv is None and _invoked_as_shim(sys.argv[0]):
            from ct import record

            return record.run_shim(args)
        return dispatch(args)
    except CtError as exc:
        print(exc.line(), file=sys.stderr, flush=True)
        return exc.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `ct list | head`: not an error; silence the interpreter's flush at exit too.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return 0
    except SystemExit as exc:  # argparse --help
        return exc.code if isinstance(exc.code, int) else 0
    except Exception as exc:  # noqa: BLE001 - last resort: one line, not a traceback
        if os.environ.get("CT_DEBUG"):
            raise
        print(f"ct: internal error: {type(exc).__name__}: {exc}; please report it "
              "(rerun with CT_DEBUG=1 for a traceback)", file=sys.stderr)
        return INTERNAL


if __name__ == "__main__":
    sys.exit(main())
