"""Command-line surface: argument splitting and one-line errors with documented statuses."""

from __future__ import annotations

import pytest
from ct_helpers import (
    ct_env_fixture,  # noqa: F401 (pytest fixtures)
    run_ct,
)

from ct.errors import CtError
from ct.record import parse


def test_options_only_before_program_everything_after_is_verbatim():
    o = parse(["-o", "out", "--quiet", "app.py", "--format", "json", "-o", "x", "--", "--quiet"])
    assert o.output == "out" and o.quiet
    assert o.program == "app.py"
    assert o.args == ["--format", "json", "-o", "x", "--", "--quiet"]


def test_double_dash_before_program_and_inline_values():
    o = parse(["--trace-filter=a.toml", "--trace-filter", "b.toml", "-oDIR", "--", "-weird.py", "-h"])
    assert o.trace_filters == ["a.toml", "b.toml"]
    assert o.output == "DIR"
    assert (o.program, o.args) == ("-weird.py", ["-h"])


def test_policy_flags_pass_through_in_recorder_spelling():
    o = parse(["--on-recorder-error", "disable", "--require-trace", "--keep-partial-trace",
               "--log-level", "debug", "--log-file", "l.txt", "--json-errors",
               "--activation-path", "a.py", "--with-diff", "last-commit", "p.py"])
    assert o.recorder_options() == [
        "--activation-path", "a.py", "--with-diff", "last-commit", "--on-recorder-error", "disable",
        "--require-trace", "--keep-partial-trace", "--log-level", "debug", "--log-file", "l.txt",
        "--json-errors",
    ]


def test_dash_m_takes_a_module_and_everything_after_it_is_verbatim():
    o = parse(["-q", "-m", "pkg.tool", "-o", "x", "--quiet"])
    assert (o.program, o.module, o.args, o.quiet, o.output) == ("pkg.tool", True, ["-o", "x", "--quiet"], True, None)
    o = parse(["-mpkg", "a"])
    assert (o.program, o.module, o.args) == ("pkg", True, ["a"])
    o = parse(["--", "-m.py"])  # after --, a file that happens to start with -m
    assert (o.program, o.module) == ("-m.py", False)


@pytest.mark.parametrize("argv", [["--bogus", "a.py"], ["-o"], [], ["--quiet=1", "a.py"], ["-m"]])
def test_parse_errors_are_usage(argv):
    with pytest.raises(CtError) as e:
        parse(argv)
    assert e.value.status == 2


def test_version_and_help(ct_env):
    r = run_ct(["--version"], env=ct_env)
    assert r.returncode == 0 and r.stdout.startswith("ct ")
    r = run_ct(["--help"], env=ct_env)
    assert r.returncode == 0 and "record" in r.stdout
    r = run_ct(["record", "--help"], env=ct_env)
    assert r.returncode == 0 and "--output-folder" in r.stdout


def _one_line_error(r, status, *needles):
    assert r.returncode == status, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    assert r.stdout == ""


def test_unknown_command_and_option(ct_env):
    _one_line_error(run_ct(["frobnicate"], env=ct_env), 2, "unknown command", "ct --help")
    _one_line_error(run_ct(["--frob"], env=ct_env), 2, "unknown option")
    _one_line_error(run_ct(["list", "--frob"], env=ct_env), 2, "--frob", "ct list --help")
    _one_line_error(run_ct(["record", "--frob", "a.py"], env=ct_env), 2, "--frob", "before PROGRAM")


def test_bad_programs(ct_env, tmp_path):
    (tmp_path / "script.rb").write_text("puts 1\n")
    (tmp_path / "dir.py").mkdir()
    _one_line_error(run_ct(["record"], env=ct_env), 2, "missing PROGRAM")
    _one_line_error(run_ct(["record", "nope.py"], env=ct_env, cwd=tmp_path), 20, "no such file", "python")
    _one_line_error(run_ct(["record", "dir.py"], env=ct_env, cwd=tmp_path), 20, "directory", "python")
    _one_line_error(run_ct(["record", "script.rb"], env=ct_env, cwd=tmp_path), 20,
                    "unsupported file type", "supported languages: python")
    _one_line_error(run_ct(["record", "--lang", "ruby", "script.rb"], env=ct_env, cwd=tmp_path), 2,
                    "unsupported language")


def test_output_folder_pointing_at_a_file(ct_env, tmp_path):
    (tmp_path / "app.py").write_text("print(1)\n")
    (tmp_path / "taken").write_text("x")
    _one_line_error(run_ct(["record", "-o", "taken", "app.py"], env=ct_env, cwd=tmp_path), 2,
                    "existing file", "directory")


def test_unwritable_data_dir(ct_env, tmp_path):
    (tmp_path / "app.py").write_text("print(1)\n")
    (tmp_path / "blocker").write_text("a file where the data dir should be")
    ct_env["CODETRACER_DATA_DIR"] = str(tmp_path / "blocker" / "data")
    _one_line_error(run_ct(["record", "app.py"], env=ct_env, cwd=tmp_path), 10,
                    "not writable", "CODETRACER_DATA_DIR")
    _one_line_error(run_ct(["list"], env=ct_env, cwd=tmp_path), 10, "CODETRACER_DATA_DIR")


def test_unknown_trace_id(ct_env):
    _one_line_error(run_ct(["show", "42"], env=ct_env), 20, "no recording", "ct list")
    _one_line_error(run_ct(["show", "latest"], env=ct_env), 20, "no recordings yet")


def test_list_empty(ct_env):
    r = run_ct(["list", "--json"], env=ct_env)
    assert r.returncode == 0 and r.stdout.strip() == "[]"


def test_data_dir_follows_xdg_data_home(ct_env, tmp_path):
    from ct_helpers import make_trace

    del ct_env["CODETRACER_DATA_DIR"]
    ct_env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    folder = make_trace(tmp_path / "t")
    r = run_ct(["index", "--import", str(folder)], env=ct_env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "xdg" / "codetracer" / "trace_index.db").is_file()
