"""``--with-diff SPEC``: store the code change a recording is about next to the trace.

SPEC is ``last-commit`` (HEAD against its parent, or everything for a root commit), an
existing patch file, or anything ``git diff`` accepts as a revision range (``main..topic``,
``HEAD~3``). The repository is the one containing the program. Output in the trace folder:
``diff.patch`` (the unified diff) and ``diff_index.json``
``{"spec", "files": [{"path", "old_path", "status", "added_lines", "removed_lines"}]}`` with
new-side line numbers for additions and old-side numbers for removals.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from ct.errors import TARGET, CtError

_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def _git(args: list[str], cwd: Path) -> bytes:
    try:
        proc = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL,
        )
    except OSError as exc:
        raise CtError(f"--with-diff needs git, which cannot run ({exc.strerror or exc}); install git", TARGET) from exc
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CtError(
            f"--with-diff: `git {' '.join(args)}` failed in {cwd}: {msg[0] if msg else proc.returncode}; "
            "use last-commit, a patch file, or a revision range like main..HEAD",
            TARGET,
        )
    return proc.stdout


def produce_patch(spec: str, program: Path) -> bytes:
    """Return the unified diff for SPEC, computed before the program runs."""
    if os.path.isfile(spec):
        try:
            return Path(spec).read_bytes()
        except OSError as exc:
            raise CtError(f"--with-diff: cannot read patch file {spec} ({exc.strerror})", TARGET) from exc
    cwd = Path(program).absolute().parent
    top = _git(["rev-parse", "--show-toplevel"], cwd).decode().strip()
    flags = ["diff", "--no-color", "--no-ext-diff", "--no-renames", "--src-prefix=a/", "--dst-prefix=b/"]
    if spec == "last-commit":
        parent = subprocess.run(
            ["git", "rev-parse", "--verify", "-q", "HEAD^"], cwd=top, capture_output=True
        )
        base = parent.stdout.decode().strip() if parent.returncode == 0 else EMPTY_TREE
        return _git([*flags, base, "HEAD"], Path(top))
    if spec.startswith("-"):
        raise CtError(f"--with-diff: {spec!r} is not a revision range; use e.g. main..HEAD", TARGET)
    return _git([*flags, spec, "--"], Path(top))


def _strip_prefix(name: bytes) -> str | None:
    name = name.split(b"\t")[0].strip()
    if name == b"/dev/null":
        return None
    text = name.decode("utf-8", "surrogateescape")
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1]
    return text[2:] if text[:2] in ("a/", "b/") else text


def index_patch(patch: bytes) -> list[dict]:
    """Parse a unified diff into per-file added/removed line numbers."""
    files: list[dict] = []
    cur: dict | None = None
    old_no = new_no = 0
    old_left = new_left = 0
    for line in patch.splitlines():
        if old_left or new_left:  # inside a hunk
            tag = line[:1]
            if tag == b"+":
                cur["added_lines"].append(new_no)
                new_no += 1
                new_left -= 1
            elif tag == b"-":
                cur["removed_lines"].append(old_no)
                old_no += 1
                old_left -= 1
            elif tag == b"\\":
                pass  # "\ No newline at end of file"
            else:
                old_no += 1
                new_no += 1
                old_left -= 1
                new_left -= 1
            continue
        if line.startswith(b"diff --git ") or (line.startswith(b"--- ") and (cur is None or cur["_hunks"])):
            cur = {"path": None, "old_path": None, "status": "modified", "added_lines": [],
                   "removed_lines": [], "_hunks": False}
            files.append(cur)
            if line.startswith(b"--- "):
                cur["old_path"] = _strip_prefix(line[4:])
            continue
        if cur is None:
            continue
        if line.startswith(b"--- "):
            cur["old_path"] = _strip_prefix(line[4:])
        elif line.startswith(b"+++ "):
            cur["path"] = _strip_prefix(line[4:])
        elif line.startswith(b"new file mode"):
            cur["status"] = "added"
        elif line.startswith(b"deleted file mode"):
            cur["status"] = "deleted"
        else:
            m = _HUNK.match(line)
            if m:
                cur["_hunks"] = True
                old_no, new_no = int(m.group(1)), int(m.group(3))
                old_left = int(m.group(2)) if m.group(2) is not None else 1
                new_left = int(m.group(4)) if m.group(4) is not None else 1
    out = []
    for f in files:
        f.pop("_hunks")
        if f["path"] is None and f["old_path"] is not None:
            f["path"], f["status"] = f["old_path"], "deleted"
        if f["old_path"] is None and f["path"] is not None and f["status"] == "modified" and f["removed_lines"] == []:
            f["status"] = "added"
        if f["path"] is not None:
            out.append(f)
    return out


def write(trace_dir: Path, spec: str, patch: bytes) -> None:
    """Write ``diff.patch`` and ``diff_index.json`` into the trace folder."""
    trace_dir = Path(trace_dir)
    (trace_dir / "diff.patch").write_bytes(patch)
    index = {"spec": spec, "files": index_patch(patch)}
    (trace_dir / "diff_index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
