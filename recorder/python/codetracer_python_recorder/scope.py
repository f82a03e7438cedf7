"""Which files are recorded by default: not the standard library, not the recorder itself.

Third-party packages in site-packages are recorded (they are part of the user's program),
even when site-packages sits inside the standard library tree.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig


def _variants(path: str | None) -> set[str]:
    if not path:
        return set()
    out = set()
    for p in (os.path.abspath(path), os.path.realpath(path)):
        out.add(p.rstrip(os.sep) + os.sep)
    return out


def default_scope() -> dict[str, list[str]]:
    """Prefix lists for the native tracer: ``never``, ``keep`` and ``skip``."""
    paths = sysconfig.get_paths()
    never = _variants(os.path.dirname(os.path.abspath(__file__)))
    keep: set[str] = set()
    for p in (paths.get("purelib"), paths.get("platlib"), *site.getsitepackages()):
        keep |= _variants(p)
    if site.ENABLE_USER_SITE and site.getusersitepackages():
        keep |= _variants(site.getusersitepackages())
    skip: set[str] = set()
    for p in (paths.get("stdlib"), paths.get("platstdlib")):
        skip |= _variants(p)
    for prefix in {sys.base_prefix, sys.base_exec_prefix}:
        skip |= _variants(os.path.join(prefix, "lib", "python%d.%d" % sys.version_info[:2]))
    return {"never": sorted(never), "keep": sorted(keep), "skip": sorted(skip)}
