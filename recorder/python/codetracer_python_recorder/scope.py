"""Which files are recorded by default: not the standard library, not the recorder itself.

Third-party packages in site-packages are recorded (they are part of the user's program),
even when site-packages sits inside the standard library tree. Trace filters refine this.

A test runner is the exception: under ``-m pytest`` the user's program is the tests and the
code they call, not pytest; recording pytest's and pluggy's own code made a small suite's
trace 280x larger and its run 24x slower. ``test_runner_dirs`` names what to skip.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

#: Packages of each test runner that are its machinery, not the user's tests. unittest's
#: machinery is in the standard library, skipped anyway.
TEST_RUNNER_PACKAGES = {
    "pytest": ("pytest", "_pytest", "pluggy", "iniconfig", "py"),
    "unittest": (),
}
_CONSOLE_SCRIPTS = {"pytest": "pytest", "py.test": "pytest"}


def _variants(path: str | None) -> set[str]:
    if not path:
        return set()
    out = set()
    for p in (os.path.abspath(path), os.path.realpath(path)):
        out.add(p.rstrip(os.sep) + os.sep)
    return out


def default_scope(skip_dirs: Sequence[str] = ()) -> dict[str, list[str]]:
    """Inputs for the native filter engine: ``never`` (the recorder's own files and
    ``skip_dirs``) and ``stdlib`` (the standard library dirs; site-packages inside them
    stay recorded)."""
    never = _variants(os.path.dirname(os.path.abspath(__file__)))
    for extra in skip_dirs:  # a folder, or one module file (matched as a path prefix)
        if os.path.isfile(extra):
            never |= {os.path.abspath(extra), os.path.realpath(extra)}
        else:
            never |= _variants(extra)
    # os.py lives in the standard library; sysconfig would cost start-up time for the same.
    stdlib: set[str] = _variants(os.path.dirname(os.__file__))
    for prefix in {sys.base_prefix, sys.base_exec_prefix}:
        stdlib |= _variants(
            os.path.join(prefix, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}")
        )
    return {"never": sorted(never), "stdlib": sorted(s.rstrip(os.sep) for s in stdlib)}


def test_runner(module: str | None, script: str | None) -> str | None:
    """The test runner a target starts: ``-m pytest`` / ``-m unittest``, or pytest's console
    script (``pytest``, ``py.test``, also ``pytest-3.12`` style names)."""
    if module is not None:
        top = module.split(".")[0]
        return top if top in TEST_RUNNER_PACKAGES else None
    if script is not None:
        name = script.replace("\\", "/").rsplit("/", 1)[-1]  # a Windows path on any OS
        if name.endswith(".exe"):
            name = name[:-4]
        for prefix, runner in _CONSOLE_SCRIPTS.items():
            if name == prefix or name.startswith(prefix + "-"):
                return runner
    return None


def test_runner_dirs(runner: str | None) -> list[str]:
    """Folders of the runner's own packages, found without importing them (an import here
    would run their code before the program does)."""
    from importlib.util import find_spec

    dirs = []
    for name in TEST_RUNNER_PACKAGES.get(runner or "", ()):
        try:
            spec = find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        if spec.submodule_search_locations:  # a package: its folder
            dirs.extend(spec.submodule_search_locations)
        elif spec.origin and spec.origin.endswith(".py"):  # a single-file module: pytest.py
            dirs.append(spec.origin)
    return dirs
