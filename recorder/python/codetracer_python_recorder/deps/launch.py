"""The recorder CLI's side of ``--deps``: checked before the program starts (a bad value or
capture stops with a usage error and no trace), started once the trace folder exists."""

from __future__ import annotations

import os
import sys
import time

from .. import deps
from ..errors import make_error
from . import config, store


class Plan:
    """What ``--deps`` asked for, validated."""

    def __init__(self, mode: str, replay_path: str | None, miss: str, only: bool,
                 loaded=None, settings: dict | None = None) -> None:
        self.mode, self.replay_path, self.miss, self.only = mode, replay_path, miss, only
        self.loaded = loaded  # the capture to replay, read once by prepare()
        self.settings = settings  # the filter chain's [deps] table (``config``)

    def start(self, session, program: str, args: list[str]) -> None:
        capture_dir = None
        if self.mode.startswith("record"):
            capture_dir = getattr(session, "_staging", None) if not self.only else None
            if capture_dir is None:
                capture_dir = _own_folder(session.trace_dir)
        header = {"program": program, "args": list(args), "started_at": time.time(),
                  "python": ".".join(map(str, sys.version_info[:3])), "tracing": not self.only}
        deps.enable(self.mode, capture_dir=str(capture_dir) if capture_dir else None,
                    replay_path=self.replay_path, miss=self.miss, header=header,
                    loaded=self.loaded)
        config.apply(self.settings)  # before the program runs: no call is made before this


def prepare(spec: str | None, miss: str | None, only: bool, *, script_dir: str | None = None,
            trace_filters=()) -> Plan | None:
    """Validates ``--deps``/``--deps-miss``/``--deps-only`` and the filter chain's ``[deps]``
    table (``script_dir`` and ``trace_filters`` find it as tracing does); raises the recorder's
    usage error, or its filter error."""
    if not spec:
        if only:
            raise make_error("ERR_INVALID_ARGUMENT",
                             "--deps-only needs --deps record or --deps replay=PATH")
        return None
    try:
        mode, path = deps.parse_spec(spec)
        if (miss or "error") not in deps.MISS_MODES:
            raise deps.SpecError(
                f"invalid --deps-miss value '{miss}' (allowed: {', '.join(deps.MISS_MODES)})")
        loaded = None
        if path is not None:
            path = os.path.abspath(path)
            loaded = store.load(path)  # fail now, before the program runs, if it cannot be
            # replayed; the Replayer gets what was read
    except (deps.SpecError, store.CaptureError) as exc:
        raise make_error("ERR_INVALID_ARGUMENT", str(exc)) from None
    settings = config.load(script_dir, trace_filters)
    return Plan(mode, path, miss or "error", only, loaded, settings)


def _own_folder(trace_dir) -> str:
    """``--deps-only``: the capture goes straight into the trace folder (new or empty)."""
    from ..session import check_target_dir

    check_target_dir(trace_dir)
    os.makedirs(trace_dir, exist_ok=True)
    return str(trace_dir)


def finish(exit_status: int) -> None:
    deps.finish(exit_status)
