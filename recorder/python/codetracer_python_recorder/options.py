"""The recorder's command-line options and their environment variables: the one table.

The CLI's parser (``cli.parse_args``), its ``--help`` and its environment defaults are built
from ``OPTIONS``. Policy options (``policy=True``) are resolved by the native module
(``_native.resolve_policy``, recorder/src/policy/env.rs), which reads the same flags and
variables; ``recorder/tests/test_options_table.py`` checks each one of them against it, and
``ct`` (which passes some options through, ``ct.contract.RECORDER_OPTIONS``) and the READMEs'
tables against this one.

Standard library only, plain classes: the CLI imports it on every run.
"""

from __future__ import annotations


class Option:
    """One option: ``metavar`` None means a flag without a value."""

    __slots__ = ("flag", "dest", "metavar", "env", "choices", "help", "kind")

    def __init__(self, flag: str, dest: str, metavar: str | None, help: str, *,
                 env: str | None = None, choices: tuple[str, ...] = (),
                 kind: str = "value") -> None:
        self.flag = flag
        self.dest = dest
        self.metavar = metavar
        self.env = env
        self.choices = choices
        self.help = help
        #: value | list (repeatable) | cap (a whole number) | policy (resolved natively) |
        #: flag (sets dest to True)
        self.kind = kind

    @property
    def takes_value(self) -> bool:
        return self.metavar is not None


OPTIONS: tuple[Option, ...] = (
    Option("--trace-dir", "trace_dir", "DIR",
           "write trace files directly into DIR (must not exist or be empty; default: "
           "./codetracer-trace-<time>-<pid>)", env="CODETRACER_TRACE_DIR"),
    Option("--format", "format", "ctfs|json",
           "trace format: ctfs (default) writes trace.ct, the CTFS container today's "
           "CodeTracer opens; json writes the legacy trace.json, for debugging",
           env="CODETRACER_FORMAT", choices=("ctfs", "json")),
    Option("--activation-path", "activation_path", "PATH",
           "start recording when execution first enters PATH (default: SCRIPT)"),
    Option("--with-diff", "with_diff", "SPEC", "recorded in metadata (ct computes the diff)"),
    Option("--trace-filter", "trace_filters", "FILE",
           "trace filter TOML (repeatable, or a::b chains; applied after project/env filters)",
           env="CODETRACER_TRACE_FILTER", kind="list"),
    Option("--io-capture", "io_capture", "off|proxies|proxies+fd",
           "record sys.stdout/stderr/stdin traffic (default) or not (off); proxies+fd is "
           "accepted, raw fd writes are not recorded", env="CODETRACER_CAPTURE_IO"),
    Option("--record-test-runner", "record_test_runner", None,
           "under -m pytest / pytest, also record pytest's and pluggy's own code (skipped by "
           "default: the tests and the code under test are recorded)", kind="flag"),
    Option("--propagate-script-exit", "propagate_script_exit", None,
           "accepted for upstream's users: the program's status is always returned",
           env="CODETRACER_PROPAGATE_SCRIPT_EXIT", kind="flag"),
    Option("--on-recorder-error", "on_recorder_error", "abort|disable",
           "on a recorder failure: stop the program (abort), or detach and let it finish "
           "untouched (disable, default)", env="CODETRACER_ON_RECORDER_ERROR",
           choices=("abort", "disable"), kind="policy"),
    Option("--require-trace", "require_trace", None,
           "exit with an error status if no complete trace was written",
           env="CODETRACER_REQUIRE_TRACE", kind="policy"),
    Option("--keep-partial-trace", "keep_partial_trace", None,
           'keep an incomplete trace, marked "partial": true',
           env="CODETRACER_KEEP_PARTIAL_TRACE", kind="policy"),
    Option("--log-level", "log_level", "LEVEL", "error|warn|info|debug|trace",
           env="CODETRACER_LOG_LEVEL", choices=("error", "warn", "info", "debug", "trace"),
           kind="policy"),
    Option("--log-file", "log_file", "FILE", "write recorder logs to FILE instead of stderr",
           env="CODETRACER_LOG_FILE", kind="policy"),
    Option("--json-errors", "json_errors", None,
           "add one JSON line per recorder error on stderr", env="CODETRACER_JSON_ERRORS",
           kind="policy"),
    Option("--max-string", "max_string", "N", "characters of a string (default 200)",
           env="CODETRACER_MAX_STRING", kind="cap"),
    Option("--max-bytes", "max_bytes", "N", "bytes of a bytes value (default 64)",
           env="CODETRACER_MAX_BYTES", kind="cap"),
    Option("--max-items", "max_items", "N",
           "items of a collection / fields of an object (default 16)",
           env="CODETRACER_MAX_ITEMS", kind="cap"),
    Option("--max-depth", "max_depth", "N", "nesting depth (default 3)",
           env="CODETRACER_MAX_DEPTH", kind="cap"),
    Option("--deps", "deps", "record|replay=PATH",
           "record the program's HTTP/Redis/PostgreSQL/MongoDB calls into deps.jsonl, or "
           "answer them from a trace folder or deps.jsonl", env="CODETRACER_DEPS"),
    Option("--deps-miss", "deps_miss", "error|live",
           "replay: a call with no recorded answer fails like an unreachable service (error, "
           "default) or goes to the service (live)"),
    Option("--deps-only", "deps_only", None,
           "with --deps: no time-travel tracing, dependency capture only", kind="flag"),
)

BY_FLAG: dict[str, Option] = {o.flag: o for o in OPTIONS}


def help_text() -> str:
    """The options part of ``--help``: each option, wrapped, with its variable."""
    import textwrap

    lines = []
    for o in OPTIONS:
        left = f"  {o.flag}" + (f" {o.metavar}" if o.metavar else "")
        text = o.help + (f" [{o.env}]" if o.env else "")
        body = textwrap.wrap(text, 92 - 27)
        if len(left) > 24:
            lines.append(left)
            lines.extend(" " * 27 + line for line in body)
        else:
            lines.append(left.ljust(27) + body[0])
            lines.extend(" " * 27 + line for line in body[1:])
    return "\n".join(lines)
