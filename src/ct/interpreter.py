"""Find the Python interpreter ``ct record`` runs, exactly the way the user's shell would.

Order (docs/architecture.md): ``CODETRACER_PYTHON_INTERPRETER``, ``PYTHON_EXECUTABLE``,
``PYTHON``, then ``python3`` and ``python`` on PATH (``py`` on Windows). Symlinks are never
resolved: a venv's ``bin/python`` is a symlink to the base interpreter, and resolving it would
silently drop the venv's site-packages. The interpreter is run once to learn its version and
whether the recorder is importable in it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

from ct.contract import MIN_PYTHON as MIN_VERSION
from ct.errors import ENVIRONMENT, NOT_FOUND, CtError

ENV_VARS = ("CODETRACER_PYTHON_INTERPRETER", "PYTHON_EXECUTABLE", "PYTHON")
RECORDER_MODULE = "codetracer_python_recorder"
RECORDER_DIST = "codetracer-python-recorder"

# Runs inside the user's interpreter, in the user's cwd (a pyenv shim picks its version by
# cwd). Kept tiny: one process start, cwd dropped from sys.path so a local json.py or
# platform.py is not imported, the recorder only located (find_spec), never imported.
_PROBE = r"""
import sys
sys.path[:] = [p for p in sys.path if p not in ("", ".")]  # never import the user's json.py
import json, os
info = {"version": list(sys.version_info[:3]), "executable": sys.executable,
        "implementation": sys.implementation.name, "recorder": None}
try:
    import importlib.util
    spec = importlib.util.find_spec("codetracer_python_recorder")
except Exception:
    spec = None
if spec is not None:
    ver = None
    if spec.origin:  # version from the dist-info folder name (importlib.metadata is slow)
        site = os.path.dirname(os.path.dirname(spec.origin))
        try:
            for name in os.listdir(site):
                if name.startswith("codetracer_python_recorder-") and name.endswith(".dist-info"):
                    ver = name[len("codetracer_python_recorder-"):-len(".dist-info")]
        except OSError:
            pass
    info["recorder"] = {"origin": spec.origin or str(list(spec.submodule_search_locations or [])), "version": ver}
sys.stdout.write(json.dumps(info))
"""


@dataclass
class Interpreter:
    """The chosen interpreter and what we learned by running it once."""

    path: str  # as found: absolute, symlinks kept
    source: str  # why: "CODETRACER_PYTHON_INTERPRETER", "PATH (python3)", ...
    version: tuple[int, int, int] = (0, 0, 0)
    implementation: str = ""
    recorder_origin: str | None = None  # where the installed recorder lives, if any
    recorder_version: str | None = None

    @property
    def version_str(self) -> str:
        return ".".join(str(p) for p in self.version)


def _resolve_command(value: str, path_env: str | None) -> str | None:
    """Resolve a command name or path like a shell would, without following symlinks."""
    value = os.path.expanduser(value)
    if os.sep in value or (os.altsep and os.altsep in value):
        if os.path.isfile(value) and os.access(value, os.X_OK):
            return os.path.abspath(value)
        return None
    found = shutil.which(value, path=path_env)
    return os.path.abspath(found) if found else None


def find(environ: dict[str, str] | None = None) -> tuple[str, str]:
    """Return ``(path, source)`` of the interpreter to use, or raise the shell-like error."""
    env = os.environ if environ is None else environ
    path_env = env.get("PATH", os.defpath)
    for var in ENV_VARS:
        value = env.get(var)
        if value is None or value == "":
            continue
        resolved = _resolve_command(value, path_env)
        if resolved is None:
            raise CtError(
                f"{var}={value!r} does not name an executable Python interpreter; "
                f"fix it or unset {var}",
                ENVIRONMENT,
            )
        return resolved, var
    names = ("python3", "python", "py") if os.name == "nt" else ("python3", "python")
    for name in names:
        resolved = _resolve_command(name, path_env)
        if resolved:
            return resolved, f"PATH ({name})"
    # Exactly what a shell says, and its status, so scripts treat it the same way.
    raise CtError("python3: command not found", NOT_FOUND, prefix="")


PROBE_TIMEOUT_S = 30.0  # a cold interpreter on a busy machine answers in well under a second
PROBE_MAX_BYTES = 64 * 1024  # the answer is one short JSON line


def _probe_timeout() -> float:
    """``CODETRACER_PROBE_TIMEOUT`` (seconds) overrides the default (tests, slow disks)."""
    try:
        return max(0.1, float(os.environ.get("CODETRACER_PROBE_TIMEOUT", PROBE_TIMEOUT_S)))
    except ValueError:
        return PROBE_TIMEOUT_S


def _run_bounded(argv: list[str], env, timeout: float) -> tuple[str, str, str | None]:
    """Run ``argv`` with at most ``timeout`` seconds and ``PROBE_MAX_BYTES`` of output kept.
    Returns (stdout, stderr, problem); on a problem its whole process group is killed (while
    its leader is unreaped, so the group id cannot have been reused), so a wrapper's children
    (pyenv shims, a hung interpreter) are not left behind."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        # Files, not pipes: an interpreter that prints endlessly cannot fill our memory; we
        # read back only the first bytes. Its size is checked while it runs.
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                start_new_session=os.name == "posix")
        problem = None
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            if time.monotonic() > deadline:
                problem = f"did not answer within {timeout:g} s"
            elif os.fstat(out.fileno()).st_size + os.fstat(err.fileno()).st_size > PROBE_MAX_BYTES:
                problem = f"wrote more than {PROBE_MAX_BYTES // 1024} KiB instead of answering"
            if problem:
                _kill_group(proc)
                break
            time.sleep(0.01)
        proc.wait()
        texts = []
        for f in (out, err):
            f.seek(0)
            texts.append(f.read(PROBE_MAX_BYTES).decode("utf-8", "replace"))
    return texts[0], texts[1], problem


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except OSError:
        pass


def probe(path: str, source: str, env: dict[str, str] | None = None) -> Interpreter:
    """Run the interpreter once; fill in version and installed-recorder facts. Bounded in
    time and output (``CODETRACER_PROBE_TIMEOUT``, 64 KiB)."""
    timeout = _probe_timeout()
    try:
        stdout, stderr, problem = _run_bounded([path, "-c", _PROBE], env, timeout)
    except OSError as exc:
        raise CtError(
            f"cannot run Python interpreter {path} (from {source}): {exc.strerror or exc}; "
            "point CODETRACER_PYTHON_INTERPRETER at a working python3",
            ENVIRONMENT,
        ) from exc
    if problem is not None:
        raise CtError(
            f"Python interpreter {path} (from {source}) {problem} when asked for its version; "
            "point CODETRACER_PYTHON_INTERPRETER at a working python3 (or raise "
            "CODETRACER_PROBE_TIMEOUT if it is just slow)",
            ENVIRONMENT,
        )
    proc = subprocess.CompletedProcess([path], 0, stdout, stderr)
    try:
        info = json.loads(proc.stdout)
    except ValueError:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise CtError(
            f"{path} (from {source}) is not a working Python interpreter ({detail}); "
            "point CODETRACER_PYTHON_INTERPRETER at python3.12 or newer",
            ENVIRONMENT,
        ) from None
    interp = Interpreter(
        path=path,
        source=source,
        version=tuple(info.get("version", (0, 0, 0)))[:3],  # type: ignore[arg-type]
        implementation=info.get("implementation", ""),
    )
    rec = info.get("recorder")
    if rec:
        interp.recorder_origin = rec.get("origin")
        interp.recorder_version = rec.get("version")
    return interp


def check_version(interp: Interpreter) -> None:
    """Recording needs sys.monitoring (CPython 3.12+); say so naming the interpreter."""
    if tuple(interp.version[:2]) < MIN_VERSION:
        minimum = ".".join(map(str, MIN_VERSION))
        raise CtError(
            f"{interp.path} (from {interp.source}) is Python {interp.version_str}; "
            f"recording needs Python {minimum} or newer: set CODETRACER_PYTHON_INTERPRETER "
            f"to a newer interpreter or activate an environment that has one",
            ENVIRONMENT,
        )


def discover(env: dict[str, str] | None = None) -> Interpreter:
    """Find, probe and version-check the interpreter (the whole discovery contract)."""
    path, source = find(env)
    interp = probe(path, source, env)
    check_version(interp)
    return interp

