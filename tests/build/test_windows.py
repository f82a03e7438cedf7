"""Windows installer: NSIS script generation, makensis, and the installer itself under wine64."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ctbuild import foreign, nsis
from ctbuild.context import BuildContext
from ctbuild.platforms import VerifyError, windows

needs_makensis = pytest.mark.skipif(shutil.which("makensis") is None,
                                    reason="makensis not installed (Debian: nsis)")
needs_7z = pytest.mark.skipif(shutil.which("7z") is None,
                              reason="7z not installed (Debian: p7zip-full)")
UNINST_KEY = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\CodeTracer"


def _payload(root: Path) -> Path:
    (root / "_internal").mkdir(parents=True)
    (root / "ct.exe").write_bytes(b"MZ placeholder")
    (root / "_internal" / "python312.dll").write_bytes(b"MZ")
    pkg = root / "resources" / "python" / "cp312-abi3" / "codetracer_python_recorder"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (root / "resources" / "python" / "manifest.json").write_text("{}")
    (root / "bin").mkdir()
    (root / "bin" / "ct-python-recorder.cmd").write_text("@echo off\r\n")
    (root / "odd $name.txt").write_text("x")
    return root


# --- script generation ------------------------------------------------------------------

def test_script_installs_and_uninstalls_every_file(tmp_path):
    payload = _payload(tmp_path / "payload")
    text = nsis.render(payload, tmp_path / "setup.exe", "1.2.3")
    assert "Target amd64-unicode" in text and "RequestExecutionLevel user" in text
    assert "@" not in re.sub(r";.*", "", text)  # every field filled (comments aside)
    for f in (p for p in payload.rglob("*") if p.is_file()):
        rel = str(f.relative_to(payload)).replace("/", "\\").replace("$", "$$")
        assert f'File "{f.resolve()}"' in text  # compile-time path: `$` stays literal
        assert f'Delete "$INSTDIR\\{rel}"' in text
    assert 'SetOutPath "$INSTDIR\\resources\\python\\cp312-abi3\\codetracer_python_recorder"' in text
    assert 'RMDir /r "$INSTDIR\\resources\\python\\cp312-abi3\\codetracer_python_recorder\\__pycache__"' in text
    # Never a recursive delete of the install dir itself (it may be a folder the user chose).
    assert not re.search(r'RMDir /r "\$INSTDIR"', text)
    assert 'VIProductVersion "1.2.3.0"' in text


def test_uninstall_removes_deeper_directories_first(tmp_path):
    lines = nsis.uninstall_lines(_payload(tmp_path / "p"))
    rmdirs = [line.split('"')[1] for line in lines if line.strip().startswith("RMDir \"")]
    assert rmdirs.index("$INSTDIR\\resources\\python") < rmdirs.index("$INSTDIR\\resources")


@pytest.mark.parametrize(("version", "expected"), [
    ("1.2.3", "1.2.3.0"), ("0.4.0rc1", "0.4.0.0"), ("2", "2.0.0.0"), ("1.2.3+g5", "1.2.3.0")])
def test_vi_version_has_four_numbers(version, expected):
    assert nsis.vi_version(version) == expected


def test_escape_keeps_nsis_variables_out_of_file_names():
    assert nsis.quote('a$b"c') == '"a$$b$\\"c"'


# --- building ---------------------------------------------------------------------------

@pytest.fixture
def ctx(tmp_path, monkeypatch):
    monkeypatch.delenv(foreign.ENV_ARTIFACTS, raising=False)
    shims = tmp_path / "shims" / "windows"
    shims.mkdir(parents=True)
    (shims / "ct-python-recorder.cmd").write_text("@echo off\r\npython %*\r\n")
    return BuildContext.default("windows").with_(
        dist=tmp_path / "dist", build=tmp_path / "build", shims_dir=shims,
        frozen_ct=tmp_path / "no-freeze", resources_python=tmp_path / "no-stage")


def _fake_pe(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    head = bytearray(0x100)
    head[:2] = b"MZ"
    head[0x3C:0x40] = (0x80).to_bytes(4, "little")
    head[0x80:0x86] = b"PE\0\0\x64\x86"
    path.write_bytes(bytes(head))


def _stage_windows_recorder(resources: Path) -> None:
    pkg = resources / "cp312-abi3" / "codetracer_python_recorder"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    tag = "cp312-abi3-win_amd64"
    (resources / "manifest.json").write_text(json.dumps({"wheels": [
        {"wheel": f"codetracer_python_recorder-0.1.0-{tag}.whl", "version": "0.1.0",
         "tags": [tag], "sha256": "0", "site_dir": "cp312-abi3", "requires_python": ">=3.12"}]}))


@needs_makensis
@needs_7z
def test_without_windows_inputs_builds_a_named_layout_test_installer(ctx):
    exe = windows.build(ctx)
    assert exe.name == f"CodeTracer-{ctx.version}-windows-LAYOUT-TEST-placeholder-setup.exe"
    windows.verify(exe)


@needs_makensis
@needs_7z
def test_release_artifacts_make_a_real_installer(ctx, tmp_path, monkeypatch):
    artifacts = tmp_path / "artifacts"
    _fake_pe(artifacts / "ct-windows-x86_64" / "ct.exe")
    _stage_windows_recorder(ctx.resources_python)
    monkeypatch.setenv(foreign.ENV_ARTIFACTS, str(artifacts))
    exe = windows.build(ctx)
    assert exe.name == f"CodeTracer-{ctx.version}-windows-x86_64-setup.exe"
    windows.verify(exe)


@needs_makensis
def test_a_linux_binary_is_never_taken_for_ct_exe(ctx, tmp_path, monkeypatch):
    artifacts = tmp_path / "artifacts"
    (artifacts / "ct-windows-x86_64").mkdir(parents=True)
    shutil.copy2("/bin/true", artifacts / "ct-windows-x86_64" / "ct.exe")
    monkeypatch.setenv(foreign.ENV_ARTIFACTS, str(artifacts))
    assert "LAYOUT-TEST-placeholder" in windows.build(ctx).name


@needs_makensis
def test_verify_rejects_a_32_bit_installer(tmp_path):
    script = tmp_path / "x.nsi"
    script.write_text(f'Target x86-unicode\nOutFile "{tmp_path / "x.exe"}"\nSection\nSectionEnd\n')
    subprocess.run(["makensis", "-V1", str(script)], check=True)
    with pytest.raises(VerifyError, match="64-bit"):
        windows.verify(tmp_path / "x.exe")


# --- the installer under wine64 ---------------------------------------------------------

def _wine() -> tuple[str, str] | None:
    wine = shutil.which("wine64") or ("/usr/lib/wine/wine64" if os.path.exists(
        "/usr/lib/wine/wine64") else None) or shutil.which("wine")
    server = shutil.which("wineserver") or ("/usr/lib/wine/wineserver64" if os.path.exists(
        "/usr/lib/wine/wineserver64") else None)
    return (wine, server) if wine and server else None


class Wine:
    """A throw-away 64-bit wine prefix; every call waits for wine to go idle."""

    def __init__(self, prefix: Path):
        self.wine, self.server = _wine()
        self.prefix = prefix
        self.env = dict(os.environ, WINEPREFIX=str(prefix), WINEDEBUG="-all", WINEARCH="win64",
                        WINEDLLOVERRIDES="mscoree,mshtml=")
        self.env.pop("DISPLAY", None)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([self.wine, *args], env=self.env, capture_output=True,
                              text=True, timeout=300)
        # NSIS uninstallers re-launch themselves from %TEMP%: wait for every wine process.
        subprocess.run([self.server, "-w"], env=self.env, timeout=300)
        if check and done.returncode != 0:
            raise AssertionError(f"wine {args} -> {done.returncode}\n{done.stdout}{done.stderr}")
        return done

    def uninstall(self, target: str) -> None:
        """Run `uninstall.exe /S` as Windows runs QuietUninstallString, and wait for it.

        This outer process only copies itself to %TEMP% and relaunches; its exit status says
        whether that relaunch worked, not what the uninstall did (NSIS manual, D.1). Under wine
        it came back 1 once in CI, so callers check what the uninstall did instead, and
        test_the_uninstall_section_itself_exits_0 checks the section's own exit status.
        """
        self.run(f"{target}\\uninstall.exe", "/S", check=False)

    def c(self, windows_path: str) -> Path:
        """Host path of a C:\\ path inside the prefix."""
        return self.prefix / "drive_c" / windows_path[3:].replace("\\", "/")

    def reg_values(self, key: str) -> dict[str, tuple[str, str]] | None:
        done = self.run("reg", "query", key, check=False)
        if done.returncode != 0:
            return None
        values = {}
        for line in done.stdout.splitlines():
            m = re.match(r"^\s+(\S+)\s+(REG_\w+)\s+(.*)$", line)
            if m:
                values[m.group(1)] = (m.group(2), m.group(3).rstrip("\r"))
        return values

    def user_path(self) -> tuple[str, str] | None:
        return (self.reg_values(r"HKCU\Environment") or {}).get("Path")

    def set_user_path(self, value: str | None) -> None:
        if value is None:
            self.run("reg", "delete", r"HKCU\Environment", "/v", "Path", "/f", check=False)
        else:
            self.run("reg", "add", r"HKCU\Environment", "/v", "Path", "/t", "REG_EXPAND_SZ",
                     "/d", value, "/f")


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    if _wine() is None:
        pytest.skip("wine64 not installed (Debian: wine64); CI installs it")
    # wine's first boot of a new prefix now and then fails on a loaded machine (seen in CI:
    # "failed to open syswow64\\rundll32.exe", while the same run passed on the other
    # Python): a second, fresh prefix is tried before the tests fail
    for attempt in (1, 2):
        w = Wine(tmp_path_factory.mktemp("wineprefix") / "prefix")
        if w.run("wineboot", "-i", check=attempt == 2).returncode == 0:
            return w
    return w


@pytest.fixture(scope="module")
def installer(tmp_path_factory):
    if shutil.which("makensis") is None:
        pytest.skip("makensis not installed (Debian: nsis)")
    tmp = tmp_path_factory.mktemp("installer")
    shims = tmp / "shims"
    shims.mkdir()
    (shims / "ct-python-recorder.cmd").write_text("@echo off\r\npython %*\r\n")
    _stage_windows_recorder(tmp / "stage")
    old = os.environ.pop(foreign.ENV_ARTIFACTS, None)
    try:
        ctx = BuildContext.default("windows").with_(
            dist=tmp / "dist", build=tmp / "build", shims_dir=shims,
            frozen_ct=tmp / "no-freeze", resources_python=tmp / "stage")
        return windows.build(ctx)
    finally:
        if old is not None:
            os.environ[foreign.ENV_ARTIFACTS] = old


INSTALLED = ("ct.exe", "uninstall.exe", "bin/ct-python-recorder.cmd", "bin/ct.cmd",
             "resources/python/manifest.json",
             "resources/python/cp312-abi3/codetracer_python_recorder/__init__.py")


def test_silent_install_and_uninstall_leave_the_user_path_as_it_was(wine, installer):
    target = "C:\\CodeTracerTest"
    before = "C:\\keep1;%USERPROFILE%\\keep2;;C:\\keep3"
    wine.set_user_path(before)
    wine.run(str(installer), "/S", f"/D={target}")

    home = wine.c(target)
    for rel in INSTALLED:
        assert (home / rel).is_file(), rel
    assert wine.user_path() == ("REG_EXPAND_SZ", f"{before};{target}\\bin")
    key = wine.reg_values(UNINST_KEY)
    assert key["UninstallString"] == ("REG_SZ", f'"{target}\\uninstall.exe"')
    assert key["QuietUninstallString"][1] == f'"{target}\\uninstall.exe" /S'
    assert key["InstallLocation"][1] == target
    assert key["DisplayName"][1].startswith("CodeTracer ")

    # the user's interpreter imports the bundled recorder and leaves bytecode behind
    cache = home / "resources/python/cp312-abi3/codetracer_python_recorder/__pycache__"
    cache.mkdir()
    (cache / "__init__.cpython-312.pyc").write_bytes(b"\0")

    wine.uninstall(target)
    assert not home.exists(), sorted(str(p) for p in home.rglob("*"))
    assert wine.user_path() == ("REG_EXPAND_SZ", before)
    assert wine.reg_values(UNINST_KEY) is None


def test_an_entry_the_user_already_had_is_neither_doubled_nor_removed(wine, installer):
    target = "C:\\CodeTracerTwice"
    before = f"{target}\\bin;C:\\other"
    wine.set_user_path(before)
    wine.run(str(installer), "/S", f"/D={target}")
    assert wine.user_path() == ("REG_EXPAND_SZ", before)
    wine.uninstall(target)
    assert wine.user_path() == ("REG_EXPAND_SZ", before)
    assert not wine.c(target).exists()


def test_without_a_user_path_the_value_is_created_and_removed_again(wine, installer):
    target = "C:\\CodeTracerFresh"
    wine.set_user_path(None)
    wine.run(str(installer), "/S", f"/D={target}")
    assert wine.user_path() == ("REG_EXPAND_SZ", f"{target}\\bin")
    wine.uninstall(target)
    assert wine.user_path() is None
    assert wine.reg_values(UNINST_KEY) is None


def test_the_uninstall_section_itself_exits_0(wine, installer):
    """`_?=DIR` runs the uninstaller in place, so its exit status is the section's own."""
    target = "C:\\CodeTracerInPlace"
    wine.set_user_path("C:\\keep")
    wine.run(str(installer), "/S", f"/D={target}")
    wine.run(f"{target}\\uninstall.exe", "/S", f"_?={target}")  # check=True: rc must be 0
    home = wine.c(target)
    # a running uninstaller cannot delete itself: only it is left
    assert sorted(p.name for p in home.rglob("*")) == ["uninstall.exe"]
    assert wine.user_path() == ("REG_EXPAND_SZ", "C:\\keep")
    assert wine.reg_values(UNINST_KEY) is None


WINE_CMD = Path("/usr/lib/x86_64-linux-gnu/wine/x86_64-windows/cmd.exe")


def test_ct_is_on_path_and_forwards_arguments_and_exit_status(wine, tmp_path, monkeypatch):
    """`ct` typed in a new shell reaches ct.exe through bin\\ct.cmd.

    Stand-in for ct.exe: wine's own cmd.exe (a real amd64 PE), so `ct /c ...` runs a command.
    """
    if not WINE_CMD.exists() or shutil.which("makensis") is None:
        pytest.skip("needs wine64's cmd.exe and makensis")
    artifacts = tmp_path / "artifacts"
    (artifacts / "ct-windows-x86_64").mkdir(parents=True)
    shutil.copy2(WINE_CMD, artifacts / "ct-windows-x86_64" / "ct.exe")
    monkeypatch.setenv(foreign.ENV_ARTIFACTS, str(artifacts))
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "ct-python-recorder.cmd").write_text("@echo off\r\n")
    ctx = BuildContext.default("windows").with_(
        dist=tmp_path / "dist", build=tmp_path / "build", shims_dir=shims,
        frozen_ct=tmp_path / "no-freeze", resources_python=tmp_path / "no-stage")
    setup = windows.build(ctx)
    target = "C:\\CodeTracerCmd"
    wine.set_user_path("C:\\keep")
    wine.run(str(setup), "/S", f"/D={target}")
    try:
        # a new process reads the user PATH from the registry, as a new Windows shell does
        assert wine.run("cmd", "/c", "ct", "/c", "exit", "7", check=False).returncode == 7
        out = wine.run("cmd", "/c", "ct", "/c", "echo", "two", "words").stdout
        assert out.strip() == "two words"
    finally:
        wine.uninstall(target)
    assert not wine.c(target).exists()
    assert wine.user_path() == ("REG_EXPAND_SZ", "C:\\keep")


def _installer_of(payload: Path, out: Path, version: str) -> Path:
    script = out.with_suffix(".nsi")
    script.write_text(nsis.render(payload, out, version), encoding="utf-8")
    subprocess.run(["makensis", "-V1", "-INPUTCHARSET", "UTF8", str(script)], check=True)
    return out


def test_an_upgrade_removes_files_the_new_version_dropped(wine, tmp_path):
    if shutil.which("makensis") is None:
        pytest.skip("makensis not installed (Debian: nsis)")
    old = _payload(tmp_path / "old")
    (old / "resources" / "python" / "dropped_in_v2.py").write_text("")
    new = _payload(tmp_path / "new")
    v1 = _installer_of(old, tmp_path / "v1-setup.exe", "1.0.0")
    v2 = _installer_of(new, tmp_path / "v2-setup.exe", "2.0.0")
    target = "C:\\CodeTracerUpgrade"
    wine.set_user_path("C:\\keep")
    wine.run(str(v1), "/S", f"/D={target}")
    home = wine.c(target)
    assert (home / "resources/python/dropped_in_v2.py").is_file()
    wine.run(str(v2), "/S", f"/D={target}")
    assert not (home / "resources/python/dropped_in_v2.py").exists()
    assert (home / "ct.exe").is_file() and (home / "uninstall.exe").is_file()
    assert wine.user_path() == ("REG_EXPAND_SZ", f"C:\\keep;{target}\\bin")
    assert wine.reg_values(UNINST_KEY)["DisplayVersion"][1] == "2.0.0"
    wine.uninstall(target)
    assert not home.exists()
    assert wine.user_path() == ("REG_EXPAND_SZ", "C:\\keep")
    assert wine.reg_values(UNINST_KEY) is None


def test_a_foreign_uninstaller_in_the_target_folder_is_never_run(wine, tmp_path):
    if shutil.which("makensis") is None:
        pytest.skip("makensis not installed (Debian: nsis)")
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    other_exe = _installer_of(other, tmp_path / "other-setup.exe", "9.9.9")
    target = "C:\\SomeOtherApp"
    # "another program" that happens to use an NSIS uninstaller too, in the folder we get /D=
    wine.run(str(other_exe), "/S", f"/D={target}")
    wine.run("reg", "delete", UNINST_KEY, "/f")  # it is not CodeTracer: no key of ours
    assert (wine.c(target) / "keep.txt").is_file()
    ours = _installer_of(_payload(tmp_path / "ours"), tmp_path / "ours-setup.exe", "1.0.0")
    wine.run(str(ours), "/S", f"/D={target}")
    assert (wine.c(target) / "keep.txt").is_file()
    wine.uninstall(target)
    assert (wine.c(target) / "keep.txt").is_file()  # only what we installed is gone
    assert not (wine.c(target) / "ct.exe").exists()


@needs_makensis
@needs_7z
def test_a_placeholder_installer_renamed_as_real_fails_verification(ctx, tmp_path):
    exe = windows.build(ctx)
    disguised = tmp_path / f"CodeTracer-{ctx.version}-windows-x86_64-setup.exe"
    shutil.copy2(exe, disguised)
    with pytest.raises(VerifyError, match="not a windows executable"):
        windows.verify(disguised)
