"""Each captured or replayed call as an event of the time-travel trace (when one is recorded),
so CodeTracer's event log lists it at the step where it happened."""

from __future__ import annotations

_native = None


def emit(category: str, summary: str) -> None:
    global _native
    if _native is None:
        from .. import _native as native

        _native = native
    if not hasattr(_native, "record_event"):
        return
    try:
        if _native.is_tracing():
            _native.record_event("socket", f"deps:{category}", summary)
    except Exception:  # noqa: BLE001 - the trace event is a courtesy; the call goes on
        pass
