"""The ``[deps]`` table of the trace filter TOML: more secrets to mask, the side-file size.

    [deps]
    mask_headers = ["X-Internal-Token"]   # header names whose values are masked
    mask_words = ["pin", "card_number"]   # secret words of keys (one word, or two adjacent)
    side_file_bytes = 65536               # longer bodies go to deps-bodies/ side files

The native filter loader parses and checks the table with the rest of the filter chain, found
as for tracing (the project's ``.codetracer/trace-filter.toml``, ``CODETRACER_TRACE_FILTER``,
``--trace-filter``): one parser, and a bad value stops the recorder before the program runs.
This module only applies what the loader returns; the built-in rules always stay on.
"""

from __future__ import annotations

import os

from . import masking, store


def load(script_dir: str | None, trace_filters) -> dict:
    """The chain's merged ``[deps]`` settings; raises the recorder's filter error."""
    from .. import _native

    return dict(_native.deps_settings(script_dir=script_dir,
                                      trace_filters=[os.fspath(p) for p in trace_filters]))


def apply(settings: dict | None) -> None:
    """Adds the configured secrets to the masking rules and sets the side-file size. Applied
    in replay too: live calls are masked as the recorded ones were, or they would not match."""
    if not settings:
        return
    from . import spawn

    spawn.remember_settings(settings)  # a spawned child applies them too
    words = [w.split("_") for w in settings.get("mask_words") or []]
    masking.configure({
        "CODETRACER_DEPS_MASK_HEADERS": ",".join(settings.get("mask_headers") or []),
        "CODETRACER_DEPS_MASK_WORDS": ",".join(w[0] for w in words if len(w) == 1),
    })
    pairs = {(w[0], w[1]) for w in words if len(w) == 2}
    if pairs:
        masking.SECRET_PAIRS = masking.SECRET_PAIRS | pairs
        masking._secret_name.cache_clear()
    size = settings.get("side_file_bytes")
    if size is not None:
        store.SIDE_FILE_BYTES = size
        store._SIDE_B64 = (size + 2) // 3 * 4
