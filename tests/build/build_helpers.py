"""Helpers for the build-code tests: fake recorder wheels and real interpreters.

Imported by name (`from build_helpers import ...`): a `conftest` module name would clash
with the other test folders' conftest files in one pytest run.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest

from ctbuild import config

FAKE_CLI = '''
import json, os, sys

def main():
    print(json.dumps({
        "path0": sys.path[0],
        "argv": sys.argv[1:],
        "exe": sys.executable,
        "version": list(sys.version_info[:2]),
        "pythonpath": os.environ.get("PYTHONPATH"),
    }))
    return 3
'''


def make_wheel(
    directory: Path,
    tag: str = "cp312-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64",
    version: str = "0.1.0",
    requires_python: str = ">=3.12",
) -> Path:
    """A minimal but well-formed recorder wheel whose cli prints what it sees, exits 3."""
    name = f"{config.RECORDER_DIST_NAME}-{version}-{tag}.whl"
    dist_info = f"{config.RECORDER_DIST_NAME}-{version}.dist-info"
    files = {
        "codetracer_python_recorder/__init__.py": "",
        "codetracer_python_recorder/cli.py": FAKE_CLI,
        f"{config.RECORDER_DIST_NAME}-{version}.data/purelib/extra_module.py": "X = 1\n",
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: codetracer-python-recorder\nVersion: {version}\n"
            f"Requires-Python: {requires_python}\n"
        ),
        f"{dist_info}/WHEEL": f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n",
    }
    record = []
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(directory / name, "w") as zf:
        for path, text in files.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{path},sha256={digest.decode()},{len(data)}")
            zf.writestr(path, data)
        zf.writestr(f"{dist_info}/RECORD", "\n".join(record + [f"{dist_info}/RECORD,,"]))
    return directory / name


@pytest.fixture
def fake_wheel(tmp_path: Path) -> Path:
    return make_wheel(tmp_path / "wheels")


def interpreter(version: str) -> Path | None:
    """A pyenv interpreter for a short version (``3.12``), any patch release."""
    path = config.pyenv_python(version)
    if path.exists():
        return path
    found = sorted((config.pyenv_root() / "versions").glob(f"{version}.*/bin/python"))
    return found[-1] if found else None


@pytest.fixture(params=list(config.PYTHON_VERSIONS))
def python(request) -> Path:
    path = interpreter(request.param)
    if path is None:
        pytest.skip(f"Python {request.param} not installed under pyenv")
    return path


def need(binary: str) -> str:
    found = shutil.which(binary)
    if not found:
        pytest.skip(f"{binary} not installed (.ci/run installs it)")
    return found
