"""Upstream's public API (codetracer-python-recorder 0.3.0) and CLI flags, on our recorder.

Code written for upstream must keep working after an upgrade to ours. Recordings run in a
child interpreter: one recording per process, and this process is pytest.
"""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from rt_helpers import Trace, load_meta, record, requires_recorder, run

pytestmark = requires_recorder


def py(tmp_path, code, *args, env=None):
    """Runs ``code`` as a script file (so its functions are the program's own code)."""
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(code), encoding="utf-8")
    return run([sys.executable, str(script), *args], cwd=tmp_path, env=env)


def ok(proc):
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


# --- the upstream README's examples ------------------------------------------------------


def test_readme_trace_context_manager(tmp_path):
    """`with codetracer.trace(path): run_application()` records the block into path."""
    out = ok(py(tmp_path, """
        import codetracer_python_recorder as codetracer

        def run_application():
            total = sum(range(4))
            return total

        with codetracer.trace("trace-out", format=codetracer.TRACE_JSON) as session:
            run_application()
        print(codetracer.is_tracing(), session.path, session.format)
    """))
    assert out.split() == ["False", "trace-out", "json"]
    trace = Trace(json.loads((tmp_path / "trace-out" / "trace.json").read_text()))
    assert trace.returns_of("run_application") == [{"kind": "Int", "type_id": 0, "i": 6}]
    meta = load_meta(tmp_path / "trace-out")
    assert meta["run_as"] == "library" and meta["program"] == str(tmp_path / "prog.py")


def test_readme_cli_example(tmp_path):
    """The README's CLI line: --trace-dir, --format json, --activation-path, --trace-filter."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text("import sys\nprint(sys.argv[1:])\n")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "trace-filter.toml").write_text(
        '[meta]\nname = "x"\nversion = 1\n[scope]\ndefault_exec = "trace"\n'
    )
    proc = record(tmp_path / "trace-out", [
        "--activation-path", "app/main.py", "--trace-filter", "config/trace-filter.toml",
        "app/main.py", "--arg=value",
    ], cwd=tmp_path)
    assert ok(proc) == "['--arg=value']\n"
    meta = load_meta(tmp_path / "trace-out")
    assert [f["path"] for f in meta["filters"]["filters"]] == [
        str(tmp_path / "config" / "trace-filter.toml")
    ]


def test_start_stop_default_format_is_ctfs(tmp_path):
    """`start(path)` / `stop()`: DEFAULT_FORMAT is upstream's "binary", which is CTFS here."""
    out = ok(py(tmp_path, """
        import os
        import codetracer_python_recorder as codetracer

        def work(n):
            return n * 2

        session = codetracer.start("out")
        print(codetracer.is_tracing(), session.format == codetracer.DEFAULT_FORMAT)
        work(21)
        codetracer.flush()
        session.flush()
        session.stop()
        session.stop()  # a second stop is a no-op, as upstream's
        print(codetracer.is_tracing(), sorted(os.listdir("out")))
    """))
    assert out.splitlines() == [
        "True True", "False ['trace.ct', 'trace_metadata.json', 'trace_paths.json']"
    ]
    meta = load_meta(tmp_path / "out")
    assert meta["format"] == "ctfs" and meta["exit_status"] is None
    assert meta["stats"]["calls"] >= 2  # <toplevel> and work()


def test_stop_exit_code_is_what_toplevel_returns(tmp_path):
    ok(py(tmp_path, """
        import codetracer_python_recorder as codetracer
        codetracer.start("out", format="json")
        codetracer.stop(exit_code=3)
    """))
    events = json.loads((tmp_path / "out" / "trace.json").read_text())
    last_return = [e["Return"] for e in events if "Return" in e][-1]
    assert last_return["return_value"]["i"] == 3
    assert load_meta(tmp_path / "out")["exit_status"] == 3


def test_second_start_raises_runtime_error(tmp_path):
    out = ok(py(tmp_path, """
        import codetracer_python_recorder as codetracer
        codetracer.start("a")
        try:
            codetracer.start("b")
        except RuntimeError as exc:
            print("RuntimeError:", exc)
        codetracer.stop()
    """))
    assert out.startswith("RuntimeError: tracing already active")
    assert not (tmp_path / "b").exists()


def test_start_on_enter_and_trace_filter_chain(tmp_path):
    """`start_on_enter` gates recording; `trace_filter` takes upstream's a::b chains."""
    (tmp_path / "lib.py").write_text("def helper(x):\n    return x + 1\n")
    for name in ("a", "b"):
        (tmp_path / f"{name}.toml").write_text(
            f'[meta]\nname = "{name}"\nversion = 1\n[scope]\ndefault_exec = "trace"\n'
        )
    ok(py(tmp_path, """
        import codetracer_python_recorder as codetracer
        import lib

        def before():
            return 0

        with codetracer.trace("out", format="json", start_on_enter="lib.py",
                              trace_filter="a.toml::b.toml"):
            before()
            lib.helper(1)
    """))
    trace = Trace(json.loads((tmp_path / "out" / "trace.json").read_text()))
    assert trace.calls("before") == [] and len(trace.calls("helper")) == 1
    filters = load_meta(tmp_path / "out")["filters"]["filters"]
    assert [f["path"] for f in filters] == [str(tmp_path / "a.toml"), str(tmp_path / "b.toml")]


# --- errors -----------------------------------------------------------------------------


def test_error_classes_and_upstream_aliases():
    import codetracer_python_recorder as codetracer
    from codetracer_python_recorder import errors

    assert codetracer.EnvironmentError is codetracer.RecorderEnvironmentError
    for cls in (codetracer.UsageError, codetracer.EnvironmentError, codetracer.TargetError,
                codetracer.InternalError):
        assert issubclass(cls, codetracer.RecorderError)
    assert issubclass(codetracer.UsageError, ValueError)
    assert not issubclass(codetracer.TargetError, ValueError)
    assert codetracer.RecorderError.__name__ == "RecorderError"
    err = errors.make_error("ERR_INVALID_ARGUMENT", "x")
    assert isinstance(err, ValueError) and err.code == "ERR_INVALID_ARGUMENT"


def test_native_usage_errors_are_value_errors(tmp_path):
    """Errors raised in Rust are the same classes: a bad policy value from the native
    resolver is caught by ``except ValueError`` too."""
    from codetracer_python_recorder import _native

    with pytest.raises(ValueError, match="--on-recorder-error"):
        _native.resolve_policy({}, [("--on-recorder-error", "sometimes")])


def test_bad_format_and_file_path_are_usage_errors(tmp_path):
    import codetracer_python_recorder as codetracer

    with pytest.raises(codetracer.UsageError, match="unsupported trace format 'yaml'"):
        codetracer.start(tmp_path / "t", format="yaml")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        codetracer.start(tmp_path / "file")
    with pytest.raises(codetracer.UsageError, match="does not exist"):
        codetracer.start(tmp_path / "t", trace_filter=tmp_path / "missing.toml")
    assert not codetracer.is_tracing()


# --- policies ---------------------------------------------------------------------------


@pytest.fixture
def policy():
    from codetracer_python_recorder import api

    saved = api.policy_snapshot()
    yield api
    api._policy.clear()
    api._policy.update(saved)


def test_configure_policy_and_snapshot(policy, tmp_path):
    policy.configure_policy(on_recorder_error="abort", require_trace=True, log_level="debug",
                            log_file=tmp_path / "r.log", propagate_script_exit=True)
    snap = policy.policy_snapshot()
    assert snap["on_recorder_error"] == "abort" and snap["require_trace"] is True
    assert snap["log_level"] == "debug" and snap["log_file"] == str(tmp_path / "r.log")
    assert snap["propagate_script_exit"] is True
    policy.configure_policy(log_level="", log_file="")
    assert policy.policy_snapshot()["log_level"] is None
    assert policy.policy_snapshot()["log_file"] is None
    snap["require_trace"] = False  # a copy
    assert policy.policy_snapshot()["require_trace"] is True


def test_configure_policy_rejects_bad_values(policy):
    with pytest.raises(ValueError, match="allowed: abort, disable"):
        policy.configure_policy(on_recorder_error="sometimes")
    with pytest.raises(TypeError, match="unknown key"):
        policy.configure_policy(colour="blue")
    assert policy.policy_snapshot()["on_recorder_error"] == "disable"


def test_configure_policy_from_env(policy, monkeypatch):
    monkeypatch.setenv("CODETRACER_REQUIRE_TRACE", "yes")
    monkeypatch.setenv("CODETRACER_KEEP_PARTIAL_TRACE", "1")
    monkeypatch.setenv("CODETRACER_CAPTURE_IO", "off")
    monkeypatch.setenv("CODETRACER_PROPAGATE_SCRIPT_EXIT", "true")
    policy.configure_policy_from_env()
    snap = policy.policy_snapshot()
    assert snap["require_trace"] and snap["keep_partial_trace"] and snap["propagate_script_exit"]
    assert snap["io_capture_line_proxies"] is False
    assert snap["on_recorder_error"] == "disable"  # unset: unchanged
    monkeypatch.setenv("CODETRACER_JSON_ERRORS", "sometimes")
    with pytest.raises(ValueError, match="CODETRACER_JSON_ERRORS"):
        policy.configure_policy_from_env()


def test_policy_reaches_the_recording(tmp_path):
    """io capture off through `policy=` means no Write events; the policy is in metadata."""
    ok(py(tmp_path, """
        import codetracer_python_recorder as codetracer
        with codetracer.trace("out", format="json", policy={"io_capture_line_proxies": False}):
            print("hello")
    """))
    events = json.loads((tmp_path / "out" / "trace.json").read_text())
    assert not [e for e in events if "Event" in e and e["Event"]["kind"] == 0]
    assert load_meta(tmp_path / "out")["policy"]["io_capture_line_proxies"] is False


# --- auto-start -------------------------------------------------------------------------


def test_auto_start_records_until_exit(tmp_path):
    out = ok(py(tmp_path, """
        import codetracer_python_recorder as codetracer

        def work():
            return 7

        print(codetracer.is_tracing())
        work()
    """, env={"CODETRACER_TRACE": str(tmp_path / "auto"), "CODETRACER_FORMAT": "json"}))
    assert out == "True\n"
    trace = Trace(json.loads((tmp_path / "auto" / "trace.json").read_text()))
    assert len(trace.calls("work")) == 1


def test_auto_start_failure_is_one_line_and_the_program_runs(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("")
    proc = py(tmp_path, "import codetracer_python_recorder as c\nprint(c.is_tracing())\n",
              env={"CODETRACER_TRACE": str(tmp_path / "busy")})
    assert ok(proc) == "False\n"
    err = proc.stderr.decode().splitlines()
    assert len(err) == 1 and "not empty" in err[0] and "ERR_TRACE_DIR_CONFLICT" in err[0]


def test_auto_start_leaves_the_cli_alone(tmp_path):
    """Under the recorder CLI, CODETRACER_TRACE does not start a second recording."""
    (tmp_path / "app.py").write_text("print('ran')\n")
    proc = record(tmp_path / "cli", ["app.py"], cwd=tmp_path,
                  env={"CODETRACER_TRACE": str(tmp_path / "auto")})
    assert ok(proc) == "ran\n"
    assert (tmp_path / "cli" / "trace.json").exists() and not (tmp_path / "auto").exists()


def test_import_stays_cheap():
    """The CLI imports the package: upstream's API module is loaded only when used."""
    proc = run([sys.executable, "-c",
                "import sys, codetracer_python_recorder as c; "
                "print('codetracer_python_recorder.api' in sys.modules); c.policy_snapshot(); "
                "print('codetracer_python_recorder.api' in sys.modules)"])
    assert ok(proc).split() == ["False", "True"]


# --- upstream's CLI flags ---------------------------------------------------------------


def test_cli_io_capture_off(tmp_path):
    (tmp_path / "app.py").write_text("print('hi')\n")
    ok(record(tmp_path / "on", ["app.py"], cwd=tmp_path))
    proc = record(tmp_path / "off", ["--io-capture", "off", "app.py"], cwd=tmp_path)
    assert ok(proc) == "hi\n"

    def writes(d):
        return [e for e in json.loads((d / "trace.json").read_text())
                if "Event" in e and e["Event"]["kind"] == 0]

    assert writes(tmp_path / "on") and not writes(tmp_path / "off")
    proc = record(tmp_path / "bad", ["--io-capture", "sometimes", "app.py"], cwd=tmp_path)
    assert proc.returncode == 2 and b"--io-capture" in proc.stderr
    proc = record(tmp_path / "env", ["app.py"], cwd=tmp_path,
                  env={"CODETRACER_CAPTURE_IO": "off"})
    assert not writes(tmp_path / "env")


def test_cli_propagate_script_exit_is_accepted(tmp_path):
    """Ours always returns the program's status (upstream returned 0 without the flag)."""
    (tmp_path / "app.py").write_text("raise SystemExit(3)\n")
    assert record(tmp_path / "a", ["app.py"], cwd=tmp_path).returncode == 3
    proc = record(tmp_path / "b", ["--propagate-script-exit", "app.py"], cwd=tmp_path)
    assert proc.returncode == 3


def test_cli_filter_chain_in_one_flag(tmp_path):
    (tmp_path / "app.py").write_text("x = 1\n")
    for name in ("a", "b"):
        (tmp_path / f"{name}.toml").write_text(
            f'[meta]\nname = "{name}"\nversion = 1\n[scope]\ndefault_exec = "trace"\n'
        )
    ok(record(tmp_path / "t", ["--trace-filter", "a.toml::b.toml", "app.py"], cwd=tmp_path))
    paths = [f["path"] for f in load_meta(tmp_path / "t")["filters"]["filters"]]
    assert paths == [str(tmp_path / "a.toml"), str(tmp_path / "b.toml")]
