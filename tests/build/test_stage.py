"""Staging: wheel selection per target OS, unpacking and the manifest."""

from __future__ import annotations

import json

import pytest
from build_helpers import make_wheel

from ctbuild import stage
from ctbuild.context import sha256_file


def test_wheel_name_expands_compressed_tags():
    name = stage.WheelName.parse(
        "codetracer_python_recorder-0.1.0-cp312-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    )
    assert name.version == "0.1.0"
    assert name.tags == (
        "cp312-abi3-manylinux_2_17_x86_64",
        "cp312-abi3-manylinux2014_x86_64",
    )
    assert name.site_dir() == "site-cp312-abi3"


def test_malformed_names_are_rejected():
    with pytest.raises(stage.StageError):
        stage.WheelName.parse("recorder.zip")
    with pytest.raises(stage.StageError):
        stage.WheelName.parse("a-b.whl")


def test_stage_writes_manifest_site_dir_and_bootstrap(tmp_path, fake_wheel):
    out = tmp_path / "resources" / "python"
    manifest = stage.stage(fake_wheel.parent, out, target_os="linux")
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    (entry,) = manifest["wheels"]
    assert entry == {
        "wheel": fake_wheel.name,
        "version": "0.1.0",
        "tags": list(stage.WheelName.parse(fake_wheel.name).tags),
        "sha256": sha256_file(fake_wheel),
        "site_dir": "site-cp312-abi3",
        "requires_python": ">=3.12",
    }
    site = out / "site-cp312-abi3"
    assert (site / "codetracer_python_recorder" / "cli.py").is_file()
    assert (site / "extra_module.py").is_file(), ".data/purelib is merged into the site dir"
    assert not any(p.name.endswith(".data") for p in site.iterdir())
    assert (out / "ct_bootstrap.py").is_file()


def test_stage_picks_wheels_of_the_target_os(tmp_path):
    wheels = tmp_path / "wheels"
    make_wheel(wheels)
    make_wheel(wheels, tag="cp312-abi3-macosx_11_0_arm64")
    make_wheel(wheels, tag="cp313-cp313-win_amd64")
    for target, site in (("linux", "site-cp312-abi3"), ("macos", "site-cp312-abi3"),
                         ("windows", "site-cp313-cp313")):
        manifest = stage.stage(wheels, tmp_path / target, target_os=target)
        assert [w["site_dir"] for w in manifest["wheels"]] == [site]


def test_per_version_wheels_get_one_site_dir_each(tmp_path):
    wheels = tmp_path / "wheels"
    make_wheel(wheels, tag="cp312-cp312-manylinux_2_17_x86_64")
    make_wheel(wheels, tag="cp313-cp313-manylinux_2_17_x86_64")
    manifest = stage.stage(wheels, tmp_path / "out", target_os="linux")
    assert sorted(w["site_dir"] for w in manifest["wheels"]) == ["site-cp312-cp312",
                                                                "site-cp313-cp313"]


def test_ambiguous_or_missing_wheels_fail_clearly(tmp_path):
    wheels = tmp_path / "wheels"
    with pytest.raises(stage.StageError, match="build_wheels"):
        stage.stage(wheels, tmp_path / "out", target_os="linux")
    make_wheel(wheels, version="0.1.0")
    make_wheel(wheels, version="0.2.0")
    with pytest.raises(stage.StageError, match="two wheels"):
        stage.stage(wheels, tmp_path / "out", target_os="linux")
