"""``python -m codetracer_python_recorder [options] SCRIPT [ARGS...]`` (or ``-m MODULE``).

Options are read only before the target; everything after it reaches the program verbatim,
including arguments that look like the recorder's own (``--format json``, ``-o x``).
"""

from __future__ import annotations

import os
import sys

from . import _native, options, runner
from .errors import EXIT_STATUS, RecorderError, exit_status, make_error
from .native_text import native_text
from .session import Session

PROG = "codetracer-python-recorder"

_USAGE = """usage: python -m codetracer_python_recorder [options] SCRIPT [ARGS...]
       python -m codetracer_python_recorder [options] -m MODULE [ARGS...]

Records SCRIPT (run exactly as `python SCRIPT ARGS` would) into a CodeTracer trace folder.
Options must come before SCRIPT / -m MODULE; everything after is passed to the program.

options:
{options}
  -h, --help               show this help
  --version                show the recorder version

exit status: the program's own status when recording succeeded; when the recorder itself
fails: {statuses}.
"""


def usage() -> str:
    """``--help``: the options come from the one table (``options.OPTIONS``)."""
    statuses = ", ".join(f"{status} {kind}" for kind, status in EXIT_STATUS.items())
    return _USAGE.format(options=options.help_text(), statuses=statuses)

_VALUE_OPTIONS = {o.flag: o.dest for o in options.OPTIONS if o.takes_value}
_FLAG_OPTIONS = {o.flag: o.dest for o in options.OPTIONS if o.kind == "policy" and not o.takes_value}
_CHOICES = {o.dest: o.choices for o in options.OPTIONS if o.kind == "value" and o.choices}
_POLICY_VALUES = tuple(o.dest for o in options.OPTIONS if o.kind == "policy" and o.takes_value)
_CAPS = tuple(o.dest for o in options.OPTIONS if o.kind == "cap")


class Options:
    """Parsed command line (plain class: dataclasses would cost start-up time)."""

    def __init__(self) -> None:
        self.trace_dir: str | None = None
        self.format = "ctfs"
        self.activation_path: str | None = None
        self.with_diff: str | None = None
        self.trace_filters: list[str] = []
        self.on_recorder_error = "disable"
        self.require_trace = False
        self.keep_partial_trace = False
        self.log_level = "warn"
        self.log_file: str | None = None
        self.json_errors = False
        self.logging_requested = False
        self.caps: dict[str, int] = {}
        self.target = runner.Target()
        self.deps: str | None = None
        self.deps_miss: str | None = None
        self.deps_only = False
        self.io_capture = True
        self.record_test_runner = False
        # accepted for upstream's users; the program's exit status is always returned
        self.propagate_script_exit = False


def _usage_error(message: str) -> RecorderError:
    return make_error("ERR_INVALID_ARGUMENT", message)


def _check_choice(dest: str, value: str, source: str) -> str:
    allowed = _CHOICES.get(dest)
    if allowed and value not in allowed:
        raise make_error(
            "ERR_INVALID_POLICY_VALUE",
            f"invalid value '{value}' for {source} (allowed: {', '.join(allowed)})",
        )
    return value


def _from_env(opts: Options, environ) -> None:
    """Environment defaults from the table's variables. Policies are the native module's
    (see ``_resolve_policy``); CODETRACER_TRACE_FILTER is read when recording starts."""
    for o in options.OPTIONS:
        if o.env is None or o.kind == "policy" or o.kind == "list" or not environ.get(o.env):
            continue
        value = environ[o.env]
        if o.kind == "flag":  # validated; the flags it sets are CLI-only choices
            from .api import parse_bool

            parse_bool(value, o.env)
        elif o.kind == "cap":
            opts.caps[o.dest] = _parse_cap(value, o.env)
        elif o.dest == "io_capture":
            opts.io_capture = _io_capture(value, o.env)
        else:
            setattr(opts, o.dest, _check_choice(o.dest, value, o.env))


def _resolve_policy(opts: Options, cli: list[tuple[str, str]], environ) -> None:
    """Policy switches: defaults < ``CODETRACER_*`` variables < flags (resolved natively)."""
    policy = _native.resolve_policy(
        {k: v for k, v in environ.items() if k.startswith("CODETRACER_")}, cli
    )
    for key, value in policy.items():
        setattr(opts, key, value)
    opts.logging_requested = any(flag in ("--log-level", "--log-file") for flag, _ in cli) or any(
        environ.get(var) for var in ("CODETRACER_LOG_LEVEL", "CODETRACER_LOG_FILE")
    )


def _io_capture(value: str, source: str) -> bool:
    """Upstream's IO capture modes; we record stream traffic or not (no fd mirror)."""
    from .api import parse_io_capture

    return parse_io_capture(value, source)[0]


def _parse_cap(value: str, source: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = -1
    if not 0 <= n <= sys.maxsize:
        raise _usage_error(
            f"invalid value '{value}' for {source} (expected a whole number from 0 to {sys.maxsize})"
        )
    return n


def parse_args(argv: list[str], environ=os.environ) -> Options:
    """Parses recorder options up to the target; the rest is the program's."""
    opts = Options()
    _from_env(opts, environ)
    policy_flags: list[tuple[str, str]] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            raise SystemExit(_print(usage(), 0))
        if arg == "--version":
            from . import __version__

            raise SystemExit(_print(f"{PROG} {__version__}\n", 0))
        if arg == "-m":
            if i + 1 >= len(argv):
                raise _usage_error("-m needs a module name: -m MODULE [ARGS...]")
            _resolve_policy(opts, policy_flags, environ)
            opts.target = runner.Target(module=argv[i + 1], args=argv[i + 2 :])
            return opts
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, inline = arg.partition("=")
        option = options.BY_FLAG.get(name)
        if option is not None and option.kind == "flag":
            if eq:
                raise _usage_error(f"{name} takes no value")
            setattr(opts, option.dest, True)
            i += 1
            continue
        if name in _FLAG_OPTIONS:
            if eq:
                raise _usage_error(f"{name} takes no value")
            policy_flags.append((name, "true"))
            i += 1
            continue
        if name not in _VALUE_OPTIONS:
            raise _usage_error(
                f"unknown option {name}; recorder options go before the script, "
                "program options after it (see --help)"
            )
        if eq:
            value = inline
            i += 1
        elif i + 1 < len(argv):
            value = argv[i + 1]
            i += 2
        else:
            raise _usage_error(f"{name} needs a value")
        dest = _VALUE_OPTIONS[name]
        if dest in _POLICY_VALUES:
            policy_flags.append((name, value))
        elif dest == "trace_filters":  # upstream's a.toml::b.toml chains too
            opts.trace_filters.extend(p for p in value.split("::") if p)
        elif dest == "io_capture":
            opts.io_capture = _io_capture(value, name)
        elif dest in _CAPS:
            opts.caps[dest] = _parse_cap(value, name)
        else:
            setattr(opts, dest, _check_choice(dest, value, name))
    _resolve_policy(opts, policy_flags, environ)
    if i >= len(argv):
        raise _usage_error("no program given: pass SCRIPT [ARGS...] or -m MODULE [ARGS...]")
    opts.target = runner.Target(script=argv[i], args=argv[i + 1 :])
    return opts


def _print(text: str, status: int) -> int:
    sys.stdout.write(text)
    sys.stdout.flush()
    return status


RUN_ID = os.urandom(16).hex()


def _report(err: BaseException, opts: Options | None, level: str, trace_id: str | None) -> None:
    """One human line on stderr, plus the JSON trailer line with ``--json-errors``."""
    code = getattr(err, "code", "ERR_INTERNAL")
    sys.stderr.write(f"{PROG}: {level}: {err} [{code}]\n")
    _native.log("error" if level == "error" else "warn", native_text(str(err)), code)
    if opts is not None and opts.json_errors:
        context = {str(k): str(v) for k, v in (getattr(err, "context", None) or {}).items()}
        kind = getattr(err, "kind", "internal")
        sys.stderr.write(_native.error_trailer(RUN_ID, trace_id, code, kind, str(err), context) + "\n")
    sys.stderr.flush()


def _fail(err: BaseException, opts: Options | None = None, trace_id: str | None = None) -> None:
    """Reports a recorder failure and exits with the status of its kind."""
    _report(err, opts, "error", trace_id)
    raise SystemExit(exit_status(err))


def _finish_early(session: Session, opts: Options, deps_on: bool, status: int | None,
                  **how: str) -> None:
    """``os._exit``, an ``os.exec*`` call or SIGTERM ends the process now: the dependency
    capture and the trace are finished and published here, as nothing after this runs.
    ``how``: ``ended_by`` (the call) or ``interrupted`` (the signal), as ``Session.stop``
    takes them."""
    if deps_on:
        from . import deps

        deps.finish(status)
    try:
        session.stop(status, **how)
    except RecorderError as err:
        _report(err, opts, "warning", session.trace_id)


def _policy_summary(opts: Options) -> dict:
    return {
        "on_recorder_error": opts.on_recorder_error,
        "require_trace": opts.require_trace,
        "keep_partial_trace": opts.keep_partial_trace,
    }


def _configure_logging(opts: Options, trace_id: str) -> None:
    """Structured logs only when asked for (a level or a file), so a default run prints
    nothing of the recorder's own beyond its one-line messages."""
    level = opts.log_level if opts.logging_requested else None
    _native.configure_logging(level, opts.log_file, RUN_ID, trace_id)


def _runner_dirs(opts: Options, target: runner.Target) -> list[str]:
    """A test runner's own packages, skipped unless --record-test-runner (see scope.py)."""
    if opts.record_test_runner:
        return []
    from . import scope

    return scope.test_runner_dirs(scope.test_runner(target.module, target.script))


def _default_trace_dir() -> str:
    import time

    return os.path.abspath(time.strftime("codetracer-trace-%Y%m%d-%H%M%S") + f"-{os.getpid()}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: always ends by raising ``SystemExit`` (or by SIGINT, like Python)."""
    opts = None
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv)
        target = opts.target
        code = None
        if target.script is not None:
            if not os.path.exists(target.script):
                # Same words and status as the interpreter for a missing script.
                sys.stderr.write(
                    f"{sys.executable}: can't open file {os.path.abspath(target.script)!r}: "
                    f"[Errno 2] No such file or directory\n"
                )
                raise SystemExit(2)
            if os.path.isdir(target.script):  # `python DIR` runs DIR/__main__.py
                runner.use_directory_main(target)
            try:
                code = runner.prepare_script(target)
            except SyntaxError as exc:
                runner.report_exception(exc)
                raise SystemExit(1) from None
        activation = opts.activation_path
        if activation is None and target.script is not None:
            activation = os.path.abspath(target.script)
        elif activation is not None:
            activation = os.path.abspath(activation)
        program = target.program  # path 0 of the trace: a file, also for -m MODULE
        if target.module is not None:
            program = runner.module_file(target.module) or target.module
            if program == target.module and not runner.module_exists(target.module):
                # Python's words and status; no trace of a program that never ran
                sys.stderr.write(f"{sys.executable}: No module named {target.module}\n")
                raise SystemExit(1)
        session = Session(
            opts.trace_dir or _default_trace_dir(),
            program,
            target.args,
            activation_path=activation,
            caps=opts.caps,
            format=opts.format,
            on_recorder_error=opts.on_recorder_error,
            keep_partial=opts.keep_partial_trace,
            trace_filters=opts.trace_filters,
            capture_io=opts.io_capture,
            skip_dirs=_runner_dirs(opts, target),
            script_dir=os.path.dirname(os.path.abspath(target.script)) if target.script else os.getcwd(),
            extra_metadata={"with_diff": opts.with_diff, "policy": _policy_summary(opts),
                            "run_as": "script" if target.script else "module",
                            **({"program": target.module} if target.module else {})},
        )
        deps_plan = None
        if opts.deps or opts.deps_only:
            from .deps import launch as deps_launch

            deps_plan = deps_launch.prepare(opts.deps, opts.deps_miss, opts.deps_only,
                                            script_dir=session.script_dir,
                                            trace_filters=session.trace_filters)
        _configure_logging(opts, session.trace_id)
        runner.arm_sigint_exit()
        if not opts.deps_only:
            session.start()
        if deps_plan is not None:
            deps_plan.start(session, target.program, target.args)
        _native.log("info", native_text(f"recording {target.program} into {session.trace_dir}"))
        deps_on = deps_plan is not None
        runner.finalize_on_sigterm(
            lambda: _finish_early(session, opts, deps_on, 143, interrupted="SIGTERM"))
        runner.finish_before_process_ends(
            lambda status, ended_by: _finish_early(session, opts, deps_on, status,
                                                  ended_by=ended_by))
    except RecorderError as err:
        _fail(err, opts)
        return
    outcome = runner.run(target, code)
    if outcome.exception is not None:
        runner.report_exception(outcome.exception)
    if deps_plan is not None:
        deps_launch.finish(outcome.exit_status)
    try:
        interrupted = outcome.interrupted or outcome.interrupted_while_joining
        written = session.stop(outcome.exit_status, interrupted="SIGINT" if interrupted else None)
        _native.log("info", native_text(f"trace written to {written} (exit status "
                                        f"{outcome.exit_status})"))
    except RecorderError as err:
        if opts.require_trace or opts.on_recorder_error == "abort":
            _fail(err, opts, session.trace_id)
        _report(err, opts, "warning", session.trace_id)
    runner.exit_like_python(outcome)
