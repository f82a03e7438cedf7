"""Make sure the system tools a step needs are there.

Pip packages go into the nox session's venv; Debian packages are the machine's. As root we
install missing ones (``apt-get update`` once, then ``apt-get install``); otherwise we stop
with a message naming the package, because silently skipping a check hides real failures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping

from . import config, console
from .errors import BuildError
from .platforms import PLATFORMS, spec


class MissingDependency(BuildError):
    pass


_apt_updated = False


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def deb_installed(package: str) -> bool:
    """True when dpkg knows ``package`` as installed."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
        )
    except OSError:
        return False
    return out.returncode == 0 and "install ok installed" in out.stdout


def apt_install(packages: Iterable[str]) -> None:
    """Install Debian packages as root, running ``apt-get update`` once per process."""
    global _apt_updated
    packages = sorted(set(packages))
    if not packages:
        return
    if not is_root() or not shutil.which("apt-get"):
        raise MissingDependency(
            "missing Debian package(s): "
            + ", ".join(packages)
            + f"; install them with `sudo apt-get install -y {' '.join(packages)}`"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        if not _apt_updated:
            console.info("apt-get update")
            subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
            _apt_updated = True
        console.info(f"apt-get install {' '.join(packages)}")
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            check=True,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.CalledProcessError as exc:  # apt-get said why above
        raise MissingDependency(
            f"`{' '.join(map(str, exc.cmd))}` failed with status {exc.returncode}; "
            "fix the package source (see apt-get's message above) and retry"
        ) from None


#: Where Debian puts binaries that are not on PATH (the wine64 package: /usr/lib/wine/wine64).
OFF_PATH_DIRS = ("/usr/lib/wine",)


def find_binary(binary: str) -> str | None:
    """``binary`` on PATH, else in one of Debian's off-PATH folders."""
    return shutil.which(binary) or shutil.which(binary, path=os.pathsep.join(OFF_PATH_DIRS))


def ensure_binaries(binaries: Mapping[str, str]) -> None:
    """Ensure each binary (key) is installed, installing its Debian package (value)."""
    missing = {pkg for binary, pkg in binaries.items() if find_binary(binary) is None}
    apt_install(missing)
    still = [b for b in binaries if find_binary(b) is None]
    if still:
        raise MissingDependency(f"still missing after install: {', '.join(still)}")


def ensure_libraries(libs: Mapping[str, Iterable[str]]) -> None:
    """Ensure library packages; each entry lists alternative names (e.g. t64 renames)."""
    missing = []
    for alternatives in libs.values():
        alternatives = list(alternatives)
        if not any(deb_installed(name) for name in alternatives):
            missing.append(_installable(alternatives))
    apt_install(missing)


def _installable(alternatives: list[str]) -> str:
    """The first alternative apt knows (Debian 13 renamed libfuse2 to libfuse2t64)."""
    for name in alternatives:
        probe = subprocess.run(
            ["apt-cache", "show", name], capture_output=True, text=True
        ) if shutil.which("apt-cache") else None
        if probe is not None and probe.returncode == 0 and probe.stdout.strip():
            return name
    return alternatives[0]


#: ``ctbuild deps NAME`` beyond the platforms' own names
EXTRA_SETS = ("tests",)


def set_names() -> tuple[str, ...]:
    """Every name ``ctbuild deps`` accepts: each platform, then the extra sets."""
    return (*PLATFORMS, *EXTRA_SETS)


def requirements(name: str) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """(binary -> package, library -> alternative packages) for one set.

    ``tests`` is everything the test suite exercises: every platform's build and test tools,
    and the services of the recorder's dependency tests, so
    ``nox -s tests`` as root runs what CI runs instead of skipping.
    """
    if name == "tests":
        binaries: dict[str, str] = {}
        libraries: dict[str, tuple[str, ...]] = {}
        for entry in PLATFORMS.values():
            binaries.update(entry.debian)
            binaries.update(entry.test_debian)
            libraries.update(entry.libraries)
        binaries.update(config.DEBIAN_TEST_TOOLS)
        libraries.update(config.DEBIAN_TEST_PACKAGES)
        return binaries, libraries
    entry = spec(name)
    return dict(entry.debian), dict(entry.libraries)


def missing(name: str) -> list[str]:
    """The Debian packages of set ``name`` that are not there (nothing is installed)."""
    binaries, libraries = requirements(name)
    packages = {pkg for binary, pkg in binaries.items() if find_binary(binary) is None}
    packages.update(alternatives[0] for alternatives in libraries.values()
                    if not any(deb_installed(n) for n in alternatives))
    return sorted(packages)


def ensure_for(name: str, *, required: bool = True) -> None:
    """Everything set ``name`` needs from the system (a platform, or ``tests``).

    As root the missing packages are installed. Otherwise, ``required`` stops with their
    names; without it (the test suite, whose checks skip naming the tool they lack) one
    line lists them and the caller goes on.
    """
    binaries, libraries = requirements(name)
    if not required and not (is_root() and shutil.which("apt-get")):
        lacking = missing(name)
        if lacking:
            console.info(f"not root: {len(lacking)} Debian package(s) missing, their checks "
                         f"will skip: {' '.join(lacking)} (sudo apt-get install -y ...)")
        return
    ensure_binaries(binaries)
    ensure_libraries(libraries)
