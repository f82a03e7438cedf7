"""Render the ``ct-python-recorder`` launcher shims from ``packaging/shims`` templates.

The templates only differ per OS in where ``resources/`` sits relative to the shim's own
``bin/`` directory, so rendering is a plain ``@NAME@`` substitution, checked for leftovers.
"""

from __future__ import annotations

import re
from pathlib import Path

from . import config
from .errors import BuildError

#: per target OS: (template, output name, resources dir relative to the shim's directory)
SHIMS = {
    "linux": ("ct-python-recorder.sh.in", "ct-python-recorder", "../resources"),
    # CodeTracer.app/Contents/Resources/bin/ct-python-recorder -> Contents/Resources
    "macos": ("ct-python-recorder.sh.in", "ct-python-recorder", ".."),
    "windows": ("ct-python-recorder.cmd.in", "ct-python-recorder.cmd", "..\\resources"),
}

_PLACEHOLDER = re.compile(r"@[A-Z_]+@")


class TemplateError(BuildError, ValueError):
    pass


def render(template: str, values: dict[str, str]) -> str:
    """Substitute ``@KEY@`` placeholders; every placeholder must be known."""
    out = template
    for key, value in values.items():
        out = out.replace(f"@{key}@", value)
    left = sorted(set(_PLACEHOLDER.findall(out)))
    if left:
        raise TemplateError(f"unrendered placeholders: {', '.join(left)}")
    return out


def render_all(
    out: Path, *, target_os: str, version: str, templates: Path = config.SHIM_TEMPLATES
) -> list[Path]:
    """Write the shim for ``target_os`` into ``out`` and return its path(s)."""
    template_name, name, resources_rel = SHIMS[target_os]
    text = render(
        (templates / template_name).read_text(encoding="utf-8"),
        {
            "VERSION": version,
            "RESOURCES_REL": resources_rel,
            "RESOURCES_REL_WIN": resources_rel,
        },
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    if target_os == "windows":
        # cmd.exe wants CRLF; write bytes so no platform translation happens twice
        path.write_bytes(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8"))
    else:
        path.write_bytes(text.encode("utf-8"))
        path.chmod(0o755)
    return [path]
