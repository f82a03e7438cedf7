"""Creating and reusing the bench virtual environments under `bench/.venvs/`.

Every venv carries a small state file naming what was installed into it; a venv is reused when
that state matches and rebuilt otherwise, so repeated runs cost seconds, not minutes. Failures are
returned as reasons (not raised): a mode whose venv cannot be built is reported as unavailable.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO = BENCH_DIR.parent
VENVS = BENCH_DIR / ".venvs"
WHEELS = REPO / "build" / "bench-wheels"
LOGS = REPO / "build" / "bench-logs"
RECORDER_DIR = REPO / "recorder"
UPSTREAM_REQ = "codetracer-python-recorder==0.3.0"
STATE_FILE = "bench-state.json"
_SKIP_DIRS = {"target", "__pycache__", ".pytest_cache", "build", "dist", ".venv", ".git"}


@dataclass
class Env:
    """A ready venv, or the reason it is not ready (python is None then)."""

    name: str
    python: Path | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.python is not None


def _pip(python: Path, *args: str, log: Path, timeout: float = 1800) -> tuple[bool, str]:
    cmd = [str(python), "-m", "pip", "--disable-pip-version-check", *args]
    LOGS.mkdir(parents=True, exist_ok=True)
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        try:
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            return False, f"pip {args[0]} timed out after {timeout:.0f} s (log: {log})"
    if proc.returncode != 0:
        return False, f"pip {args[0]} failed: {_first_error(log)} (log: {log.relative_to(REPO)})"
    return True, ""


_PIP_BOILERPLATE = ("subprocess-exited-with-error", "finished with status", "metadata-generation-failed",
                    "failed-wheel-build", "originates from a subprocess", "Error running maturin")


def _first_error(log: Path) -> str:
    """The first error line that is not pip's generic wrapper text (that names no cause)."""
    lines = log.read_text(errors="replace").splitlines()
    for line in lines:
        text = line.strip()
        if "error" in text.lower() and not any(b in text for b in _PIP_BOILERPLATE):
            return text[:240]
    return (lines[-1].strip() if lines else "no output")[:240]


def _ensure_venv(name: str, base_python: Path, state: dict, installs: list[list[str]]) -> Env:
    """Create (or reuse) venv `name` from `base_python` with the pip install commands given."""
    venv = VENVS / name
    python = venv / "bin" / "python"
    state = {"base_python": str(base_python), **state}
    state_path = venv / STATE_FILE
    if python.exists() and state_path.exists():
        try:
            if json.loads(state_path.read_text()) == state:
                return Env(name, python)
        except ValueError:
            pass
    shutil.rmtree(venv, ignore_errors=True)
    log = LOGS / f"venv-{name}.log"
    log.unlink(missing_ok=True)
    VENVS.mkdir(parents=True, exist_ok=True)
    _write_gitignore()
    proc = subprocess.run([str(base_python), "-m", "venv", str(venv)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        return Env(name, None, f"venv creation failed: {proc.stderr.strip()[-300:]}")
    for args in installs:
        ok, reason = _pip(python, "install", "-q", *args, log=log)
        if not ok:
            return Env(name, None, reason)
    state_path.write_text(json.dumps(state, indent=1))
    return Env(name, python)


def _write_gitignore() -> None:
    """Keep venvs out of git even if the root .gitignore does not name them."""
    ignore = VENVS / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")


def recorder_source_hash() -> str | None:
    """Content hash of recorder/ sources (build outputs excluded); None when there is no recorder."""
    if not (RECORDER_DIR / "pyproject.toml").exists():
        return None
    digest = hashlib.sha256()
    for path in sorted(RECORDER_DIR.rglob("*")):
        rel = path.relative_to(RECORDER_DIR)
        if any(part in _SKIP_DIRS for part in rel.parts) or not path.is_file():
            continue
        if path.suffix in {".so", ".pyc", ".whl"}:
            continue
        digest.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _recorder_wheel_dir(python: Path, src_hash: str, tag: str) -> tuple[Path | None, str]:
    """Build (once per source hash) a recorder wheel that `python` can install.

    An abi3 wheel built by the first interpreter serves the next one too; pip tells us by
    failing to find a compatible wheel, in which case this interpreter builds its own.
    """
    wheel_dir = WHEELS / src_hash
    probe = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "download", "-q", "--no-deps",
         "--no-index", "--find-links", str(wheel_dir), "-d", str(wheel_dir / "probe"),
         "codetracer-python-recorder"],
        capture_output=True, text=True, check=False,
    ) if wheel_dir.is_dir() else None
    if probe is not None and probe.returncode == 0:
        return wheel_dir, ""
    log = LOGS / f"recorder-wheel-{tag}.log"
    log.unlink(missing_ok=True)
    ok, reason = _pip(python, "wheel", "--no-deps", "-w", str(wheel_dir), str(RECORDER_DIR),
                      log=log)
    if not ok:
        return None, "recorder/ not buildable: " + reason
    return wheel_dir, ""


@dataclass
class RecorderStatus:
    """Whether `ours` can run in a bench venv, and which recorder source it runs."""

    reason: str = ""  # why `ours` is unavailable; "" when it can run
    source_hash: str | None = None  # the recorder/ sources the installed wheel was built from
    note: str = ""  # e.g. a rebuild failed and an older build is measured instead

    @property
    def ok(self) -> bool:
        return not self.reason


def _install_recorder(python: Path, wheel_dir: Path, tag: str) -> tuple[bool, str]:
    return _pip(python, "install", "-q", "--force-reinstall", "--no-deps", "--no-index",
                "--find-links", str(wheel_dir), "codetracer-python-recorder",
                log=LOGS / f"recorder-install-{tag}.log")


def recorder_smoke(python: Path) -> str:
    """Record the empty program once; "" when that works, else the error's last line."""
    from .programs import PROGRAMS_DIR

    trace_dir = REPO / "build" / "bench-traces" / "smoke"
    shutil.rmtree(trace_dir, ignore_errors=True)
    proc = subprocess.run(
        [str(python), "-m", "codetracer_python_recorder", "--trace-dir", str(trace_dir),
         "--format", "json", str(PROGRAMS_DIR / "empty.py")],
        capture_output=True, text=True, timeout=120, check=False)
    ok = proc.returncode == 0 and (trace_dir / "trace.json").exists()
    shutil.rmtree(trace_dir, ignore_errors=True)
    if ok:
        return ""
    last = (proc.stderr.strip().splitlines() or ["no trace.json written"])[-1]
    return f"smoke recording failed (exit {proc.returncode}): {last[:200]}"


def bench_env(base_python: Path, tag: str, with_recorder: bool) -> tuple[Env, RecorderStatus]:
    """The venv for plain/floor/ours: program requirements plus our recorder.

    Plain and floor still work when only the recorder fails. recorder/ is being edited while we
    measure, so a build that fails, or that cannot record an empty script, is replaced by the
    last build that could (its wheel is kept under build/bench-wheels/), named in the note.
    """
    from .programs import PROGRAM_REQUIREMENTS

    reqs = list(PROGRAM_REQUIREMENTS)
    base = _ensure_venv(f"bench-{tag}", base_python, {"requirements": reqs}, [reqs])
    if not base.ok:
        return base, RecorderStatus(base.reason)
    if not with_recorder:
        return base, RecorderStatus("not requested")
    src_hash = recorder_source_hash()
    if src_hash is None:
        return base, RecorderStatus("recorder/ does not exist yet (no recorder/pyproject.toml)")
    venv = base.python.parent.parent
    state_path, good_path = venv / "recorder-state.json", venv / "recorder-good.json"
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        state = {}
    if state.get("source") == src_hash:  # this source was already dealt with: same outcome
        return base, RecorderStatus(state.get("reason", ""), state.get("installed"),
                                    state.get("note", ""))
    status = _install_current_or_last_good(base.python, src_hash, tag, good_path)
    state_path.write_text(json.dumps({"source": src_hash, "installed": status.source_hash,
                                      "reason": status.reason, "note": status.note}))
    return base, status


def _install_current_or_last_good(python: Path, src_hash: str, tag: str,
                                  good_path: Path) -> RecorderStatus:
    wheel_dir, reason = _recorder_wheel_dir(python, src_hash, tag)
    if wheel_dir is None:  # one retry: a build can catch files mid-edit
        shutil.rmtree(WHEELS / src_hash, ignore_errors=True)
        wheel_dir, reason = _recorder_wheel_dir(python, src_hash, tag)
    if wheel_dir is not None:
        ok, reason = _install_recorder(python, wheel_dir, tag)
        if ok:
            reason = recorder_smoke(python)
            if not reason:
                good_path.write_text(src_hash)
                return RecorderStatus(source_hash=src_hash)
    good = good_path.read_text().strip() if good_path.exists() else None
    if good and (WHEELS / good).is_dir() and _install_recorder(python, WHEELS / good, tag)[0]:
        return RecorderStatus(source_hash=good, note=(
            f"current recorder/ sources ({src_hash}) unusable: {reason}; measured the last "
            f"working build ({good}) instead"))
    return RecorderStatus(reason)


def upstream_env(base_python: Path, tag: str) -> Env:
    """The published recorder in a venv of its own, so it never shadows ours."""
    from .programs import PROGRAM_REQUIREMENTS

    reqs = [UPSTREAM_REQ, *PROGRAM_REQUIREMENTS]
    return _ensure_venv(f"upstream-{tag}", base_python, {"requirements": reqs}, [reqs])


def tools_env(base_python: Path) -> Env:
    """matplotlib for the chart, kept out of the measured venvs."""
    reqs = ["matplotlib"]
    return _ensure_venv("tools", base_python, {"requirements": reqs}, [reqs])


def ct_env(base_python: Path) -> Env:
    """The `ct` command installed from the repo root (`pip install .`), for start-up timing."""
    if not (REPO / "src" / "ct").is_dir() or not (REPO / "pyproject.toml").exists():
        return Env("ct", None, "src/ct does not exist")
    digest = hashlib.sha256()
    for path in sorted((REPO / "src" / "ct").rglob("*.py")):
        digest.update(path.read_bytes())
    digest.update((REPO / "pyproject.toml").read_bytes())
    state = {"ct_source": digest.hexdigest()[:16]}
    return _ensure_venv("ct", base_python, state, [[str(REPO)]])
