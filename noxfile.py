"""Nox sessions: thin wrappers around ``python -m ctbuild`` (see src/ctbuild/).

    nox -s tests            pytest (ct, build code, recorder) + cargo test, on 3.12 and 3.13
    nox -s lint             ruff, clippy, rustfmt, validate-pyproject, cibuildwheel, actionlint
    nox -s build_appimage   wheels -> freeze ct -> stage -> shims -> AppImage -> smoke test
    nox -s build_wheels | freeze_ct | stage | shims | smoke | build_dmg | build_windows | bench

build_<name> is made for each entry of ctbuild.platforms.PLATFORMS, the one registry.

Add ``-- --reuse`` to build_appimage to keep wheels / frozen ct that already exist.
"""

from __future__ import annotations

import glob
import os
import sys
from pathlib import Path

import nox
import nox.command

ROOT = Path(__file__).resolve().parent
SRC = str(ROOT / "src")
sys.path.insert(0, SRC)
from ctbuild import config  # noqa: E402  (stdlib-only module: safe in nox's interpreter)
from ctbuild.platforms import PLATFORMS  # noqa: E402  (stdlib only too)

PYTHONS = list(config.PYTHON_VERSIONS)
BUILD_PYTHON = "3.12"

nox.options.default_venv_backend = "virtualenv"
nox.options.sessions = ["lint", "tests"]
nox.options.error_on_missing_interpreters = True

PINS = config.PINS  # the one place for pins: src/ctbuild/config.py
TEST_DEPS = [PINS["pytest"], PINS["requests"], PINS["rich"], PINS["pyyaml"], PINS["actionlint"],
             PINS["nox"],
             PINS["ziglang"],  # ziglang: builds the stand-in python.exe for the .cmd shim test
             PINS["redis"], PINS["psycopg"], PINS["httpx"], PINS["asyncpg"],
             PINS["aiohttp"], PINS["pymongo"], PINS["mockupdb"],
             PINS["boto3"], PINS["moto"],  # clients for recorder/tests/deps
             PINS["starlette"], PINS["fastapi"], PINS["uvicorn"], PINS["celery"]]  # .../integrations
BUILD_DEPS = [PINS["rich"], PINS["requests"]]
#: artifacts `nox -s smoke` can run here (the first is the default)
SMOKED = [spec for spec in PLATFORMS.values() if spec.smoke_runner]


def ctbuild(session: nox.Session, *args: str) -> None:
    """Run one build step; ctbuild is imported from src/, not installed."""
    session.run("python", "-m", "ctbuild", *args, env={"PYTHONPATH": SRC})


def cargo(session: nox.Session, *args: str) -> None:
    """cargo on the recorder; PyO3's build script must see the session's Python (>= 3.12),
    not whatever `python3` means in cargo's registry directories (pyenv global: 3.11)."""
    python = os.path.join(session.bin, "python")
    command, *rest = args  # --manifest-path must precede a `--` (clippy's own flags)
    session.run("cargo", command, "--manifest-path", "recorder/Cargo.toml", *rest,
                external=True, env={"PYO3_PYTHON": python})


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole test suite: pytest over tests/ and recorder/tests, then cargo test."""
    # as root, the Debian packages the suite exercises (wine64, nsis, redis-server, ...), so
    # its checks run here as in CI; otherwise one line names what is missing and they skip
    ctbuild(session, "deps", "tests", "--if-root")
    # test-only panic injection (recorder/Cargo.toml); never enabled in released wheels
    session.install("./recorder", env={"MATURIN_PEP517_ARGS": "--features fault-injection"})
    session.install(".")
    session.install(*TEST_DEPS)
    # exit 5 = "no tests collected": not a failure while suites are still being written
    session.run("pytest", *session.posargs, success_codes=[0, 5])
    cargo(session, "test")


@nox.session(python=BUILD_PYTHON)
def lint(session: nox.Session) -> None:
    """Static checks of Python, Rust, both pyprojects, cibuildwheel config and workflows.

    Every check runs even after one fails, so one run shows all problems.
    """
    session.install(PINS["ruff"], PINS["validate-pyproject"], PINS["schema-store"],
                    PINS["cibuildwheel"], PINS["actionlint"], *BUILD_DEPS)
    failed: list[str] = []

    def check(name: str, run, *args: str) -> None:
        try:
            run(session, *args)
        except nox.command.CommandFailed:
            failed.append(name)

    def tool(s: nox.Session, *args: str) -> None:
        s.run(*args)

    check("ruff", tool, "ruff", "check", ".")
    check("clippy", cargo, "clippy", "--all-targets", "--", "-D", "warnings")
    check("rustfmt", cargo, "fmt", "--check")
    check("validate-pyproject", tool, "validate-pyproject", "pyproject.toml",
          "recorder/pyproject.toml")
    with session.chdir("recorder"):
        for platform in ("linux", "macos", "windows"):
            check(f"cibuildwheel {platform}", tool, "cibuildwheel",
                  "--print-build-identifiers", "--platform", platform)
    workflows = sorted(glob.glob(".github/workflows/*.y*ml"))
    if workflows:
        check("actionlint", tool, "actionlint", *workflows)
    else:
        session.log("no .github/workflows yet: actionlint skipped")
    if failed:
        session.error(f"lint failed: {', '.join(failed)}")


@nox.session(python=BUILD_PYTHON)
def build_wheels(session: nox.Session) -> None:
    """Recorder wheel(s) into dist/wheels (maturin + zig, manylinux2014)."""
    session.install(PINS["maturin"], PINS["ziglang"], *BUILD_DEPS)
    ctbuild(session, "wheels")


@nox.session(python=BUILD_PYTHON)
def freeze_ct(session: nox.Session) -> None:
    """PyInstaller onedir of ct into build/freeze/ct."""
    session.install(PINS["pyinstaller"], ".", *BUILD_DEPS)
    ctbuild(session, "freeze")


@nox.session(python=BUILD_PYTHON)
def stage(session: nox.Session) -> None:
    """Unpack dist/wheels into build/stage/<os>/resources/python (``-- --target macos``)."""
    session.install(*BUILD_DEPS)
    ctbuild(session, "stage", *session.posargs)


@nox.session(python=BUILD_PYTHON)
def shims(session: nox.Session) -> None:
    """Render ct-python-recorder shims into build/shims/<os> (``-- --target windows``)."""
    session.install(*BUILD_DEPS)
    ctbuild(session, "shims", *session.posargs)


def _build_session(name: str) -> None:
    """``build_<name>`` for one entry of ctbuild's PLATFORMS registry."""
    spec = PLATFORMS[name]

    def build(session: nox.Session) -> None:
        if not spec.local_inputs:  # inputs from the host's OS or CODETRACER_RELEASE_ARTIFACTS
            session.install(*BUILD_DEPS)
            ctbuild(session, "build", name)
            return
        reuse = "--reuse" in session.posargs
        session.install(PINS["maturin"], PINS["ziglang"], PINS["pyinstaller"], ".", *BUILD_DEPS)
        ctbuild(session, "deps", name)
        if not (reuse and glob.glob("dist/wheels/*.whl")):
            ctbuild(session, "wheels")
        if not (reuse and os.path.exists("build/freeze/ct")):
            ctbuild(session, "freeze")
        ctbuild(session, "stage", "--target", spec.target_os)
        ctbuild(session, "shims", "--target", spec.target_os)
        ctbuild(session, "build", name)
        if spec.smoke_runner:
            session.run("python", "-m", "smoke", *_artifacts(f"dist/*{spec.suffix}"))

    build.__doc__ = spec.description
    build.__name__ = f"build_{name}"
    nox.session(python=BUILD_PYTHON, name=f"build_{name}")(build)


for _name in PLATFORMS:
    _build_session(_name)


@nox.session(python=BUILD_PYTHON)
def smoke(session: nox.Session) -> None:
    """Smoke-test an artifact: ``nox -s smoke -- PATH [--python 3.12]`` (default dist/*.AppImage)."""
    args = session.posargs or _artifacts(f"dist/*{SMOKED[0].suffix}")
    session.install(".")  # smoke.checks opens trace.ct with ct's reader (needs zstandard)
    session.run("python", "-m", "smoke", *args)


@nox.session(python=BUILD_PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmark suite (bench/ owns what it installs and measures)."""
    session.install("./recorder", ".")
    if os.path.exists("bench/requirements.txt"):
        session.install("-r", "bench/requirements.txt")
    session.run("python", "bench/run.py", *session.posargs)


def _artifacts(pattern: str) -> list[str]:
    found = sorted(glob.glob(pattern))
    if len(found) != 1:
        raise SystemExit(f"expected exactly one {pattern}, found {found or 'none'}")
    return found
