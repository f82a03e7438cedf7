"""Failure paths: what the user sees and what is (not) left on disk."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rt_helpers import (
    PARITY,
    PROGRAMS,
    Trace,
    load_meta,
    load_trace,
    record,
    requires_recorder,
    run,
)

pytestmark = requires_recorder

RECORDER = [sys.executable, "-m", "codetracer_python_recorder", "--format", "json"]


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".staging-" in p.name)


def test_trace_dir_is_a_file(tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    proc = record(target, ["argv_echo.py"], cwd=PARITY)
    assert proc.returncode == 2
    assert proc.stdout == b""  # the program did not run
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and "ERR_TRACE_DIR_CONFLICT" in err and "is a file" in err
    assert target.read_text() == "not a folder"


def test_trace_dir_already_holds_a_trace(tmp_path):
    first = record(tmp_path / "t", ["argv_echo.py"], cwd=PARITY)
    assert first.returncode == 0
    before = (tmp_path / "t" / "trace.json").read_bytes()
    second = record(tmp_path / "t", ["exit_status.py"], cwd=PARITY)
    assert second.returncode == 2 and b"not empty" in second.stderr
    assert (tmp_path / "t" / "trace.json").read_bytes() == before
    assert leftovers(tmp_path) == []


def test_trace_dir_not_writable(tmp_path):
    proc = record("/dev/null/trace", ["argv_echo.py"], cwd=PARITY)
    assert proc.returncode == 10
    assert b"ERR_IO" in proc.stderr and proc.stderr.decode().count("\n") == 1


def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def _record_with_small_disk(tmp_path, *extra):
    argv = [*RECORDER, "--trace-dir", str(tmp_path / "t"), *extra, str(PROGRAMS / "writer.py")]
    return subprocess.run(argv, capture_output=True, preexec_fn=_limit_file_size, timeout=120)


def test_disk_full_detaches_and_program_finishes(tmp_path):
    plain = subprocess.run([sys.executable, str(PROGRAMS / "writer.py")], capture_output=True)
    proc = _record_with_small_disk(tmp_path)
    assert proc.returncode == plain.returncode == 0
    assert proc.stdout == plain.stdout
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and "[ERR_IO]" in err and "no trace was written" in err
    assert not (tmp_path / "t").exists()
    assert leftovers(tmp_path) == []


def test_disk_full_with_require_trace_fails_with_environment_status(tmp_path):
    proc = _record_with_small_disk(tmp_path, "--require-trace")
    assert proc.returncode == 10
    assert b"finished" in proc.stdout
    assert not (tmp_path / "t").exists()


def test_disk_full_keep_partial_marks_trace_partial(tmp_path):
    proc = _record_with_small_disk(tmp_path, "--keep-partial-trace")
    assert proc.returncode == 0
    meta = json.loads((tmp_path / "t" / "trace_metadata.json").read_text())
    assert meta["partial"] is True and "ERR_IO" in meta["partial_reason"]


def _default_sigint():
    """As from a terminal. A job started in the background by a non-interactive shell (as CI
    runners may start this suite) inherits SIGINT ignored, and then Python, with or without
    the recorder, never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_sleeper(tmp_path):
    proc = subprocess.Popen(
        [*RECORDER, "--trace-dir", str(tmp_path / "t"), str(PROGRAMS / "sleeper.py")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_sigint,
    )
    assert proc.stdout.readline() == b"ready\n"
    time.sleep(0.3)
    return proc


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_run_finalises_trace(tmp_path, signum):
    proc = _start_sleeper(tmp_path)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signum
    if signum == signal.SIGINT:
        assert err.decode().rstrip().endswith("KeyboardInterrupt")
        assert "codetracer_python_recorder" not in err.decode()
    events, meta = load_trace(tmp_path / "t")
    assert meta["interrupted"] == signal.Signals(signum).name
    t = Trace(events)
    assert sum("Call" in e for e in events) == sum("Return" in e for e in events)
    assert any(v.get("count") for v in t.locals_at(8))


def test_huge_values_stay_within_caps(tmp_path):
    start = time.perf_counter()
    proc = record(tmp_path / "t", [str(PROGRAMS / "big_values.py")])
    assert proc.returncode == 0, proc.stderr
    assert time.perf_counter() - start < 60
    size = (tmp_path / "t" / "trace.json").stat().st_size
    assert size < 64 * 1024, size
    last = Trace(load_trace(tmp_path / "t")[0]).locals_at(3)[-1]
    assert len(last["huge_text"]["text"]) < 300
    assert len(last["huge_list"]["elements"]) == 17  # 16 items + the "more" marker
    assert "999984 more" in last["huge_list"]["elements"][-1]["r"]


def test_caps_are_settable(tmp_path):
    proc = record(tmp_path / "t", ["--max-string", "5", "--max-items", "2", str(PROGRAMS / "big_values.py")])
    assert proc.returncode == 0, proc.stderr
    last = Trace(load_trace(tmp_path / "t")[0]).locals_at(3)[-1]
    assert last["huge_text"]["text"].startswith("yyyyy…")
    assert len(last["huge_list"]["elements"]) == 3


def test_bad_cap_is_a_usage_error(tmp_path):
    proc = record(tmp_path / "t", ["--max-items", "lots", str(PROGRAMS / "big_values.py")])
    assert proc.returncode == 2 and b"--max-items" in proc.stderr


@pytest.mark.parametrize(
    "env,flag",
    [({"CODETRACER_ON_RECORDER_ERROR": "explode"}, "CODETRACER_ON_RECORDER_ERROR"),
     ({"CODETRACER_REQUIRE_TRACE": "maybe"}, "CODETRACER_REQUIRE_TRACE"),
     ({"CODETRACER_FORMAT": "some"}, "CODETRACER_FORMAT"),
     ({}, "--on-recorder-error"),
     ({}, "--format")],
)
def test_invalid_policy_values_name_the_source(tmp_path, env, flag):
    extra = [flag, "sometimes"] if flag.startswith("--") else []
    proc = record(tmp_path / "t", [*extra, "argv_echo.py"], cwd=PARITY, env=env, format=None)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert flag in err and "allowed:" in err and "ERR_INVALID_POLICY_VALUE" in err
    assert proc.stdout == b""


def test_format_from_the_environment_and_flag_wins(tmp_path):
    env = {"CODETRACER_FORMAT": "json"}
    record(tmp_path / "default", ["argv_echo.py"], cwd=PARITY, format=None)
    record(tmp_path / "env", ["argv_echo.py"], cwd=PARITY, env=env, format=None)
    record(tmp_path / "flag", ["--format", "ctfs", "argv_echo.py"], cwd=PARITY, env=env,
           format=None)
    files = [sorted(p.name for p in (tmp_path / d).iterdir() if p.name.startswith("trace."))
             for d in ("default", "env", "flag")]
    assert files == [["trace.ct"], ["trace.json"], ["trace.ct"]]
    formats = [load_meta(tmp_path / d)["format"] for d in ("default", "env", "flag")]
    assert formats == ["ctfs", "json", "ctfs"]


def test_json_errors_trailer_shape(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    proc = record(target, ["--json-errors", "argv_echo.py"], cwd=PARITY)
    lines = proc.stderr.decode().splitlines()
    trailer = json.loads(lines[-1])
    assert set(trailer) >= {"run_id", "trace_id", "error_code", "error_kind", "message", "context"}
    assert trailer["error_code"] == "ERR_TRACE_DIR_CONFLICT" and trailer["error_kind"] == "usage"


def test_all_tool_ids_taken_is_a_clear_environment_error(tmp_path):
    code = (
        "import sys\n"
        "for i in range(6): sys.monitoring.use_tool_id(i, 'other')\n"
        "from codetracer_python_recorder import Session, RecorderEnvironmentError\n"
        f"s = Session({str(tmp_path / 't')!r}, 'prog')\n"
        "try:\n    s.start()\n"
        "except RecorderEnvironmentError as e:\n    print(e.code, 'tool id' in str(e))\n"
    )
    proc = run([sys.executable, "-c", code])
    assert proc.stdout.decode().split() == ["ERR_NO_TOOL_ID", "True"], proc.stderr
    assert not (tmp_path / "t").exists() and leftovers(tmp_path) == []


def test_activation_path_starts_recording_in_that_file(tmp_path):
    lib = PROGRAMS / "activation_lib.py"
    proc = record(tmp_path / "t", ["--activation-path", str(lib), str(PROGRAMS / "activation_main.py")], cwd=PROGRAMS)
    assert proc.returncode == 0 and proc.stdout == b"8\n"
    t = Trace(load_trace(tmp_path / "t")[0])
    assert len(t.calls("work")) == 1 and len(t.calls("helper")) == 1
    assert t.calls("before") == [] and t.calls("<__main__>") == []


def test_old_python_gets_one_line_error():
    py311 = Path(os.popen("pyenv root").read().strip() or "/root/.pyenv") / "versions/3.11.7/bin/python"
    if not py311.exists():
        pytest.skip("pyenv Python 3.11.7 not available")
    import codetracer_python_recorder

    site_dir = str(Path(codetracer_python_recorder.__file__).parent.parent)
    proc = run([str(py311), "-m", "codetracer_python_recorder", "x.py"], env={"PYTHONPATH": site_dir})
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1
    assert ">= 3.12" in err and "3.11.7" in err


def _fault_injection_available() -> bool:
    from codetracer_python_recorder import _native

    return _native.FAULT_INJECTION


needs_faults = pytest.mark.skipif(
    not _fault_injection_available(),
    reason="recorder built without the test-only 'fault-injection' feature "
    "(nox -s tests builds it with MATURIN_PEP517_ARGS='--features fault-injection')",
)


@needs_faults
def test_injected_panic_with_disable_policy_keeps_program_output(tmp_path):
    env = {"CODETRACER_TEST_PANIC_ON_LINE": "2"}
    plain = run([sys.executable, str(PROGRAMS / "writer.py")])
    proc = record(tmp_path / "t", [str(PROGRAMS / "writer.py")], env=env)
    assert (proc.stdout, proc.returncode) == (plain.stdout, plain.returncode)
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and "[ERR_PANIC]" in err and "injected panic" in err
    assert not (tmp_path / "t").exists() and leftovers(tmp_path) == []


@needs_faults
def test_injected_panic_keep_partial_records_diagnostics(tmp_path):
    env = {"CODETRACER_TEST_PANIC_ON_LINE": "2"}
    proc = record(tmp_path / "t", ["--keep-partial-trace", str(PROGRAMS / "writer.py")], env=env)
    assert proc.returncode == 0
    events, meta = load_trace(tmp_path / "t")
    assert meta["partial"] is True and "ERR_PANIC" in meta["partial_reason"]
    assert meta["diagnostics"]["caught_panics"] == 1 and meta["diagnostics"]["detaches"] == 1
    assert sum("Call" in e for e in events) == sum("Return" in e for e in events)


@needs_faults
def test_injected_panic_with_abort_policy_stops_program(tmp_path):
    env = {"CODETRACER_TEST_PANIC_ON_LINE": "2"}
    proc = record(tmp_path / "t", ["--on-recorder-error", "abort", str(PROGRAMS / "writer.py")], env=env)
    assert proc.returncode == 70
    assert b"finished" not in proc.stdout
    assert b"InternalError" in proc.stderr and b"[ERR_PANIC]" in proc.stderr
    assert not (tmp_path / "t").exists() and leftovers(tmp_path) == []


def test_structured_logs_go_to_log_file_never_stdout(tmp_path):
    log = tmp_path / "rec.log"
    plain = run([sys.executable, "argv_echo.py", "a"], cwd=PARITY)
    proc = record(tmp_path / "t", ["--log-level", "info", "--log-file", str(log), "argv_echo.py", "a"], cwd=PARITY)
    assert (proc.stdout, proc.stderr, proc.returncode) == (plain.stdout, b"", 0)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) >= 2
    meta = json.loads((tmp_path / "t" / "trace_metadata.json").read_text())
    for line in lines:
        assert {"ts", "level", "run_id", "trace_id", "message"} <= set(line)
        assert line["level"] == "info" and line["trace_id"] == meta["trace_id"]
    assert len({line["run_id"] for line in lines}) == 1


def test_default_run_prints_nothing_of_its_own(tmp_path):
    plain = run([sys.executable, "argv_echo.py"], cwd=PARITY)
    proc = record(tmp_path / "t", ["argv_echo.py"], cwd=PARITY)
    assert (proc.stdout, proc.stderr) == (plain.stdout, plain.stderr)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_leaves_the_parent_trace_intact(tmp_path):
    plain = run([sys.executable, str(PROGRAMS / "forker.py")])
    proc = record(tmp_path / "t", [str(PROGRAMS / "forker.py")])
    assert (proc.stdout, proc.stderr, proc.returncode) == (plain.stdout, plain.stderr, plain.returncode)
    events, meta = load_trace(tmp_path / "t")
    assert meta["exit_status"] == 0
    assert sum("Call" in e for e in events) == sum("Return" in e for e in events)
    assert leftovers(tmp_path) == []


def test_unrecorded_code_is_disabled_not_filtered_per_event(tmp_path):
    """json.dumps runs ~10 stdlib lines per call; with DISABLE they reach the recorder only
    once per location, so callbacks stay near the user code's own ~2 per iteration."""
    proc = record(tmp_path / "t", [str(PROGRAMS / "stdlib_heavy.py")])
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((tmp_path / "t" / "trace_metadata.json").read_text())
    assert meta["stats"]["steps"] >= 10000
    assert meta["stats"]["callbacks"] < 1.3 * meta["stats"]["steps"], meta["stats"]
    assert meta["diagnostics"]["dropped_events"] == 0


def test_sigkill_leaves_no_trace_and_the_next_run_clears_its_staging(tmp_path):
    proc = subprocess.Popen(
        [*RECORDER, "--trace-dir", str(tmp_path / "t"), str(PROGRAMS / "sleeper.py")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout.readline() == b"ready\n"
    proc.kill()
    proc.wait(timeout=30)
    assert not (tmp_path / "t").exists()
    assert len(leftovers(tmp_path)) == 1  # SIGKILL cannot be caught
    again = record(tmp_path / "t", ["argv_echo.py"], cwd=PARITY)
    assert again.returncode == 0
    assert leftovers(tmp_path) == []
    assert (tmp_path / "t" / "trace.json").exists()
