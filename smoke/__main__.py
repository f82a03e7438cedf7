"""``python -m smoke ARTIFACT [--python 3.12 --python 3.13]``

For each Python version: a fresh venv without the recorder, then through the artifact
``ct record`` (interpreter chosen by CODETRACER_PYTHON_INTERPRETER, and by PATH), the
bundle's ``ct-python-recorder`` shim, ``ct list --json``, and an environment probe, each
compared with plain Python. Ends with ``N passed, N failed``; exit status 1 on failure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .checks import CheckFailed, check_listed, check_trace_folder
from .runners import Runner, runner_for
from .venvs import make_venv

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "python_script.py"
PROBE = Path(__file__).resolve().parent / "probe_env.py"
ARGS = ["first", "two words", "--format", "json"]  # recorder-looking args must pass through
TIMEOUT = 600
#: variables that would pick an interpreter or change Python start-up behind our back
SCRUBBED = ("CODETRACER_PYTHON_INTERPRETER", "PYTHON_EXECUTABLE", "PYTHON", "PYTHONPATH",
            "PYTHONHOME", "VIRTUAL_ENV", "CODETRACER_RESOURCES", "PYTHONSAFEPATH")


class Smoke:
    def __init__(self, runner: Runner, work: Path) -> None:
        self.runner = runner
        self.work = work
        self.passed = 0
        self.failed: list[str] = []
        self.base_env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
        self.base_env.update(runner.env)
        self.base_env["XDG_DATA_HOME"] = str(work / "xdg-data")
        self.cwd = work / "cwd"
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.first_version = ""

    # -- plumbing ----------------------------------------------------------------------
    def run(self, cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, env=env, cwd=self.cwd, capture_output=True, text=True,
                              timeout=TIMEOUT, stdin=subprocess.DEVNULL)

    def check(self, name: str, fn: Callable[[], None]) -> None:
        start = time.monotonic()
        try:
            fn()
        except (CheckFailed, AssertionError, OSError, subprocess.SubprocessError) as exc:
            self.failed.append(name)
            print(f"FAIL {name}: {exc}", flush=True)
        else:
            self.passed += 1
            print(f"ok   {name} ({time.monotonic() - start:.1f}s)", flush=True)

    @staticmethod
    def same_as_plain(label: str, got: subprocess.CompletedProcess,
                      plain: subprocess.CompletedProcess) -> None:
        if got.returncode != plain.returncode or got.stdout != plain.stdout:
            raise CheckFailed(
                f"{label}: status {got.returncode} (plain {plain.returncode}); "
                f"stdout {'equal' if got.stdout == plain.stdout else 'differs'}\n"
                f"--- stdout ---\n{got.stdout}\n--- plain ---\n{plain.stdout}\n"
                f"--- stderr ---\n{got.stderr[-3000:]}"
            )

    # -- scenarios ---------------------------------------------------------------------
    def ct_version(self) -> None:
        out = self.run(self.runner.ct("--version"), self.base_env)
        if out.returncode != 0 or not out.stdout.strip():
            raise CheckFailed(f"ct --version: status {out.returncode}: {out.stderr[-2000:]}")
        print(f"     {out.stdout.strip()}")

    def python_version(self, version: str) -> None:
        venv = self.work / f"venv-{version}"
        python = make_venv(version, venv)
        plain = self.run([str(python), str(EXAMPLE), *ARGS], self.base_env)
        probe_plain = self.run([str(python), str(PROBE), *ARGS], self.base_env)
        by_var = dict(self.base_env, CODETRACER_PYTHON_INTERPRETER=str(python))
        by_path = dict(self.base_env, PATH=f"{python.parent}{os.pathsep}{self.base_env['PATH']}")
        traces = self.work / "traces" / version

        def record(label: str, env: dict[str, str], trace: Path) -> None:
            got = self.run(self.runner.ct("record", "--quiet", "-o", str(trace),
                                          str(EXAMPLE), *ARGS), env)
            self.same_as_plain(f"ct record ({label})", got, plain)
            if got.stderr.strip():
                raise CheckFailed(f"ct record --quiet wrote to stderr: {got.stderr[-2000:]}")
            meta = check_trace_folder(trace, EXAMPLE, ARGS)
            used = (meta.get("python") or {}).get("executable")
            if used and not str(used).startswith(str(venv)):
                raise CheckFailed(f"recorded with {used}, expected the venv {venv}")

        def listed() -> None:
            out = self.run(self.runner.ct("list", "--json"), by_var)
            if out.returncode != 0:
                raise CheckFailed(f"ct list --json: status {out.returncode}: {out.stderr}")
            check_listed(out.stdout, traces / "by-var")

        def shim() -> None:
            trace = traces / "shim"
            got = self.run(self.runner.shim("--trace-dir", str(trace), str(EXAMPLE), *ARGS),
                           by_var)
            self.same_as_plain("ct-python-recorder", got, plain)
            check_trace_folder(trace, EXAMPLE, ARGS)

        def probe() -> None:
            got = self.run(self.runner.ct("record", "--quiet", "-o", str(traces / "probe"),
                                          str(PROBE), *ARGS), by_var)
            self.same_as_plain("environment probe", got, probe_plain)

        def plain_ok() -> None:
            if plain.returncode != 0:
                raise CheckFailed(f"plain python failed: {plain.stderr}")

        self.check(f"[{version}] plain python runs the example", plain_ok)
        self.check(f"[{version}] ct record, CODETRACER_PYTHON_INTERPRETER",
                   lambda: record("by variable", by_var, traces / "by-var"))
        self.check(f"[{version}] ct record, python3 on PATH",
                   lambda: record("by PATH", by_path, traces / "by-path"))
        self.check(f"[{version}] ct list --json shows the recording", listed)
        self.check(f"[{version}] bundled ct-python-recorder shim records", shim)
        self.check(f"[{version}] program sees plain-python sys.path and env", probe)
        if getattr(self.runner, "mode", None) == "fuse" and version == self.first_version:
            # users without FUSE run the same artifact extracted: prove that path too
            extract = dict(by_var, APPIMAGE_EXTRACT_AND_RUN="1")
            self.check(f"[{version}] ct record, APPIMAGE_EXTRACT_AND_RUN=1",
                       lambda: record("extract-and-run", extract, traces / "extract"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m smoke", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("artifact", type=Path)
    p.add_argument("--python", action="append", dest="pythons",
                   help="3.12, 3.13 or an interpreter path (repeatable; default both)")
    p.add_argument("--mode", choices=("auto", "fuse", "extract"), default="auto",
                   help="AppImage: mount with FUSE or extract-and-run (default: auto)")
    p.add_argument("--keep", action="store_true", help="keep the work dir for inspection")
    args = p.parse_args(argv)
    if not args.artifact.exists():
        p.error(f"{args.artifact} does not exist")
    pythons = args.pythons or ["3.12", "3.13"]

    work = Path(tempfile.mkdtemp(prefix="ct-smoke-"))
    runner = runner_for(args.artifact, work, args.mode)
    print(f"smoke: {runner.describe()}; pythons {', '.join(pythons)}; work dir {work}")
    smoke = Smoke(runner, work)
    smoke.first_version = pythons[0]
    smoke.check("ct --version", smoke.ct_version)
    for version in pythons:
        smoke.python_version(version)
    print(f"{smoke.passed} passed, {len(smoke.failed)} failed")
    if not args.keep and not smoke.failed:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    elif smoke.failed:
        print(f"smoke: work dir kept for inspection: {work}", file=sys.stderr)
    return 1 if smoke.failed else 0


if __name__ == "__main__":
    sys.exit(main())
