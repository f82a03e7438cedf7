"""Numbers ct, the bundle bootstrap and the recorder must agree on: exit statuses and the
oldest Python the recorder runs on.

This is the one source for ct (``ct.errors``) and for ``ct_bootstrap.py``, which loads this
file from beside itself in a bundle (``resources/python/contract.py``, staged by
``ctbuild.stage``), where ct itself may run without the recorder importable. The recorder
exports the same values from its native module (``_native.EXIT_STATUS``,
``_native.MIN_PYTHON``); ``tests/ct/test_contract.py`` asserts they agree.

Standard library only and old syntax (no f-strings, no annotations): the bootstrap loads it
before it knows whether the interpreter is new enough.
"""

USAGE = 2
ENVIRONMENT = 10
TARGET = 20
INTERNAL = 70
NOT_FOUND = 127  # no Python interpreter at all, as a shell says for a missing command

#: exit status by error kind, for ct's own failures and the recorder's alike
EXIT_STATUS = {"usage": USAGE, "environment": ENVIRONMENT, "target": TARGET, "internal": INTERNAL}

#: statuses that mean "the recorder failed" when no trace metadata was published
RECORDER_FAILURES = frozenset(EXIT_STATUS.values())

#: the oldest CPython the recorder supports (sys.monitoring, abi3-py312)
MIN_PYTHON = (3, 12)

#: the recorder options ``ct record`` accepts and passes through, in the order it passes
#: them: (flag, field, takes a value). Spelled as in the recorder's own table
#: (``codetracer_python_recorder.options``), which ct cannot import when it runs from a
#: bundle; ``tests/ct/test_contract.py`` checks every entry against that table.
RECORDER_OPTIONS = (
    ("--activation-path", "activation_path", True),
    ("--trace-filter", "trace_filters", True),
    ("--with-diff", "with_diff", True),
    ("--on-recorder-error", "on_recorder_error", True),
    ("--require-trace", "require_trace", False),
    ("--keep-partial-trace", "keep_partial_trace", False),
    ("--log-level", "log_level", True),
    ("--log-file", "log_file", True),
    ("--json-errors", "json_errors", False),
    ("--deps", "deps", True),
    ("--deps-miss", "deps_miss", True),
    ("--record-test-runner", "record_test_runner", False),
)
