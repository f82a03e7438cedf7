"""The import hook: patch a supported library right after the program imports it.

Nothing is imported eagerly: a library the program never imports is never loaded or patched.
A module that is already loaded when capture starts is patched at once.
"""

from __future__ import annotations

import importlib.abc
import sys


class _PatchingLoader(importlib.abc.Loader):
    """Runs the real loader, then the patch."""

    def __init__(self, loader, patch) -> None:
        self._loader = loader
        self._patch = patch

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name):  # get_resource_reader, is_package, ... of the real loader
        return getattr(self._loader, name)


class PatchFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of the watched module names; finds nothing itself."""

    def __init__(self, patches: dict) -> None:
        self.patches = patches  # module name -> callable(module)

    def find_spec(self, fullname, path, target=None):
        patch = self.patches.get(fullname)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader, patch)
                return spec
        return None


_finder: PatchFinder | None = None


def install(patches: dict) -> None:
    global _finder
    _finder = PatchFinder(patches)
    sys.meta_path.insert(0, _finder)
    for name, patch in patches.items():
        module = sys.modules.get(name)
        if module is not None:
            patch(module)


def uninstall() -> None:
    global _finder
    if _finder is not None and _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    _finder = None
