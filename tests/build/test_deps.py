"""Debian dependency handling: install as root, otherwise a message naming the package."""

from __future__ import annotations

import pytest

from ctbuild import deps


def test_non_root_gets_a_message_naming_the_package(monkeypatch):
    monkeypatch.setattr(deps, "is_root", lambda: False)
    monkeypatch.setattr(deps.shutil, "which", lambda name, path=None: None)
    with pytest.raises(deps.MissingDependency, match="squashfs-tools"):
        deps.ensure_binaries({"mksquashfs": "squashfs-tools"})


def test_root_runs_update_once_then_install(monkeypatch):
    calls = []
    present = set()
    monkeypatch.setattr(deps, "is_root", lambda: True)
    monkeypatch.setattr(deps, "_apt_updated", False)
    monkeypatch.setattr(deps.shutil, "which",
                        lambda name, path=None: f"/usr/bin/{name}"
                        if name in present or name == "apt-get" else None)

    def fake_run(cmd, **kwargs):
        calls.append(cmd[:2])
        if cmd[1] == "install":
            present.update({"mksquashfs", "unsquashfs"})

    monkeypatch.setattr(deps.subprocess, "run", fake_run)
    deps.ensure_binaries({"mksquashfs": "squashfs-tools", "unsquashfs": "squashfs-tools"})
    deps.apt_install(["desktop-file-utils"])
    assert calls == [["apt-get", "update"], ["apt-get", "install"], ["apt-get", "install"]]


def test_nothing_missing_does_nothing(monkeypatch):
    monkeypatch.setattr(deps.shutil, "which", lambda name, path=None: "/bin/" + name)
    monkeypatch.setattr(deps.subprocess, "run", lambda *a, **k: pytest.fail("ran a command"))
    deps.ensure_binaries({"sh": "dash"})
