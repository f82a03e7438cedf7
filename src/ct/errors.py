"""One error type for everything ct reports, each with a documented exit status.

Statuses come from ``ct.contract`` (shared with the bundle bootstrap and checked against the
recorder's native module); they line up with the recorder's (docs/architecture.md), so a caller cannot tell a ct
failure from a recorder failure of the same kind, and neither collides with the shell's 127:

====  ==============================================================================
0     success (``ct record``: the program's own status, whatever it is)
2     usage: unknown command or option, missing argument, ``-o`` pointing at a file
10    environment: interpreter too old, recorder missing, data dir not writable,
      index corrupt or locked, ``ct doctor`` found problems
20    target: program missing, a directory, unreadable, unsupported language,
      unknown trace id, bad ``--with-diff`` spec
70    internal: a bug in ct
127   no Python interpreter found (``python3: command not found``, like a shell)
====  ==============================================================================
"""

from __future__ import annotations

from ct.contract import ENVIRONMENT, INTERNAL, NOT_FOUND, TARGET, USAGE

__all__ = ["ENVIRONMENT", "INTERNAL", "NOT_FOUND", "TARGET", "USAGE", "CtError"]


class CtError(Exception):
    """A failure reported as one line on stderr (``ct: <message>``) and an exit status."""

    def __init__(self, message: str, status: int = ENVIRONMENT, prefix: str = "ct: ") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.prefix = prefix

    def line(self) -> str:
        """The single line printed to stderr; the message names the problem and the fix."""
        return f"{self.prefix}{self.message}"
