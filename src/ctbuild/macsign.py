"""Code signing and notarization of the macOS bundle, driven by environment variables.

Without any variable set we sign ad hoc (`codesign --sign -`): Apple Silicon refuses to run
unsigned arm64 code, and an ad-hoc signature is free. A release signs with a Developer ID and
notarizes so users never need `xattr -c` (upstream's DMG requires it). Variables:

- `CODETRACER_CODESIGN_IDENTITY`: signing identity (default `-`, ad hoc). With a real identity
  the hardened runtime and a secure timestamp are used, as notarization requires.
- `CODETRACER_NOTARY_PROFILE`: a `notarytool store-credentials` keychain profile, or
- `CODETRACER_NOTARY_APPLE_ID`, `CODETRACER_NOTARY_TEAM_ID`, `CODETRACER_NOTARY_PASSWORD`
  (an app-specific password): notarize the DMG and staple the ticket.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from . import console, proc
from .errors import BuildError
from .foreign import binary_kind

ENV_IDENTITY = "CODETRACER_CODESIGN_IDENTITY"
ENV_PROFILE = "CODETRACER_NOTARY_PROFILE"
ENV_APPLE_ID = ("CODETRACER_NOTARY_APPLE_ID", "CODETRACER_NOTARY_TEAM_ID",
                "CODETRACER_NOTARY_PASSWORD")


def identity() -> str:
    return os.environ.get(ENV_IDENTITY, "").strip() or "-"


def codesign_args(target: Path, ident: str | None = None) -> list[str]:
    """The codesign command line for `target` (a bundle or a DMG)."""
    ident = ident or identity()
    args = ["codesign", "--force", "--sign", ident]
    if ident != "-":
        args += ["--options", "runtime", "--timestamp"]
    return args + [str(target)]


def notary_args(dmg: Path, env: dict[str, str] | None = None) -> list[str] | None:
    """`xcrun notarytool submit` arguments, or None when no credentials are configured."""
    env = os.environ if env is None else env
    base = ["xcrun", "notarytool", "submit", str(dmg), "--wait"]
    if env.get(ENV_PROFILE):
        return base + ["--keychain-profile", env[ENV_PROFILE]]
    if all(env.get(name) for name in ENV_APPLE_ID):
        apple_id, team, password = (env[name] for name in ENV_APPLE_ID)
        return base + ["--apple-id", apple_id, "--team-id", team, "--password", password]
    return None


def nested_code(app: Path) -> list[Path]:
    """Mach-O files inside the bundle other than the main executable, deepest first.

    Apple advises signing inside-out instead of `codesign --deep`: the PyInstaller onedir
    next to `ct` holds many dylibs and extension modules that each need their own signature.
    """
    main = app / "Contents" / "MacOS" / "ct"
    found = [p for p in app.rglob("*")
             if p.is_file() and not p.is_symlink() and p != main and binary_kind(p) == "macho"]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def sign_app(app: Path) -> None:
    for code in nested_code(app):
        proc.run(codesign_args(code))
    proc.run(codesign_args(app))
    proc.run(["codesign", "--verify", "--deep", "--strict", str(app)])


def sign_and_notarize_dmg(dmg: Path) -> None:
    """Sign the image with a real identity, then notarize and staple if configured."""
    if identity() != "-":
        proc.run(codesign_args(dmg))
    submit = notary_args(dmg)
    if submit is None:
        console.info(f"not notarizing {dmg.name}: set {ENV_PROFILE} or {', '.join(ENV_APPLE_ID)}")
        return
    if identity() == "-":
        raise BuildError(f"notarization needs a Developer ID: set {ENV_IDENTITY}")
    _run_redacted(submit, secret=os.environ.get(ENV_APPLE_ID[2], ""))
    proc.run(["xcrun", "stapler", "staple", str(dmg)])


def _run_redacted(args: list[str], secret: str) -> None:
    """Like proc.run, but the echoed and error command lines never show the password."""
    shown = " ".join("***" if secret and a == secret else a for a in args)
    console.info(f"$ {shown}")
    if subprocess.run(args).returncode != 0:
        raise proc.CommandFailed(f"`{shown}` failed")
