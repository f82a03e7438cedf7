"""``--with-diff`` against a real git repository built in the test."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from ct_helpers import (
    ct_env_fixture,  # noqa: F401 (pytest fixtures)
    run_ct,
)

from ct import diff

V1 = "def f(x):\n    return x\n\n\nprint(f(1))\n"
V2 = "def f(x):\n    y = x + 1\n    return y\n\n\nprint(f(2))\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "-c", "commit.gpgsign=false", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    ).stdout


@pytest.fixture
def repo(tmp_path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    (r / "app.py").write_text(V1)
    (r / "gone.py").write_text("a = 1\nb = 2\n")
    git(r, "add", ".")
    git(r, "commit", "-q", "-m", "v1")
    (r / "app.py").write_text(V2)
    (r / "gone.py").unlink()
    (r / "new.py").write_text("n = 1\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "v2")
    return r


def _files(patch: bytes) -> dict:
    return {f["path"]: f for f in diff.index_patch(patch)}


def test_last_commit(repo):
    patch = diff.produce_patch("last-commit", repo / "app.py")
    files = _files(patch)
    assert set(files) == {"app.py", "gone.py", "new.py"}
    assert files["app.py"]["added_lines"] == [2, 3, 6]
    assert files["app.py"]["removed_lines"] == [2, 5]
    assert files["app.py"]["status"] == "modified"
    assert files["gone.py"] == {"path": "gone.py", "old_path": "gone.py", "status": "deleted",
                                "added_lines": [], "removed_lines": [1, 2]}
    assert files["new.py"]["status"] == "added" and files["new.py"]["added_lines"] == [1]


def test_root_commit_and_revision_range(repo):
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    git(repo, "checkout", "-q", first)
    files = _files(diff.produce_patch("last-commit", repo / "app.py"))
    assert files["app.py"]["added_lines"] == [1, 2, 3, 4, 5] and files["app.py"]["status"] == "added"
    git(repo, "checkout", "-q", "main")
    files = _files(diff.produce_patch(f"{first}..HEAD", repo / "app.py"))
    assert files["app.py"]["added_lines"] == [2, 3, 6]


def test_patch_file_and_written_outputs(repo, tmp_path):
    patch_file = tmp_path / "change.patch"
    patch_file.write_bytes(subprocess.run(["git", "diff", "HEAD~1", "HEAD"], cwd=repo,
                                          capture_output=True, check=True).stdout)
    out = tmp_path / "trace"
    out.mkdir()
    patch = diff.produce_patch(str(patch_file), repo / "app.py")
    diff.write(out, str(patch_file), patch)
    assert (out / "diff.patch").read_bytes() == patch_file.read_bytes()
    index = json.loads((out / "diff_index.json").read_text())
    assert index["spec"] == str(patch_file)
    by_path = {f["path"]: f for f in index["files"]}
    assert by_path["app.py"]["added_lines"] == [2, 3, 6]


def test_bad_spec_fails_before_running_anything(repo, ct_env, tmp_path):
    marker = tmp_path / "ran"
    (repo / "side.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    r = run_ct(["record", "--with-diff", "no-such-rev..HEAD", "side.py"], env=ct_env, cwd=repo)
    assert r.returncode == 20
    assert r.stderr.count("\n") == 1 and "--with-diff" in r.stderr and "revision range" in r.stderr
    assert not marker.exists()
    outside = tmp_path / "plain"
    outside.mkdir()
    (outside / "x.py").write_text("pass\n")
    r = run_ct(["record", "--with-diff", "last-commit", "x.py"], env=ct_env, cwd=outside)
    assert r.returncode == 20 and "git" in r.stderr
