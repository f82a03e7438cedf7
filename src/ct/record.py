"""``ct record [options] PROGRAM [ARGS...]``: run a program under the recorder, then index it.

Arguments are split by hand, not by argparse: ct's options are recognised only *before*
PROGRAM (``--`` may end them), and everything from PROGRAM on goes to the program verbatim,
so ``ct record app.py --format json -o x`` passes ``--format json -o x`` to ``app.py``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ct import contract, doctor, importer, interpreter, launch, paths, recorder_locate
from ct import diff as diffmod
from ct.errors import ENVIRONMENT, TARGET, USAGE, CtError
from ct.index import Index

LANGUAGES = {"python": (".py", ".pyw")}
RECORDER_FAILURES = contract.RECORDER_FAILURES  # the recorder's documented failure statuses
SUPPORTED = "supported languages: python (.py, or --lang python)"

USAGE_TEXT = """\
usage: ct record [options] [--] PROGRAM [ARGS...]
       ct record [options] -m MODULE [ARGS...]

Run PROGRAM exactly like `python PROGRAM ARGS...` (or MODULE like `python -m MODULE ARGS...`)
would in this shell (same interpreter, environment, stdin/stdout/stderr and exit status) while
recording it, then index the trace.
Options are read only before PROGRAM / -m MODULE; everything after goes to the program unchanged.

options:
  -o, --output-folder DIR     write the trace files directly into DIR
                              (default: <data dir>/traces/<id>)
  --lang LANG                 language of PROGRAM (python); default: from the extension
  --activation-path PATH      start recording when PATH is first executed
  --trace-filter FILE         trace filter file (repeatable)
  --with-diff SPEC            store a diff with the trace: last-commit, PATCHFILE or REV_RANGE
  --deps record|replay=TRACE  record the program's HTTP/Redis/PostgreSQL/MongoDB calls
                              (deps.jsonl in the trace), or answer them from an earlier trace
                              (an index id, latest, a trace folder or a deps.jsonl)
  --deps-miss error|live      on replay, a call with no recorded answer fails (error) or goes
                              to the real service (live)
  -q, --quiet                 print nothing of ct's own when all goes well
  --on-recorder-error MODE    recorder policy: abort | disable
  --require-trace             fail if no trace was produced
  --keep-partial-trace        keep the trace if recording fails midway
  --log-level LEVEL           recorder log level
  --log-file FILE             recorder log file
  --json-errors               recorder errors as JSON on stderr
  --record-test-runner        with -m pytest / unittest, record the runner's own code too
  -h, --help                  show this help

The interpreter is the first of $CODETRACER_PYTHON_INTERPRETER, $PYTHON_EXECUTABLE, $PYTHON,
python3, python on PATH. Exit status: the program's; recorder failures {}.
""".format("/".join(str(s) for s in sorted(contract.RECORDER_FAILURES)))

# option -> field name: ct's own, then the recorder's it passes through (ct.contract)
_VALUE_OPTS = {
    "-o": "output", "--output-folder": "output", "--lang": "lang",
    **{flag: dest for flag, dest, takes_value in contract.RECORDER_OPTIONS if takes_value},
}
_FLAG_OPTS = {
    "-q": "quiet", "--quiet": "quiet",
    **{flag: dest for flag, dest, takes_value in contract.RECORDER_OPTIONS if not takes_value},
}


@dataclass
class RecordOptions:
    program: str = ""
    module: bool = False  # program is a module name (`-m MODULE`), not a file
    args: list[str] = field(default_factory=list)
    output: str | None = None
    lang: str | None = None
    activation_path: str | None = None
    trace_filters: list[str] = field(default_factory=list)
    with_diff: str | None = None
    on_recorder_error: str | None = None
    log_level: str | None = None
    log_file: str | None = None
    quiet: bool = False
    require_trace: bool = False
    keep_partial_trace: bool = False
    json_errors: bool = False
    deps: str | None = None
    deps_miss: str | None = None
    record_test_runner: bool = False
    help: bool = False

    def recorder_options(self) -> list[str]:
        """The pass-through options, in the recorder's spelling (``ct.contract``)."""
        out: list[str] = []
        for flag, dest, takes_value in contract.RECORDER_OPTIONS:
            value = getattr(self, dest)
            if not value:
                continue
            if not takes_value:
                out.append(flag)
                continue
            if dest == "deps":  # replay=ID|latest|PATH -> an absolute path for the recorder
                from ct.deps import replay_spec

                value = replay_spec(value)
            for item in value if isinstance(value, list) else [value]:
                out += [flag, item]
        return out


def parse(argv: list[str]) -> RecordOptions:
    """Split ``argv`` into ct options and PROGRAM ARGS (see module docstring)."""
    opts = RecordOptions()
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            i += 1
            break
        if tok in ("-h", "--help"):
            opts.help = True
            return opts
        if not tok.startswith("-") or tok == "-":
            break
        if tok.startswith("-m"):  # -m MODULE or -mMODULE, as python spells it
            module = tok[2:] or (argv[i + 1] if i + 1 < len(argv) else "")
            if not module:
                raise CtError("record: -m needs a module name: ct record -m MODULE [ARGS...]", USAGE)
            opts.program, opts.module = module, True
            opts.args = list(argv[i + (1 if tok[2:] else 2):])
            return opts
        name, eq, inline = tok.partition("=") if tok.startswith("--") else (tok, "", "")
        if name in _FLAG_OPTS:
            if eq:
                raise CtError(f"record: option {name} takes no value; see `ct record --help`", USAGE)
            setattr(opts, _FLAG_OPTS[name], True)
            i += 1
            continue
        if name in _VALUE_OPTS:
            if eq:
                value = inline
                i += 1
            else:
                if i + 1 >= len(argv):
                    raise CtError(f"record: option {name} needs a value; see `ct record --help`", USAGE)
                value = argv[i + 1]
                i += 2
            field_name = _VALUE_OPTS[name]
            if field_name == "trace_filters":
                opts.trace_filters.append(value)
            else:
                setattr(opts, field_name, value)
            continue
        if tok.startswith("-o") and len(tok) > 2:  # -oDIR
            opts.output = tok[2:]
            i += 1
            continue
        raise CtError(
            f"record: unknown option {tok!r} (ct options go before PROGRAM); see `ct record --help`",
            USAGE,
        )
    if i >= len(argv):
        raise CtError("record: missing PROGRAM; usage: ct record [options] PROGRAM.py [ARGS...]", USAGE)
    opts.program = argv[i]
    opts.args = list(argv[i + 1:])
    return opts


def check_program(opts: RecordOptions) -> str:
    """Validate PROGRAM and its language; return the language name."""
    prog = opts.program
    if opts.lang is not None and opts.lang.lower() not in LANGUAGES:
        raise CtError(f"record: unsupported language {opts.lang!r}; {SUPPORTED}", USAGE)
    if opts.module:  # found (or not) by the interpreter itself, exactly as `python -m` does
        return "python"
    if os.path.isdir(prog):
        raise CtError(f"record: {prog} is a directory, not a program file; {SUPPORTED}", TARGET)
    if not os.path.exists(prog):
        raise CtError(f"record: {prog}: no such file; check the path ({SUPPORTED})", TARGET)
    if not os.access(prog, os.R_OK) or not os.path.isfile(prog):
        raise CtError(f"record: {prog} is not a readable file; check its permissions", TARGET)
    if opts.lang:
        return opts.lang.lower()
    ext = os.path.splitext(prog)[1].lower()
    for lang, exts in LANGUAGES.items():
        if ext in exts:
            return lang
    raise CtError(f"record: cannot record {prog}: unsupported file type {ext or '(none)'!r}; {SUPPORTED}", TARGET)


def new_trace_id() -> str:
    """Time-ordered and unique across concurrent recordings: UTC timestamp + random suffix."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(4)


def ensure_data_dir() -> Path:
    """Fail before running anything if the index cannot be written."""
    root = paths.data_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{os.getpid()}-{secrets.token_hex(2)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CtError(
            f"the data dir {root} is not writable ({exc.strerror or exc}); fix its permissions "
            "or set CODETRACER_DATA_DIR to a writable directory",
            ENVIRONMENT,
        ) from exc
    return root


def check_output(opts: RecordOptions) -> None:
    """Reject ``-o FILE`` and ``-o NON_EMPTY_DIR`` before anything runs (the recorder
    publishes a trace by renaming it into an empty or missing folder, and a stale trace
    there would be indistinguishable from a new one)."""
    if opts.output is not None:
        out = Path(opts.output).expanduser()
        if out.exists() and not out.is_dir():
            raise CtError(
                f"record: -o {opts.output} is an existing file; give a directory (it is created "
                "if missing)",
                USAGE,
            )
        if out.is_dir() and any(out.iterdir()):
            raise CtError(
                f"record: -o {opts.output} is not empty (it may hold an earlier trace); give a new "
                "or empty directory",
                USAGE,
            )


def prepare_output(opts: RecordOptions) -> tuple[Path, bool]:
    """Create the trace folder; returns (folder, created_by_us)."""
    if opts.output is not None:
        check_output(opts)
        out = Path(opts.output).expanduser().absolute()
        created = not out.exists()
    else:
        out = paths.traces_dir() / new_trace_id()
        created = True
    try:
        out.mkdir(parents=True, exist_ok=opts.output is not None)
    except OSError as exc:
        raise CtError(
            f"record: cannot create the trace folder {out} ({exc.strerror or exc}); choose "
            "another with -o DIR",
            ENVIRONMENT,
        ) from exc
    if not os.access(out, os.W_OK):
        raise CtError(f"record: trace folder {out} is not writable; choose another with -o DIR", ENVIRONMENT)
    return out, created


def say(opts: RecordOptions, text: str) -> None:
    if not opts.quiet:
        print(f"ct: {text}", file=sys.stderr, flush=True)


def warn(text: str) -> None:
    print(f"ct: {text}", file=sys.stderr, flush=True)


def run(argv: list[str]) -> int:
    """Validate everything that can be checked up front, run, then index the trace."""
    opts = parse(argv)
    if opts.help:
        sys.stdout.write(USAGE_TEXT)
        return 0
    language = check_program(opts)
    check_output(opts)
    ensure_data_dir()
    # The diff describes the code as it is run, so it is taken before the program starts.
    # A module is looked up from the current directory, so its repository is found from there.
    anchor = Path("__main__.py") if opts.module else Path(opts.program)
    patch = diffmod.produce_patch(opts.with_diff, anchor) if opts.with_diff else None
    env = launch.child_env()
    interp = interpreter.discover(env)
    rec = recorder_locate.locate(interp)
    out, created = prepare_output(opts)

    if opts.module:
        target = ["-m", opts.program]
    elif opts.program.startswith("-"):  # never let a file name be read as a recorder option
        target = [os.path.join(".", opts.program)]
    else:
        target = [opts.program]
    argv_child = [*rec.prefix, *opts.recorder_options(), "--trace-dir", str(out), *target, *opts.args]
    started = time.time()
    ended = launch.run_child(argv_child, env)
    duration = time.time() - started
    status = ended.status

    meta = importer.read_metadata(out)
    if meta is None or "program" not in meta:
        _no_trace(opts, out, created, ended)
        return launch.end_like(ended)
    extra = {
        "language": language,
        "interpreter": interp.path,
        "python_version": interp.version_str,
        "recorder_version": _recorder_version(meta) or rec.version,
        "duration_s": None if meta.get("duration_s") is not None else round(duration, 6),
        "exit_status": None if meta.get("exit_status") is not None else status,
    }
    _index_trace(opts, out, meta, patch, extra)
    return launch.end_like(ended)


def _recorder_version(meta: dict) -> str | None:
    recorder = meta.get("recorder")
    return recorder.get("version") if isinstance(recorder, dict) else None


def _no_trace(opts: RecordOptions, out: Path, created: bool, ended: launch.Ended) -> None:
    """The recorder published nothing: tidy our empty folder and say so (see README)."""
    if created:
        try:
            out.rmdir()  # only if empty: never delete anything the recorder wrote
        except OSError:
            pass
    # Recorder statuses always get a line; other statuses without a trace (a syntax error, a
    # program killed by SIGKILL) are exactly what plain Python shows, so --quiet holds.
    status = ended.status
    unfinished = doctor.unfinished_staging(out)
    if ended.signal is not None:  # nothing above explains it: name the signal
        text = f"no trace: the program was killed by {launch.signal_name(ended.signal)}"
    elif unfinished:  # nothing above explains it either
        text = ("no trace: the recording never finished (something that skips Python's exit, "
                "such as libc's _exit, ended the process before the recorder could close the "
                f"trace; status {status})")
    else:
        text = f"no trace was recorded (status {status}; see the message above)"
    if unfinished and opts.keep_partial_trace:
        text += (f"; what was written ({importer.folder_size(unfinished[-1])} bytes, not "
                 f"indexed) is kept in {unfinished[-1]}")
    else:
        for folder in unfinished:  # unusable and unfinished: the recorder would have removed it
            shutil.rmtree(folder, ignore_errors=True)
    if status in RECORDER_FAILURES or (unfinished and opts.keep_partial_trace):
        warn(text)
    else:
        say(opts, text)


def _index_trace(opts: RecordOptions, out: Path, meta: dict, patch: bytes | None, extra: dict) -> None:
    """Store the diff, import the folder and report; failures never touch the program's status."""
    try:
        if patch is not None:
            try:
                diffmod.write(out, opts.with_diff, patch)
            except OSError as exc:
                raise CtError(f"cannot write the diff into {out} ({exc.strerror or exc})", ENVIRONMENT) from exc
        record = importer.build_record(out, extra)
        with Index(paths.index_path()) as index:
            row_id = index.add(record)
    except CtError as exc:
        # The recording itself succeeded: keep the program's status, say how to index later.
        warn(f"{exc.message}; the trace is kept in {out}: after fixing, run `ct index --import {out}`")
        return
    if not importer.is_complete(out, meta):
        reason = meta.get("partial_reason") or "recording did not finish"
        warn(f"partial trace saved to {out} (id {row_id}): {reason}")
    else:
        say(opts, f"trace saved to {out} (id {row_id})")


def run_shim(argv: list[str]) -> int:
    """``ct-python-recorder ARGS``: the recorder CLI with the user's interpreter, no indexing."""
    env = launch.child_env()
    interp = interpreter.discover(env)
    rec = recorder_locate.locate(interp)
    return launch.end_like(launch.run_child([*rec.prefix, *argv], env))
