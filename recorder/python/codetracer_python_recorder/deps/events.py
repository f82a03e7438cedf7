"""Each captured or replayed call as an event of the time-travel trace (when one is recorded),
so CodeTracer's event log lists it at the step where it happened. Summaries are built only
when a trace is being recorded (``--deps-only`` pays nothing for them)."""

from __future__ import annotations

_native = None
_available = True


def active() -> bool:
    global _native, _available
    if not _available:
        return False
    if _native is None:
        from .. import _native as native

        _native = native
        _available = hasattr(native, "record_event")  # added to the native module lately
        if not _available:
            return False
    try:
        return bool(_native.is_tracing())
    except Exception:  # noqa: BLE001
        return False


def emit(category: str, summary) -> None:
    """``summary``: a one-line string, or a function returning one."""
    if not active():
        return
    try:
        _native.record_event("socket", f"deps:{category}", summary() if callable(summary) else summary)
    except Exception:  # noqa: BLE001 - the trace event is a courtesy; the call goes on
        pass
