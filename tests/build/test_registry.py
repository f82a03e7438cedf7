"""ctbuild's PLATFORMS registry drives the CLI, the Debian packages, the smoke runners and the
nox sessions: a new artifact type is one module plus one entry."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from ctbuild import __main__ as cli
from ctbuild import deps, platforms
from smoke import runners

ROOT = Path(__file__).resolve().parents[2]


def _choices(command: str) -> tuple[str, ...]:
    sub = next(a for a in cli.parser()._actions if a.dest == "command")
    action = next(a for a in sub.choices[command]._actions if a.dest == "platform")
    return tuple(action.choices)


def test_cli_choices_are_the_registry():
    assert _choices("build") == tuple(platforms.PLATFORMS)
    assert _choices("deps") == (*platforms.PLATFORMS, "tests")


@pytest.mark.parametrize("argv", [["build", "tests"], ["build", "flatpak"],
                                  ["verify", "CodeTracer.zip"]])
def test_a_name_outside_the_registry_is_one_line_not_a_traceback(argv, tmp_path):
    if argv[0] == "verify":
        (tmp_path / argv[1]).write_bytes(b"")
        argv = ["verify", str(tmp_path / argv[1])]
    proc = subprocess.run([sys.executable, "-m", "ctbuild", *argv], capture_output=True,
                          text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src"),
                                                    "PATH": "/usr/bin:/bin"})
    assert proc.returncode in (1, 2), proc.stderr
    assert "Traceback" not in proc.stderr
    assert "tests" in proc.stderr or "flatpak" in proc.stderr or ".AppImage" in proc.stderr


def test_tests_set_covers_every_platform_and_the_services():
    binaries, libraries = deps.requirements("tests")
    for spec in platforms.PLATFORMS.values():
        assert spec.debian.items() <= binaries.items()
        assert spec.test_debian.items() <= binaries.items()
        assert spec.libraries.items() <= libraries.items()
    assert {"wine64", "makensis", "7z", "dmg2img", "redis-server"} <= set(binaries)
    assert "postgresql" in libraries


def test_tests_set_not_root_lists_what_is_missing_and_goes_on(monkeypatch, capsys):
    monkeypatch.setattr(deps, "is_root", lambda: False)
    monkeypatch.setattr(deps.shutil, "which", lambda name, path=None: None)
    monkeypatch.setattr(deps, "deb_installed", lambda name: False)
    monkeypatch.setattr(deps.subprocess, "run", lambda *a, **k: pytest.fail("ran a command"))
    deps.ensure_for("tests", required=False)
    out = capsys.readouterr()
    line = (out.out + out.err).strip()
    assert "wine64" in line and "nsis" in line and "postgresql" in line
    with pytest.raises(deps.MissingDependency, match="wine64"):
        deps.ensure_for("tests")


def test_tests_set_as_root_installs_everything_missing(monkeypatch):
    installed: list[str] = []
    monkeypatch.setattr(deps, "is_root", lambda: True)
    monkeypatch.setattr(deps, "_apt_updated", True)
    monkeypatch.setattr(deps.shutil, "which",
                        lambda name, path=None: "/usr/bin/apt-get"
                        if name in ("apt-get", *installed) else None)
    monkeypatch.setattr(deps, "deb_installed", lambda name: name in installed)
    monkeypatch.setattr(deps, "_installable", lambda alternatives: alternatives[0])

    def fake_run(cmd, **kwargs):
        packages = cmd[5:]
        binaries, _ = deps.requirements("tests")
        installed.extend(packages)
        installed.extend(b for b, p in binaries.items() if p in packages)

    monkeypatch.setattr(deps.subprocess, "run", fake_run)
    deps.ensure_for("tests", required=False)
    assert {"wine64", "nsis", "p7zip-full", "dmg2img", "redis-server", "postgresql",
            "squashfs-tools"} <= set(installed)


def test_every_smoke_runner_named_exists():
    for name, spec in platforms.PLATFORMS.items():
        if spec.smoke_runner is not None:
            assert spec.smoke_runner in runners.RUNNERS, name


def test_a_new_artifact_type_is_one_module_plus_one_entry(monkeypatch, tmp_path):
    module = types.ModuleType("ctbuild.platforms.deb")
    module.build = lambda ctx: tmp_path / "codetracer.deb"
    module.verify = lambda artifact: None
    monkeypatch.setitem(sys.modules, "ctbuild.platforms.deb", module)
    monkeypatch.setitem(platforms.PLATFORMS, "deb", platforms.Spec(
        "linux", ".deb", "Debian package", debian={"dpkg-deb": "dpkg"}))
    assert platforms.get("deb") is module
    assert platforms.for_artifact(Path("codetracer_0.1.0_amd64.deb")) == "deb"
    assert "deb" in _choices("build") and "deb" in _choices("deps")
    assert deps.requirements("deb") == ({"dpkg-deb": "dpkg"}, {})
    assert deps.requirements("tests")[0]["dpkg-deb"] == "dpkg"
    with pytest.raises(SystemExit, match="no runner"):
        runners.runner_for(tmp_path / "codetracer.deb", tmp_path)


def test_nox_has_a_build_session_per_platform():
    nox = pytest.importorskip("nox", reason="nox is not installed (pip install nox)")
    import importlib.util

    spec = importlib.util.spec_from_file_location("noxfile_under_test", ROOT / "noxfile.py")
    noxfile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noxfile)
    sessions = set(nox.registry.get())
    assert {f"build_{name}" for name in platforms.PLATFORMS} <= sessions


def test_a_failing_apt_get_is_one_line(monkeypatch):
    monkeypatch.setattr(deps, "is_root", lambda: True)
    monkeypatch.setattr(deps, "_apt_updated", True)
    monkeypatch.setattr(deps.shutil, "which", lambda name, path=None: "/usr/bin/apt-get")

    def fail(cmd, **kwargs):
        raise subprocess.CalledProcessError(100, cmd)

    monkeypatch.setattr(deps.subprocess, "run", fail)
    with pytest.raises(deps.MissingDependency, match="failed with status 100; fix"):
        deps.apt_install(["wine64"])


def test_a_binary_debian_keeps_off_path_counts_as_installed(tmp_path, monkeypatch):
    """Debian's wine64 package installs /usr/lib/wine/wine64, not a wine64 on PATH."""
    from ctbuild import deps

    fake = tmp_path / "wine64"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(deps, "OFF_PATH_DIRS", (str(tmp_path),))
    assert deps.find_binary("wine64") == str(fake)
    deps.ensure_binaries({"wine64": "wine64"})  # found: nothing to install, no error
