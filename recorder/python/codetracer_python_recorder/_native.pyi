"""Types of the Rust extension (recorder/src/lib.rs registers these names).

Kept beside the module so editors and type checkers see what the Python package calls;
``recorder/tests/test_native_contract.py`` checks that every name here exists at run time.
"""

from collections.abc import Mapping, Sequence
from os import PathLike

__version__: str
#: built with the test-only ``fault-injection`` feature
FAULT_INJECTION: bool
#: stable error code -> kind ("usage", "environment", "target", "internal")
ERROR_CODES: dict[str, str]
#: kind -> the exit status used when the recorder itself fails (2, 10, 20, 70)
EXIT_STATUS: dict[str, int]

class RecorderError(Exception):
    """Base class of every error the recorder raises; carries ``code``, ``kind``, ``context``."""

    code: str
    kind: str
    context: dict[str, str]

class UsageError(RecorderError): ...
class RecorderEnvironmentError(RecorderError): ...
class TargetError(RecorderError): ...
class InternalError(RecorderError): ...

def start(
    trace_dir: str | PathLike[str],
    program: str,
    *,
    activation_path: str | None = None,
    caps: Mapping[str, int] | None = None,
    never: Sequence[str] = ...,
    stdlib: Sequence[str | PathLike[str]] = ...,
    script_dir: str | PathLike[str] | None = None,
    trace_filters: Sequence[str | PathLike[str]] = ...,
    on_error: str = "disable",
    format: str = "ctfs",
    args: Sequence[str] = ...,
    workdir: str = "",
) -> None:
    """Starts recording into ``trace_dir`` (a staging folder the session publishes)."""

def stop(exit_status: int) -> dict[str, object]:
    """Stops recording, closes the trace and returns its statistics."""

def abandon() -> None:
    """Drops the active recording without writing anything (a forked child)."""

def is_tracing() -> bool:
    """Whether a recording is active (and not detached after an error)."""

def record_io(kind: str, text: str) -> None:
    """Records captured standard-stream traffic: ``stdout``, ``stderr`` or ``stdin``."""

def record_event(kind: str, metadata: str, content: str) -> None:
    """Records an event at the current step (``socket``: a dependency call)."""

def span_begin(
    span_type: str, label: str, metadata: Sequence[tuple[str, str]] = ...
) -> int | None:
    """Opens a span (``web-request``: a request the program serves) on the calling thread;
    its id for ``span_end``, or None when nothing is being recorded."""

def span_end(
    span_id: int, status: str, metadata: Sequence[tuple[str, str]] = ...
) -> None:
    """Closes a span: ``status`` "ok", "error" or "unknown"; a metadata key given again
    replaces the value the opening gave."""

def deps_settings(
    *,
    script_dir: str | PathLike[str] | None = None,
    trace_filters: Sequence[str | PathLike[str]] = ...,
) -> dict[str, object]:
    """The ``[deps]`` settings of the filter chain ``start`` would load: ``mask_headers``,
    ``mask_words``, ``side_file_bytes`` and ``files`` (those with a ``[deps]`` table)."""

def resolve_policy(
    env: Mapping[str, str], cli: Sequence[tuple[str, str]]
) -> dict[str, object]:
    """Policy from defaults < ``CODETRACER_*`` variables < ``(flag, value)`` pairs."""

def configure_logging(
    level: str | None,
    file: str | PathLike[str] | None = None,
    run_id: str = "",
    trace_id: str | None = None,
) -> None:
    """Structured recorder logs at ``level`` into ``file`` (stderr when None)."""

def log(level: str, message: str, code: str | None = None) -> None:
    """One log record through the recorder's logger."""

def error_trailer(
    run_id: str,
    trace_id: str | None,
    code: str,
    kind: str,
    message: str,
    context: Mapping[str, str] = ...,
) -> str:
    """The ``--json-errors`` line for one recorder error."""

def dumps(
    value: object,
    *,
    tagged: Sequence[str] = ...,
    encode: object | None = None,
    side: object | None = None,
    side_bytes: int = 0,
    newline: bool = False,
) -> bytes:
    """JSON text (UTF-8) of a JSON-ready ``value``; when it is a dict, the items whose keys
    are in ``tagged`` are library values written with ``deps.store.encode``'s tags
    (``encode``: that function, called back for types the fast path leaves out; ``side``:
    called with bytes longer than ``side_bytes``). ``ValueError`` for a value nested past
    400 levels."""

class LineSink:
    """``deps.jsonl``: appends without the GIL; inert in a forked child."""

    path: str

    def __init__(self, path: str | PathLike[str], first: bytes) -> None: ...
    def write(self, data: bytes) -> None: ...
    def close(self, last: bytes | None = None) -> None:
        """Writes ``last``, closes; ``RecorderEnvironmentError`` if a write failed."""

class FileSink:
    """Capture files, each written atomically by a Rust thread that never takes the GIL."""

    def submit(self, dir: str | PathLike[str], name: str, data: bytes) -> None: ...
    def pending(self) -> int: ...
    def flush(self) -> list[str]:
        """Waits until every submitted file is written; the errors met, one line each."""
    def take_errors(self) -> list[str]: ...
