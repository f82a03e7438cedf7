"""Which files are recorded by default: not the standard library, not the recorder itself.

Third-party packages in site-packages are recorded (they are part of the user's program),
even when site-packages sits inside the standard library tree. Trace filters refine this.
"""

from __future__ import annotations

import os
import sys


def _variants(path: str | None) -> set[str]:
    if not path:
        return set()
    out = set()
    for p in (os.path.abspath(path), os.path.realpath(path)):
        out.add(p.rstrip(os.sep) + os.sep)
    return out


def default_scope() -> dict[str, list[str]]:
    """Inputs for the native filter engine: ``never`` (the recorder's own files) and
    ``stdlib`` (the standard library dirs; site-packages inside them stay recorded)."""
    never = _variants(os.path.dirname(os.path.abspath(__file__)))
    # os.py lives in the standard library; sysconfig would cost start-up time for the same.
    stdlib: set[str] = _variants(os.path.dirname(os.__file__))
    for prefix in {sys.base_prefix, sys.base_exec_prefix}:
        stdlib |= _variants(os.path.join(prefix, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}"))
    return {"never": sorted(never), "stdlib": sorted(s.rstrip(os.sep) for s in stdlib)}
