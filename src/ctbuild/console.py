"""Human-facing output: progress for long steps and the closing artifact table.

Rich is optional at import time so the unit tests and the stdlib-only parts keep working
in a bare interpreter; without it the same calls print plain lines.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

try:  # pragma: no cover - exercised implicitly
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    _console: Console | None = Console(stderr=True, highlight=False)
except ImportError:  # pragma: no cover
    _console = None


def info(message: str) -> None:
    """One line of progress text."""
    if _console:
        _console.print(f"[bold cyan]ctbuild[/] {escape(message)}", soft_wrap=True)
    else:
        print(f"ctbuild {message}", file=sys.stderr)


def error(message: str) -> None:
    if _console:
        _console.print(f"[bold red]ctbuild error:[/] {escape(message)}", soft_wrap=True)
    else:
        print(f"ctbuild error: {message}", file=sys.stderr)


@contextlib.contextmanager
def step(title: str) -> Iterator[None]:
    """Show a spinner while a long step runs, then its duration.

    Under CI (no TTY) the spinner is replaced by start/end lines so logs stay readable.
    """
    start = time.monotonic()
    live = _console is not None and _console.is_terminal and not os.environ.get("CI")
    if live:
        with _console.status(f"[bold]{escape(title)}[/] ..."):
            yield
    else:
        info(f"{title} ...")
        yield
    info(f"{title}: done in {time.monotonic() - start:.1f}s")


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{n} B"
        size /= 1024
    return f"{n} B"


def _short(path: Path) -> str:
    """Artifact path relative to the current directory when inside it (tables stay narrow)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def summary(artifacts: Iterable[Path], title: str = "Artifacts") -> None:
    """The closing table every build prints: artifact, size, sha256."""
    from .context import sha256_file

    rows = [(_short(p), human_size(p.stat().st_size), sha256_file(p)) for p in artifacts]
    if _console:
        table = Table(title=title)
        table.add_column("artifact", overflow="fold")
        table.add_column("size", justify="right")
        table.add_column("sha256", overflow="fold")
        for row in rows:
            table.add_row(*row)
        # stdout, so the table survives in logs that split streams
        Console(highlight=False, width=max(160, _console.width)).print(table)
    else:
        print(title)
        for path, size, digest in rows:
            print(f"  {path}  {size}  {digest}")
