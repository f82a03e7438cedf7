"""The options table (options.OPTIONS) is what the CLI parses, what --help shows, what the
environment sets, and what the native policy resolver reads."""

from __future__ import annotations

import pytest
from rt_helpers import requires_recorder

pytestmark = requires_recorder

SAMPLE = {  # a valid value per option that takes one, different from the default
    "trace_dir": "out", "format": "json", "activation_path": "a.py", "with_diff": "HEAD",
    "trace_filters": "f.toml", "io_capture": "off", "on_recorder_error": "abort",
    "log_level": "debug", "log_file": "log.txt", "max_string": "7", "max_bytes": "7",
    "max_items": "7", "max_depth": "7", "deps": "record", "deps_miss": "live",
}


def _options():
    from codetracer_python_recorder import options

    return options.OPTIONS


def _value(opts, dest):
    from codetracer_python_recorder import cli

    if dest in cli._CAPS:
        return opts.caps.get(dest)
    return getattr(opts, dest)


@pytest.mark.parametrize("option", _options(), ids=lambda o: o.flag)
def test_every_flag_parses_into_its_field(option):
    from codetracer_python_recorder import cli

    default = _value(cli.parse_args(["app.py"], environ={}), option.dest)
    argv = [option.flag, SAMPLE[option.dest]] if option.takes_value else [option.flag]
    if option.dest == "deps_only":
        argv = ["--deps", "record", *argv]
    opts = cli.parse_args([*argv, "app.py", "--x"], environ={})
    assert opts.target.script == "app.py" and opts.target.args == ["--x"]
    assert _value(opts, option.dest) != default


@pytest.mark.parametrize("option", [o for o in _options() if o.env], ids=lambda o: o.env)
def test_every_variable_is_read(option, tmp_path, monkeypatch):
    """Read by the CLI, by the native policy resolver, or (filters) when recording starts."""
    from codetracer_python_recorder import _native, cli

    value = SAMPLE.get(option.dest, "true")
    if option.kind == "policy":
        resolved = _native.resolve_policy({option.env: value}, [])
        assert resolved != _native.resolve_policy({}, []), option.env
        if option.choices or not option.takes_value:  # a path takes anything
            with pytest.raises(_native.UsageError, match=option.env):
                _native.resolve_policy({option.env: "bogus"}, [])
        return
    if option.kind == "list":  # CODETRACER_TRACE_FILTER: the filter chain is built natively
        bad = tmp_path / "bad.toml"
        bad.write_text("not = [valid")
        monkeypatch.setenv(option.env, str(bad))
        try:
            with pytest.raises(_native.UsageError, match="bad.toml"):
                _native.start(str(tmp_path / "t"), "app.py", script_dir=str(tmp_path))
        finally:
            if _native.is_tracing():
                _native.stop(0)
        return
    opts = cli.parse_args(["app.py"], environ={option.env: value})
    if option.kind == "flag":  # validated: a bad value is a usage error
        with pytest.raises(_native.UsageError, match=option.env):
            cli.parse_args(["app.py"], environ={option.env: "bogus"})
        return
    assert _value(opts, option.dest) != _value(cli.parse_args(["app.py"], environ={}),
                                               option.dest)


@pytest.mark.parametrize("option", [o for o in _options() if o.kind == "policy"],
                         ids=lambda o: o.flag)
def test_policy_flags_are_the_native_resolvers(option):
    from codetracer_python_recorder import _native

    value = SAMPLE.get(option.dest, "true")
    assert _native.resolve_policy({}, [(option.flag, value)]) != _native.resolve_policy({}, [])
    for choice in option.choices:
        _native.resolve_policy({}, [(option.flag, choice)])


def test_help_lists_every_option_and_variable():
    from codetracer_python_recorder import cli

    text = cli.usage()
    for option in _options():
        assert option.flag in text
        if option.env:
            assert f"[{option.env}]" in text
    assert "2 usage, 10 environment, 20 target, 70 internal" in text
