"""Where ct keeps its data: the trace index and the default trace folders.

``CODETRACER_DATA_DIR`` overrides everything (tests, portable setups); otherwise the
platformdirs user data dir ``codetracer`` (honours ``XDG_DATA_HOME`` on Linux). If
platformdirs is missing (a bare source checkout) the same XDG/macOS/Windows rules are applied
by hand so ct still works.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "codetracer"
INDEX_NAME = "trace_index.db"


def _fallback_user_data_dir() -> Path:
    """Minimal platformdirs.user_data_dir equivalent for when platformdirs is absent."""
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / APP_NAME
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(base) / APP_NAME
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".local" / "share"
    return base / APP_NAME


def data_dir() -> Path:
    """The root of ct's data (index + default traces); not created here."""
    override = os.environ.get("CODETRACER_DATA_DIR")
    if override:
        return Path(override).expanduser().absolute()
    try:
        import platformdirs
    except ImportError:  # pragma: no cover - exercised only without the dependency
        return _fallback_user_data_dir()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False, roaming=False))


def traces_dir() -> Path:
    """Default parent folder of ``ct record`` output folders."""
    return data_dir() / "traces"


def index_path() -> Path:
    """The sqlite trace index."""
    return data_dir() / INDEX_NAME
