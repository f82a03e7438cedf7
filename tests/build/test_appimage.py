"""AppImage assembly and verification, end to end with a stand-in for the frozen ct.

The stand-in is a shell script, so this runs in seconds without PyInstaller or the real
recorder; ``nox -s build_appimage`` does the same with the real pieces plus the smoke test.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from build_helpers import make_wheel, need

from ctbuild import icon, platforms, shims, stage, tools
from ctbuild.context import BuildContext
from ctbuild.platforms import VerifyError, appimage

FAKE_CT = """#!/bin/sh
# stand-in for the frozen ct: prove where it runs from and what it sees
echo "ct 0.0-test"
echo "dir=$(dirname "$(readlink -f "$0")")"
echo "APPDIR=${APPDIR-unset} ARGV0=${ARGV0-unset} PYTHONPATH=${PYTHONPATH-unset}"
"""


@pytest.fixture
def ctx(tmp_path) -> BuildContext:
    base = BuildContext.default("linux")
    ctx = base.with_(
        dist=tmp_path / "dist",
        build=tmp_path / "build",
        frozen_ct=tmp_path / "freeze" / "ct",
        resources_python=tmp_path / "stage" / "resources" / "python",
        shims_dir=tmp_path / "shims",
    )
    ctx.frozen_ct.mkdir(parents=True)
    (ctx.frozen_ct / "ct").write_text(FAKE_CT)
    (ctx.frozen_ct / "ct").chmod(0o755)
    (ctx.frozen_ct / "_internal").mkdir()
    stage.stage(make_wheel(tmp_path / "wheels").parent, ctx.resources_python,
                target_os="linux")
    shims.render_all(ctx.shims_dir, target_os="linux", version=ctx.version)
    return ctx


def test_platform_registry():
    assert platforms.get("appimage") is appimage
    assert platforms.for_artifact(Path("CodeTracer-1-x86_64.AppImage")) == "appimage"
    assert platforms.target_os("dmg") == "macos"
    with pytest.raises(ValueError):
        platforms.get("flatpak")


def test_missing_inputs_name_the_session(ctx, tmp_path):
    from ctbuild.context import MissingInput

    with pytest.raises(MissingInput, match="nox -s freeze_ct"):
        ctx.with_(frozen_ct=tmp_path / "nope").require_inputs()


def test_icon_is_a_valid_png(tmp_path):
    path = icon.write_icon(tmp_path / "i.png", size=32)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")


def test_appdir_layout_and_desktop_file(ctx):
    need("desktop-file-validate")
    appdir = appimage.assemble_appdir(ctx, ctx.build / "AppDir")
    appimage.validate_desktop(appdir / "ct.desktop")
    assert os.readlink(appdir / "usr" / "bin" / "ct") == "../lib/ct/ct"
    assert (appdir / "resources" / "python" / "manifest.json").is_file()
    assert os.access(appdir / "bin" / "ct-python-recorder", os.X_OK)
    assert os.access(appdir / "AppRun", os.X_OK)
    # ct finds the bundle by walking up from its executable's directory (architecture.md)
    start = (appdir / "usr" / "lib" / "ct").resolve()
    assert any((p / "resources" / "python" / "manifest.json").is_file()
               for p in [start, *start.parents][:4])


def test_bad_desktop_file_is_caught(tmp_path):
    need("desktop-file-validate")
    bad = tmp_path / "ct.desktop"
    bad.write_text("[Desktop Entry]\nName=x\nType=Application\nCategories=Nope\n")
    with pytest.raises(VerifyError):
        appimage.validate_desktop(bad)


@pytest.fixture
def built(ctx) -> Path:
    for tool in ("mksquashfs", "unsquashfs", "desktop-file-validate"):
        need(tool)
    try:
        tools.appimage_runtime()
    except tools.ToolNotFound as exc:
        pytest.skip(f"no AppImage runtime: {exc}")
    return appimage.build(ctx)


def test_build_and_verify(built, ctx):
    assert built == ctx.dist / f"CodeTracer-{ctx.version}-x86_64.AppImage"
    appimage.verify(built)
    assert built.read_bytes()[8:11] == b"AI\x02"


def test_verify_rejects_broken_images(built, tmp_path):
    data = built.read_bytes()
    offset = appimage.squashfs_offset(built)
    no_magic = tmp_path / "a.AppImage"
    no_magic.write_bytes(data[:8] + b"XX\x02" + data[11:])
    no_magic.chmod(0o755)
    with pytest.raises(VerifyError, match="AI"):
        appimage.verify(no_magic)
    cut = tmp_path / "b.AppImage"
    cut.write_bytes(data[:offset] + b"garbage" * 100)
    cut.chmod(0o755)
    with pytest.raises(VerifyError):
        appimage.verify(cut)


def run_appimage(path: Path, *args: str, argv0: Path | None = None):
    env = dict(os.environ, APPIMAGE_EXTRACT_AND_RUN="1")
    env.pop("PYTHONPATH", None)
    return subprocess.run([str(argv0 or path), *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_apprun_dispatch_and_clean_environment(built, tmp_path, python, monkeypatch):
    out = run_appimage(built, "--version")
    assert out.returncode == 0, out.stderr
    assert "ct 0.0-test" in out.stdout
    assert out.stdout.strip().splitlines()[1].endswith("/usr/lib/ct")
    assert "APPDIR=unset ARGV0=unset PYTHONPATH=unset" in out.stdout

    monkeypatch.setenv("CODETRACER_PYTHON_INTERPRETER", str(python))
    link = tmp_path / "ct-python-recorder"
    link.symlink_to(built)
    for res in (run_appimage(built, "ct-python-recorder", "prog.py", "a"),
                run_appimage(built, "prog.py", "a", argv0=link)):
        assert res.returncode == 3, res.stderr  # the fake recorder's status
        seen = json.loads(res.stdout)
        assert seen["argv"] == ["prog.py", "a"]
        assert seen["exe"] == str(python)
