"""DMG builder: Info.plist, the UDZO writer against independent readers, the bundle layout."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from ctbuild import foreign, hfs, macsign, plist, sevenzip, udif
from ctbuild.context import BuildContext
from ctbuild.errors import BuildError
from ctbuild.platforms import VerifyError, dmg

needs = {tool: pytest.mark.skipif(shutil.which(tool) is None,
                                  reason=f"{tool} not installed (Debian: {pkg})")
         for tool, pkg in dmg.LINUX_TOOLS.items()}
needs_all = [needs["xorriso"], needs["7z"], needs["dmg2img"]]

APP = "CodeTracer.app"


# --- Info.plist -----------------------------------------------------------------------

def test_info_plist_has_required_keys_and_round_trips():
    data = plist.info_plist("1.2.3")
    info = plistlib.loads(data)
    assert plist.check_info_plist(data) == info
    assert info["CFBundleIdentifier"] == plist.BUNDLE_ID
    assert info["CFBundleExecutable"] == "ct"
    assert info["CFBundleShortVersionString"] == "1.2.3"
    assert info["LSMinimumSystemVersion"] == plist.MIN_MACOS
    assert info["CFBundlePackageType"] == "APPL"
    assert plistlib.dumps(info, sort_keys=True) == data  # stable output


def test_info_plist_bundle_version_is_numeric_for_prereleases():
    info = plistlib.loads(plist.info_plist("0.4.0rc1+g1234"))
    assert info["CFBundleShortVersionString"] == "0.4.0rc1+g1234"
    assert info["CFBundleVersion"] == "0.4.0"
    with pytest.raises(BuildError):
        plist.info_plist("dev")


def test_check_info_plist_names_a_missing_key():
    info = plistlib.loads(plist.info_plist("1.0"))
    del info["LSMinimumSystemVersion"]
    with pytest.raises(ValueError, match="LSMinimumSystemVersion"):
        plist.check_info_plist(plistlib.dumps(info))


# --- UDIF writer ------------------------------------------------------------------------

def _volume() -> bytes:
    """Not an HFS+ volume, just sectors: random-ish data, a long zero run, an odd tail."""
    data = bytes((i * 7919 + i // 511) % 251 for i in range(700_000))
    return data + bytes(600_000) + b"tail" * 100


def test_udzo_trailer_and_checksums(tmp_path):
    volume = _volume()
    image = udif.write_udzo(volume, tmp_path / "x.dmg")
    blob = image.read_bytes()
    koly = udif.read_koly(image)
    assert blob[-512:-508] == b"koly" and koly["header_size"] == 512 and koly["version"] == 4
    padded = len(volume) + (-len(volume)) % 512
    assert koly["sectors"] == padded // 512
    assert koly["data_crc32"] == zlib.crc32(blob[:koly["data_length"]])
    assert koly["xml_offset"] == koly["data_length"]
    assert koly["xml_offset"] + koly["xml_length"] == len(blob) - 512
    udif.verify_checksums(image)
    damaged = tmp_path / "damaged.dmg"
    damaged.write_bytes(blob[:100] + bytes([blob[100] ^ 1]) + blob[101:])
    with pytest.raises(ValueError, match="CRC32"):
        udif.verify_checksums(damaged)


def test_udzo_stores_zero_runs_without_data(tmp_path):
    image = udif.write_udzo(bytes(4 << 20), tmp_path / "zero.dmg")
    assert udif.read_koly(image)["data_length"] == 0


@needs["dmg2img"]
def test_udzo_round_trip_through_dmg2img(tmp_path):
    volume = _volume()
    image = udif.write_udzo(volume, tmp_path / "x.dmg")
    subprocess.run(["dmg2img", "-s", str(image), str(tmp_path / "x.img")], check=True)
    assert (tmp_path / "x.img").read_bytes() == volume + bytes((-len(volume)) % 512)


@needs["7z"]
def test_udzo_round_trip_through_7z(tmp_path):
    volume = _volume()
    image = udif.write_udzo(volume, tmp_path / "x.dmg")
    listing = subprocess.run(["7z", "l", "-tdmg", str(image)], capture_output=True, text=True)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert "Headers Error" not in listing.stdout and "CORRUPTED" not in listing.stdout
    out = subprocess.run(["7z", "x", "-tdmg", "-so", str(image)], capture_output=True, check=True)
    assert out.stdout == volume + bytes((-len(volume)) % 512)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    (root / "dir").mkdir(parents=True)
    (root / "dir" / "tool").write_text("#!/bin/sh\necho hi\n")
    (root / "dir" / "tool").chmod(0o755)
    (root / "big.bin").write_bytes(os.urandom(300_000) + bytes(500_000))
    (root / "link").symlink_to("/Applications")
    return root


@needs["xorriso"]
@needs["7z"]
@needs["dmg2img"]
def test_hfs_volume_wrapped_as_udzo_reads_back_file_for_file(tmp_path, tree):
    volume = hfs.make_volume(tree, "Test Volume", tmp_path / "scratch")
    assert volume[1024:1026] == b"H+"
    image = udif.write_udzo(volume, tmp_path / "t.dmg")
    entries = sevenzip.listing(image)
    assert entries["Test Volume/dir/tool"]["Mode"] == "-rwxr-xr-x"
    assert entries["Test Volume/link"]["Mode"].startswith("l")
    assert sevenzip.read_member(image, "Test Volume/link") == b"/Applications"
    assert sevenzip.read_member(image, "Test Volume/big.bin") == (tree / "big.bin").read_bytes()
    raw = tmp_path / "t.img"
    subprocess.run(["dmg2img", "-s", str(image), str(raw)], check=True)
    assert raw.read_bytes() == volume
    assert set(sevenzip.listing(raw, "hfs")) == set(entries)


def test_apm_parser_rejects_non_apm():
    with pytest.raises(BuildError, match="Apple Partition Map"):
        hfs.hfsplus_volume(bytes(8192))


# --- the bundle -------------------------------------------------------------------------

@pytest.fixture
def ctx(tmp_path, monkeypatch):
    monkeypatch.delenv(foreign.ENV_ARTIFACTS, raising=False)
    shims = tmp_path / "shims" / "macos"
    shims.mkdir(parents=True)
    (shims / "ct-python-recorder").write_text("#!/bin/sh\nexec python3 \"$@\"\n")
    return BuildContext.default("macos").with_(
        dist=tmp_path / "dist", build=tmp_path / "build", shims_dir=shims,
        frozen_ct=tmp_path / "no-freeze", resources_python=tmp_path / "no-stage")


def _fake_macho(path: Path, cputype: int = 0x0100000C) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xcf\xfa\xed\xfe" + cputype.to_bytes(4, "little") + bytes(64))
    path.chmod(0o755)


def _staged(resources: Path, tag: str) -> None:
    resources.mkdir(parents=True)
    manifest = {"wheels": [{"wheel": f"codetracer_python_recorder-0.1.0-cp312-abi3-{tag}.whl",
                            "version": "0.1.0", "tags": [f"cp312-abi3-{tag}"], "sha256": "0",
                            "site_dir": "cp312-abi3", "requires_python": ">=3.12"}]}
    (resources / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("tool", ["xorriso", "7z", "dmg2img"])
def test_tools_are_known(tool):
    assert tool in dmg.LINUX_TOOLS


@needs["xorriso"]
@needs["7z"]
@needs["dmg2img"]
def test_without_macos_inputs_builds_a_named_layout_test_image(ctx):
    image = dmg.build(ctx)
    assert image.name == "CodeTracer-0.1.0-macos-LAYOUT-TEST-placeholder.dmg".replace(
        "0.1.0", ctx.version)
    dmg.verify(image)
    entries = sevenzip.listing(image)
    volume = next(p for p in entries if "/" not in p)
    assert volume.endswith("LAYOUT TEST")
    ct = sevenzip.read_member(image, f"{volume}/{APP}/Contents/MacOS/ct")
    assert ct.startswith(b"#!/bin/sh") and b"LAYOUT-TEST-placeholder" in ct
    assert f"{volume}/LAYOUT-TEST-placeholder.txt" in entries
    readme = sevenzip.read_member(image, f"{volume}/Read Me First.txt").decode()
    assert "ct install" in readme and "~/.local/bin" in readme


@needs["xorriso"]
@needs["7z"]
@needs["dmg2img"]
def test_a_linux_binary_is_never_taken_for_a_macos_one(ctx, tmp_path, monkeypatch):
    artifacts = tmp_path / "artifacts"
    (artifacts / "ct-macos-x86_64").mkdir(parents=True)
    shutil.copy2("/bin/true", artifacts / "ct-macos-x86_64" / "ct")  # an ELF file
    monkeypatch.setenv(foreign.ENV_ARTIFACTS, str(artifacts))
    assert "LAYOUT-TEST-placeholder" in dmg.build(ctx).name


@needs["xorriso"]
@needs["7z"]
@needs["dmg2img"]
def test_release_artifacts_make_a_real_image(ctx, tmp_path, monkeypatch):
    artifacts = tmp_path / "artifacts"
    _fake_macho(artifacts / "ct-macos-arm64" / "ct")
    (artifacts / "ct-macos-arm64" / "_internal").mkdir()
    (artifacts / "ct-macos-arm64" / "_internal" / "base_library.zip").write_bytes(b"PK")
    _staged(ctx.resources_python, "macosx_11_0_arm64")
    monkeypatch.setenv(foreign.ENV_ARTIFACTS, str(artifacts))
    image = dmg.build(ctx)
    assert image.name == f"CodeTracer-{ctx.version}-macos-arm64.dmg"
    dmg.verify(image)
    entries = sevenzip.listing(image)
    volume = f"CodeTracer {ctx.version}"
    assert f"{volume}/{APP}/Contents/MacOS/_internal/base_library.zip" in entries
    assert f"{volume}/LAYOUT-TEST-placeholder.txt" not in entries
    manifest = sevenzip.read_member(image, f"{volume}/{APP}/Contents/Resources/python/manifest.json")
    assert "macosx_11_0_arm64" in manifest.decode()


def test_a_linux_staged_recorder_is_not_bundled_for_macos(ctx, tmp_path):
    _staged(ctx.resources_python, "manylinux_2_17_x86_64")
    assert foreign.resolve(ctx, "macos", tmp_path / "scratch").placeholder


@needs["7z"]
def test_verify_rejects_an_image_without_the_bundle(tmp_path):
    image = udif.write_udzo(bytes(1 << 20), tmp_path / "empty.dmg")
    with pytest.raises(VerifyError):
        dmg.verify(image)


# --- signing and notarization hooks -----------------------------------------------------

def test_codesign_is_ad_hoc_by_default(monkeypatch):
    monkeypatch.delenv(macsign.ENV_IDENTITY, raising=False)
    args = macsign.codesign_args(Path("CodeTracer.app"))
    assert args[:4] == ["codesign", "--force", "--sign", "-"] and args[-1] == "CodeTracer.app"
    assert "--options" not in args and "--deep" not in args  # nested code is signed first


def test_codesign_with_identity_uses_hardened_runtime(monkeypatch):
    monkeypatch.setenv(macsign.ENV_IDENTITY, "Developer ID Application: X (TEAM)")
    args = macsign.codesign_args(Path("x.dmg"))
    assert "Developer ID Application: X (TEAM)" in args
    assert ["--options", "runtime"] == args[args.index("--options"):args.index("--options") + 2]
    assert "--timestamp" in args


def test_nested_code_is_signed_deepest_first(tmp_path):
    app = tmp_path / "CodeTracer.app"
    _fake_macho(app / "Contents" / "MacOS" / "ct")
    _fake_macho(app / "Contents" / "MacOS" / "_internal" / "lib" / "deep.so")
    _fake_macho(app / "Contents" / "MacOS" / "_internal" / "libpython3.12.dylib")
    (app / "Contents" / "MacOS" / "_internal" / "base_library.zip").write_bytes(b"PK")
    names = [p.name for p in macsign.nested_code(app)]
    assert names == ["deep.so", "libpython3.12.dylib"]


def test_notary_arguments_come_from_the_environment():
    dmg_path = Path("x.dmg")
    assert macsign.notary_args(dmg_path, {}) is None
    by_profile = macsign.notary_args(dmg_path, {macsign.ENV_PROFILE: "ct-notary"})
    assert by_profile[-2:] == ["--keychain-profile", "ct-notary"]
    env = dict(zip(macsign.ENV_APPLE_ID, ["me@example.com", "TEAM", "secret"], strict=True))
    by_id = macsign.notary_args(dmg_path, env)
    assert by_id[:3] == ["xcrun", "notarytool", "submit"] and "--wait" in by_id
    assert by_id[by_id.index("--team-id") + 1] == "TEAM"


def _wheel(path: Path) -> None:
    import zipfile

    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("codetracer_python_recorder/__init__.py", f"# {path.name}\n")
        zf.writestr("codetracer_python_recorder-0.1.0.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: codetracer-python-recorder\nVersion: 0.1.0\n"
                    "Requires-Python: >=3.12\n")


def test_release_wheels_are_staged_for_the_architecture_of_ct(ctx, tmp_path, monkeypatch):
    artifacts = tmp_path / "artifacts"
    _fake_macho(artifacts / "ct-macos-x86_64" / "ct", cputype=0x01000007)
    for plat in ("macosx_11_0_arm64", "macosx_10_12_x86_64", "manylinux_2_17_x86_64",
                 "win_amd64"):
        _wheel(artifacts / "wheels" / f"codetracer_python_recorder-0.1.0-cp312-abi3-{plat}.whl")
    monkeypatch.setenv(foreign.ENV_ARTIFACTS, str(artifacts))
    inputs = foreign.resolve(ctx, "macos", tmp_path / "scratch")
    assert not inputs.placeholder and inputs.arch == "x86_64"
    manifest = json.loads((inputs.resources_python / "manifest.json").read_text())
    assert [w["wheel"] for w in manifest["wheels"]] == [
        "codetracer_python_recorder-0.1.0-cp312-abi3-macosx_10_12_x86_64.whl"]


@needs["xorriso"]
@needs["7z"]
@needs["dmg2img"]
def test_a_placeholder_image_renamed_as_real_fails_verification(ctx, tmp_path):
    image = dmg.build(ctx)
    disguised = tmp_path / f"CodeTracer-{ctx.version}-macos-arm64.dmg"
    shutil.copy2(image, disguised)
    with pytest.raises(VerifyError, match="not a macos executable"):
        dmg.verify(disguised)
