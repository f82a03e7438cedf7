"""``python -m ctbuild <command>``: the CLI the noxfile calls.

Each command is one build step; nox sessions only choose which to run and in which venv.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import config, console, deps, platforms
from .context import BuildContext
from .errors import BuildError


def _cmd_wheels(args: argparse.Namespace) -> list[Path]:
    from . import wheels

    return wheels.build_wheels(out=Path(args.out))


def _cmd_freeze(args: argparse.Namespace) -> list[Path]:
    from . import freeze

    return [freeze.freeze_ct(out=Path(args.out))]


def _cmd_stage(args: argparse.Namespace) -> list[Path]:
    from . import stage

    ctx = BuildContext.default(args.target)
    out = Path(args.out) if args.out else ctx.resources_python
    stage.stage(Path(args.wheels), out, target_os=args.target)
    return [out / "manifest.json"]


def _cmd_shims(args: argparse.Namespace) -> list[Path]:
    from . import shims

    ctx = BuildContext.default(args.target)
    out = Path(args.out) if args.out else ctx.shims_dir
    return shims.render_all(out, target_os=args.target, version=ctx.version)


def _cmd_build(args: argparse.Namespace) -> list[Path]:
    module = platforms.get(args.platform)
    deps.ensure_for(args.platform)
    ctx = BuildContext.default(platforms.target_os(args.platform))
    with console.step(f"build {args.platform}"):
        artifact = module.build(ctx)
    with console.step(f"verify {artifact.name}"):
        module.verify(artifact)
    return [artifact]


def _cmd_verify(args: argparse.Namespace) -> list[Path]:
    artifact = Path(args.artifact)
    platforms.get(platforms.for_artifact(artifact)).verify(artifact)
    console.info(f"{artifact.name}: structure OK")
    return [artifact]


def _cmd_tools(args: argparse.Namespace) -> list[Path]:
    from . import tools

    runtime = tools.appimage_runtime()
    appimagetool = tools.appimagetool() if args.appimagetool else None
    print(f"runtime: {runtime}")
    if appimagetool:
        print(f"appimagetool: {appimagetool}")
    return []


def _cmd_deps(args: argparse.Namespace) -> list[Path]:
    deps.ensure_for(args.platform, required=not args.if_root)
    return []


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ctbuild", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("wheels", help="build recorder wheel(s) with maturin")
    s.add_argument("--out", default=str(config.WHEELS_DIR))
    s.set_defaults(func=_cmd_wheels)

    s = sub.add_parser("freeze", help="PyInstaller onedir of ct")
    s.add_argument("--out", default=str(config.FREEZE_DIR))
    s.set_defaults(func=_cmd_freeze)

    s = sub.add_parser("stage", help="unpack wheels into resources/python with a manifest")
    s.add_argument("--target", choices=config.TARGET_OSES, default="linux")
    s.add_argument("--wheels", default=str(config.WHEELS_DIR))
    s.add_argument("--out", default=None, help="resources/python dir (default: build/stage/OS)")
    s.set_defaults(func=_cmd_stage)

    s = sub.add_parser("shims", help="render ct-python-recorder launcher shims")
    s.add_argument("--target", choices=config.TARGET_OSES, default="linux")
    s.add_argument("--out", default=None)
    s.set_defaults(func=_cmd_shims)

    s = sub.add_parser("build", help="assemble and verify a bundle from staged inputs")
    s.add_argument("platform", choices=tuple(platforms.PLATFORMS))
    s.set_defaults(func=_cmd_build)

    s = sub.add_parser("verify", help="structural checks of a built artifact")
    s.add_argument("artifact")
    s.set_defaults(func=_cmd_verify)

    s = sub.add_parser("tools", help="resolve the AppImage runtime (and appimagetool)")
    s.add_argument("--appimagetool", action="store_true")
    s.set_defaults(func=_cmd_tools)

    s = sub.add_parser("deps", help="ensure the Debian packages a build (or the tests) need")
    s.add_argument("platform", choices=deps.set_names())
    s.add_argument("--if-root", action="store_true",
                   help="install only when root; otherwise list what is missing and go on")
    s.set_defaults(func=_cmd_deps)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        produced = args.func(args)
    except (BuildError, FileNotFoundError) as exc:  # expected: one line, no traceback
        console.error(str(exc))
        return 1
    files = [p for p in produced if p.is_file()]
    if files:
        console.summary(files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
