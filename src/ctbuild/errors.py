"""The one base class for expected build failures.

The CLI prints a ``BuildError`` as one readable line (exit status 1) and lets anything else
raise with a traceback, because anything else is a bug in the build code.
"""


class BuildError(RuntimeError):
    """A failure with a message that tells the user what to do."""
