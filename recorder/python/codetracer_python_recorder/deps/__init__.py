"""Dependency capture and replay: the program's calls to HTTP, Redis and PostgreSQL.

Off unless ``--deps`` (or ``CODETRACER_DEPS``) turns it on; then an import hook patches only
the libraries the program imports. ``record`` streams every call into ``deps.jsonl`` in the
trace folder (format: ``store``); ``replay=PATH`` answers every call from a capture, with no
traffic to the services (``replay``, ``matching``). Secrets are masked when recorded
(``masking``). One module per library lives in ``libs``. Integrations that capture or replay
one request or task at a time use ``scopes``, the package's public interface for that.
"""

from __future__ import annotations

import importlib
import os
import sys

from . import hook, state, store
from .libs import PATCHES

MODES = ("record", "replay")
MISS_MODES = ("error", "live")


class SpecError(ValueError):
    """A bad ``--deps`` / ``--deps-miss`` value."""


def parse_spec(spec: str) -> tuple[str, str | None]:
    """``record`` -> ("record", None); ``record,clock`` -> ("record+clock", None);
    ``replay=PATH`` -> ("replay", PATH)."""
    mode, eq, path = spec.partition("=")
    if mode in ("record", "record,clock") and not eq:
        return mode.replace(",", "+"), None
    if mode == "replay" and path:
        return "replay", path
    raise SpecError(
        f"invalid --deps (CODETRACER_DEPS) value '{spec}' (allowed: record, record,clock, "
        "replay=PATH with PATH a trace folder or a deps.jsonl)")


def enable(mode: str, *, capture_dir: str | None = None, replay_path: str | None = None,
           miss: str = "error", header: dict | None = None, loaded=None):
    """Starts capture (``capture_dir`` receives ``deps.jsonl``) or replay (from
    ``replay_path``, or ``loaded``: what ``store.load`` returned for it) and installs the
    import hook. Returns the engine."""
    if miss not in MISS_MODES:
        raise SpecError(f"invalid --deps-miss value '{miss}' (allowed: {', '.join(MISS_MODES)})")
    header = dict(header or {})
    seed = None
    from . import masking

    masking.configure(os.environ)
    if mode in ("record", "record+clock"):
        from .record import Recorder

        clock = mode == "record+clock"
        if clock:
            seed = int.from_bytes(os.urandom(8), "big")
            header["clock"] = {"random_seed": seed}
        writer = store.Writer(os.path.join(capture_dir or ".", store.FILE_NAME), header)
        engine = Recorder(writer)
    elif mode == "replay":
        from .replay import Replayer

        recorded_header, records = loaded or store.load(replay_path or "")
        clock = isinstance(recorded_header.get("clock"), dict)
        seed = recorded_header["clock"].get("random_seed") if clock else None
        engine = Replayer(records, miss=miss, source=replay_path or "")
    else:
        raise SpecError(f"invalid deps mode '{mode}' (allowed: {', '.join(MODES)})")
    state.engine = engine
    from . import fork

    fork.install()  # a forked child records into its own file, or replays its own calls
    install_hook()
    if clock:
        from .libs import clock as clock_lib

        clock_lib.install(engine, seed)
    return engine


def install_hook() -> None:
    """Patches each supported library when the program imports it (at once if loaded), and
    multiprocessing's spawn and fork server, whose processes need the capture passed on."""
    from . import spawn

    patches = {name: _patcher(lib) for name, (lib, _category) in PATCHES.items()}
    patches["multiprocessing.spawn"] = spawn.patch
    patches["multiprocessing.forkserver"] = spawn.patch_forkserver
    hook.install(patches)


def _patcher(lib: str):
    def patch(module) -> None:
        try:
            importlib.import_module(f"{__name__}.libs.{lib}").patch(module)
        except Exception as exc:  # noqa: BLE001 - the program must run even if a patch fails
            sys.stderr.write(f"codetracer deps: {module.__name__} is not captured "
                             f"(patching failed: {type(exc).__name__}: {exc})\n")

    return patch


def finish(exit_status: int | None = None) -> None:
    """Stops capture: closes the capture file, or lists recorded calls left unused."""
    engine, state.engine = state.engine, None
    hook.uninstall()
    clock = sys.modules.get(f"{__name__}.libs.clock")
    if clock is not None:
        clock.uninstall()
    if engine is not None:
        if engine.mode == "record":
            from .libs import finish_streams

            finish_streams()  # responses still open are recorded with what was read
        try:
            engine.finish(exit_status)
        except OSError as exc:
            sys.stderr.write(f"codetracer deps: cannot finish the capture: {exc}\n")
