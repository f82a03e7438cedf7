"""``ct install`` into a temporary HOME, as if run from an AppImage."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ct_helpers import (
    ct_env_fixture,  # noqa: F401 (pytest fixtures)
    run_ct,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux layout")


@pytest.fixture
def home_env(ct_env, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    appimage = tmp_path / "CodeTracer-x86_64.AppImage"
    appimage.write_bytes(b"\x7fELF fake")
    appimage.chmod(0o755)
    ct_env.update(HOME=str(home), APPIMAGE=str(appimage), SHELL="/bin/bash")
    return ct_env, home, appimage


def test_install_is_idempotent_and_uninstall_removes(home_env):
    env, home, appimage = home_env
    ct_link = home / ".local/bin/ct"
    shim = home / ".local/bin/ct-python-recorder"
    desktop = home / ".local/share/applications/codetracer-ct.desktop"
    icon = home / ".local/share/icons/hicolor/256x256/apps/codetracer.png"

    r = run_ct(["install"], env=env)
    assert r.returncode == 0, r.stderr
    assert os.readlink(ct_link) == str(appimage)
    assert os.readlink(shim) == str(appimage)  # AppRun dispatches on the invoked name
    text = desktop.read_text()
    assert f'Exec="{appimage}"' in text and "Icon=codetracer" in text
    assert icon.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    validator = shutil.which("desktop-file-validate")
    if validator:  # Debian desktop-file-utils; the AppImage build installs it
        check = subprocess.run([validator, str(desktop)], capture_output=True, text=True)
        assert check.returncode == 0 and check.stdout == "", check.stdout
    assert r.stdout.count("created") == 4

    r = run_ct(["install"], env=env)
    assert r.returncode == 0 and "nothing changed" in r.stdout and "created" not in r.stdout

    r = run_ct(["install", "--uninstall"], env=env)
    assert r.returncode == 0 and r.stdout.count("removed") == 4
    for p in (ct_link, shim, desktop, icon):
        assert not p.exists() and not p.is_symlink()
    r = run_ct(["install", "--uninstall"], env=env)
    assert r.returncode == 0 and "nothing to remove" in r.stdout


def test_moved_appimage_updates_links(home_env, tmp_path):
    env, home, appimage = home_env
    assert run_ct(["install"], env=env).returncode == 0
    moved = tmp_path / "Moved.AppImage"
    appimage.rename(moved)
    env["APPIMAGE"] = str(moved)
    r = run_ct(["install"], env=env)
    assert r.returncode == 0 and "updated" in r.stdout
    assert os.readlink(home / ".local/bin/ct") == str(moved)


def test_foreign_files_are_left_alone(home_env):
    env, home, _ = home_env
    own = home / ".local/bin/ct"
    own.parent.mkdir(parents=True)
    own.write_text("#!/bin/sh\necho mine\n")
    r = run_ct(["install"], env=env)
    assert r.returncode == 10 and "not a symlink" in r.stderr
    assert own.read_text() == "#!/bin/sh\necho mine\n"
    r = run_ct(["install", "--uninstall"], env=env)
    assert r.returncode == 0 and own.exists()


def test_bundle_shim_is_linked_outside_appimage(home_env, tmp_path):
    """A non-AppImage bundle: ct-python-recorder links to the bundle's bin/ shim."""
    env, home, _ = home_env
    del env["APPIMAGE"]
    bundle = tmp_path / "bundle"
    (bundle / "resources/python").mkdir(parents=True)
    (bundle / "resources/python/manifest.json").write_text('{"wheels": []}')
    (bundle / "bin").mkdir()
    (bundle / "bin/ct-python-recorder").write_text("#!/bin/sh\n")
    fake_ct = tmp_path / "pathbin" / "ct"
    fake_ct.parent.mkdir()
    fake_ct.write_text("#!/bin/sh\n")
    fake_ct.chmod(0o755)
    env["CODETRACER_RESOURCES"] = str(bundle / "resources/python")
    env["PATH"] = f"{fake_ct.parent}{os.pathsep}{env['PATH']}"
    r = run_ct(["install"], env=env)
    assert r.returncode == 0, r.stderr
    assert os.readlink(home / ".local/bin/ct") == str(fake_ct)
    assert Path(os.readlink(home / ".local/bin/ct-python-recorder")) == bundle / "bin/ct-python-recorder"


def test_macos_adds_path_line_only_when_needed(home_env, monkeypatch, capsys):
    """The macOS branch, run in-process (its only difference is the profile edit)."""
    from ct import install

    env, home, appimage = home_env
    for k in ("HOME", "SHELL", "APPIMAGE"):
        monkeypatch.setenv(k, env[k])
    monkeypatch.delenv("APPDIR", raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("SHELL", "/bin/zsh")
    profile = home / ".zprofile"
    profile.write_text("# mine\n")
    assert install.install(platform="darwin") == 0
    text = profile.read_text()
    assert text.startswith("# mine\n") and text.count('export PATH="$HOME/.local/bin:$PATH"') == 1
    assert not (home / ".local/share/applications").exists()  # no desktop entry on macOS
    assert install.install(platform="darwin") == 0
    assert profile.read_text() == text  # idempotent
    assert install.uninstall() == 0
    assert profile.read_text() == "# mine\n"
    assert not (home / ".local/bin/ct").is_symlink()
    # Already on PATH: the profile is not touched.
    monkeypatch.setenv("PATH", f"{home / '.local/bin'}:/usr/bin")
    assert install.install(platform="darwin") == 0
    assert profile.read_text() == "# mine\n"
    assert "ct install: created" in capsys.readouterr().out
