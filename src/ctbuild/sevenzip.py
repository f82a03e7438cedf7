"""Read archives and disk images with 7-Zip, an independent reader of what we write.

Our DMG and installer builders produce formats (UDIF, HFS+, NSIS) whose readers are not
ours; checking artifacts through 7z catches writer bugs that a self-written reader would
share. `7z l -slt` prints one `Key = value` block per entry, which is what we parse.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from . import proc


def listing(archive: Path, archive_type: str | None = None) -> dict[str, dict[str, str]]:
    """Entries of `archive` as {path: {"Mode": ..., "Size": ..., "Folder": ...}}."""
    cmd = ["7z", "l", "-slt", str(archive)]
    if archive_type:
        cmd.insert(2, f"-t{archive_type}")
    out = proc.run(cmd, capture=True).stdout
    entries: dict[str, dict[str, str]] = {}
    body = out.split("\n----------\n", 1)[-1]
    for block in body.split("\n\n"):
        fields = dict(line.split(" = ", 1) for line in block.splitlines() if " = " in line)
        if "Path" in fields:
            entries[fields["Path"].replace("\\", "/")] = fields
    return entries


def read_member(archive: Path, member: str, archive_type: str | None = None) -> bytes:
    """The bytes of one member (for a symlink: its target), via `7z x -so`."""
    cmd = ["7z", "x", "-so", str(archive), member]
    if archive_type:
        cmd.insert(2, f"-t{archive_type}")
    done = subprocess.run(cmd, capture_output=True)
    if done.returncode != 0:
        raise proc.CommandFailed(f"7z could not extract {member} from {archive}: "
                                 f"{done.stderr.decode(errors='replace')}")
    return done.stdout
