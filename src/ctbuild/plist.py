"""The `Info.plist` of `CodeTracer.app`.

macOS reads the bundle's identity, version and executable from this file; Gatekeeper and
LaunchServices refuse or misreport bundles where it is missing keys. Generated with the
standard library's plistlib (not a text template) so the output is always well-formed.
"""

from __future__ import annotations

import plistlib
import re

from .errors import BuildError

BUNDLE_ID = "com.codetracer.CodeTracer"
EXECUTABLE = "ct"
#: oldest macOS the release pipeline's frozen ct supports (macos-13 runners build x86_64)
MIN_MACOS = "11.0"

REQUIRED_KEYS = (
    "CFBundleIdentifier",
    "CFBundleName",
    "CFBundleExecutable",
    "CFBundleShortVersionString",
    "CFBundleVersion",
    "CFBundlePackageType",
    "LSMinimumSystemVersion",
)


def info_plist(version: str, *, bundle_id: str = BUNDLE_ID, executable: str = EXECUTABLE,
               min_macos: str = MIN_MACOS, name: str = "CodeTracer") -> bytes:
    """XML Info.plist bytes. `CFBundleVersion` must be numeric dots, so local tags are cut."""
    numeric = re.match(r"\d+(\.\d+){0,2}", version)
    if not numeric:
        raise BuildError(f"version {version!r} does not start with a number")
    return plistlib.dumps({
        "CFBundleDevelopmentRegion": "en",
        "CFBundleDisplayName": name,
        "CFBundleExecutable": executable,
        "CFBundleIdentifier": bundle_id,
        "CFBundleInfoDictionaryVersion": "6.0",
        "CFBundleName": name,
        "CFBundlePackageType": "APPL",
        "CFBundleShortVersionString": version,
        "CFBundleVersion": numeric.group(0),
        "LSMinimumSystemVersion": min_macos,
        # ct is a command-line tool: no Dock icon, no menu bar when launched from Finder.
        "LSUIElement": True,
        "NSHighResolutionCapable": True,
    }, fmt=plistlib.FMT_XML, sort_keys=True)


def check_info_plist(data: bytes) -> dict:
    """Parse and validate; raise ValueError naming the first missing or empty key."""
    info = plistlib.loads(data)
    for key in REQUIRED_KEYS:
        if not info.get(key):
            raise ValueError(f"Info.plist lacks {key}")
    if info["CFBundlePackageType"] != "APPL":
        raise ValueError("Info.plist: CFBundlePackageType must be APPL")
    return info
