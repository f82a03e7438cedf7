"""Signals and clean-up through the AppImage: AppRun execs ct (same pid, so a signal to it is a
signal to ct); in FUSE mode the runtime execs AppRun too; in extract-and-run mode, where the
runtime forks ct and forwards nothing, ct forwards a signal sent to the runtime, removes the
extracted folder the dead runtime could not, and the next run prints nothing extra.

The AppImage here is tiny: the real ct from ``src/`` run by the test interpreter (its
``__file__`` inside the image, as the frozen ct's is), recording with the installed recorder.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from build_helpers import make_wheel, need

from ctbuild import config, shims, stage, tools
from ctbuild.context import BuildContext
from ctbuild.platforms import appimage

ROOT = Path(__file__).resolve().parents[2]
APPRUN = config.APPIMAGE_TEMPLATES / "AppRun"

BOOT = (f"import sys; sys.path.insert(0, {str(ROOT / 'src')!r}); from ct.cli import main; "
        "sys.exit(main())")
PID_CT = '#!/bin/sh\necho "ct pid=$$"\n'
PID_SHIM = '#!/bin/sh\necho "shim pid=$$"\n'


def _appdir(tmp_path: Path) -> Path:
    appdir = tmp_path / "AppDir"
    (appdir / "usr" / "lib" / "ct").mkdir(parents=True)
    (appdir / "usr" / "bin").mkdir()
    (appdir / "bin").mkdir()
    shutil.copy2(APPRUN, appdir / "AppRun")
    for path, text in ((appdir / "usr" / "lib" / "ct" / "ct", PID_CT),
                       (appdir / "bin" / "ct-python-recorder", PID_SHIM)):
        path.write_text(text)
        path.chmod(0o755)
    os.symlink("../lib/ct/ct", appdir / "usr" / "bin" / "ct")
    return appdir


@pytest.mark.parametrize("args,name,expect", [
    ([], "AppRun", "ct"),
    (["ct-python-recorder", "x.py"], "AppRun", "shim"),
    (["x.py"], "ct-python-recorder", "shim"),
])
def test_apprun_execs_ct_and_the_shim(tmp_path, args, name, expect):
    """No fork in AppRun: the command it starts has AppRun's pid, so signals sent to the pid
    a shell knows reach ct (or the shim) directly."""
    appdir = _appdir(tmp_path)
    argv0 = appdir / "AppRun"
    if name != "AppRun":
        argv0 = tmp_path / name
        argv0.symlink_to(appdir / "AppRun")
    proc = subprocess.Popen([str(argv0), *args], stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=30)
    assert out == f"{expect} pid={proc.pid}\n"


# --- a tiny AppImage with the real ct --------------------------------------------------------
CT_LAUNCHER = """#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
exec {python} "$here/ct_main.py" "$@"
"""
CT_MAIN = """import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "src"))
from ct.cli import main
sys.exit(main())
"""
PROGRAM = """import os, sys, time
print("ready", os.getppid(), flush=True)
try:
    time.sleep(30)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    raise
"""


@pytest.fixture(scope="module")
def real_ct_appimage(tmp_path_factory) -> Path:
    for tool in ("mksquashfs", "desktop-file-validate"):
        need(tool)
    try:
        tools.appimage_runtime()
    except tools.ToolNotFound as exc:
        pytest.skip(f"no AppImage runtime: {exc}")
    probe = subprocess.run([sys.executable, "-c", "import codetracer_python_recorder.cli"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("the recorder is not installed in the test interpreter")
    tmp = tmp_path_factory.mktemp("ai")
    ctx = BuildContext.default("linux").with_(
        dist=tmp / "dist", build=tmp / "build", frozen_ct=tmp / "freeze" / "ct",
        resources_python=tmp / "stage" / "resources" / "python", shims_dir=tmp / "shims")
    ctx.frozen_ct.mkdir(parents=True)
    (ctx.frozen_ct / "ct").write_text(CT_LAUNCHER.format(python=sys.executable))
    (ctx.frozen_ct / "ct").chmod(0o755)
    (ctx.frozen_ct / "ct_main.py").write_text(CT_MAIN)
    shutil.copytree(ROOT / "src" / "ct", ctx.frozen_ct / "src" / "ct",
                    ignore=shutil.ignore_patterns("__pycache__"))
    stage.stage(make_wheel(tmp / "wheels").parent, ctx.resources_python, target_os="linux")
    shims.render_all(ctx.shims_dir, target_os="linux", version=ctx.version)
    return appimage.build(ctx)


def _env(tmp_path: Path, extract: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "APPIMAGE", "APPDIR", "ARGV0", "CODETRACER_RESOURCES")}
    env.update(CODETRACER_DATA_DIR=str(tmp_path / "data"),
               CODETRACER_PYTHON_INTERPRETER=sys.executable)
    if extract:
        env["APPIMAGE_EXTRACT_AND_RUN"] = "1"
    else:
        env.pop("APPIMAGE_EXTRACT_AND_RUN", None)
    return env


def _extracted() -> set[str]:
    return set(glob.glob("/tmp/appimage_extracted_*"))


@pytest.fixture
def started():
    """Processes a test started (each leads its own group); killed if the test failed."""
    procs: list[subprocess.Popen] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _start(image: Path, tmp_path: Path, extract: bool,
           started: list) -> tuple[subprocess.Popen, int]:
    (tmp_path / "app.py").write_text(PROGRAM)
    proc = subprocess.Popen([str(image), "record", "-q", "app.py"], cwd=tmp_path,
                            env=_env(tmp_path, extract), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    started.append(proc)
    line = proc.stdout.readline()
    assert line.startswith("ready"), (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, int(line.split()[1])


def _gone(pid: int, timeout: float = 30) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
                return True  # a zombie: ended, waiting to be reaped by its (test) parent
        except OSError:
            return True
        time.sleep(0.1)
    return False


def test_fuse_mode_ct_is_the_runtime_process(real_ct_appimage, tmp_path, started):
    if not Path("/dev/fuse").exists() or not shutil.which("fusermount"):
        pytest.skip("no FUSE here (/dev/fuse or fusermount missing): extract-and-run only")
    proc, ct_pid = _start(real_ct_appimage, tmp_path, extract=False, started=started)
    assert ct_pid == proc.pid  # runtime -> exec AppRun -> exec ct: one process
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM, err
    assert "interrupted" not in out


@pytest.mark.parametrize("how", ["kill-runtime", "ctrl-c-group"])
def test_extract_and_run_forwards_and_cleans_up(real_ct_appimage, tmp_path, how, started):
    before = _extracted()
    proc, ct_pid = _start(real_ct_appimage, tmp_path, extract=True, started=started)
    assert ct_pid != proc.pid  # the runtime forks ct in this mode
    mine = _extracted() - before
    assert len(mine) == 1
    if how == "kill-runtime":
        proc.send_signal(signal.SIGTERM)  # what a supervisor does with the pid it knows
    else:
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    out, err = proc.communicate(timeout=60)
    assert _gone(ct_pid, 10), "ct was left running"  # the program alone would sleep 30 s
    listed = subprocess.run([sys.executable, "-c", BOOT, "list", "--json"], capture_output=True,
                            text=True, env=_env(tmp_path, False), check=True)
    assert len(json.loads(listed.stdout)) == 1  # the trace of the interrupted run is indexed
    time.sleep(0.5)
    assert not (_extracted() & mine), "the extracted folder was left behind"
    if how == "ctrl-c-group":
        assert out.count("interrupted") == 1  # once: never a second signal from ct
    # the next run is clean: nothing but the program's output, even with -q
    (tmp_path / "again.py").write_text("print('again')\n")
    again = subprocess.run([str(real_ct_appimage), "record", "-q", "again.py"], cwd=tmp_path,
                           env=_env(tmp_path, True), capture_output=True, text=True,
                           timeout=120)
    assert (again.returncode, again.stdout, again.stderr) == (0, "again\n", "")
    assert not (_extracted() - before)


def test_extract_and_run_reports_a_signal_death_as_128_plus_n(real_ct_appimage, tmp_path):
    (tmp_path / "app.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n")
    r = subprocess.run([str(real_ct_appimage), "record", "-q", "app.py"], cwd=tmp_path,
                       env=_env(tmp_path, True), capture_output=True, text=True, timeout=120)
    assert r.returncode == 128 + signal.SIGTERM, r.stderr  # the runtime would have said 1
