"""Trace filters end to end: scope skipping, redaction and drops, secrets, bad filter files."""

from __future__ import annotations

import json

import pytest
from rt_helpers import HERE, Trace, load_trace, record, requires_recorder

pytestmark = requires_recorder

PROJECT = HERE / "filter_project"
MAIN = str(PROJECT / "main.py")


def recorded(tmp_path, *extra, env=None):
    proc = record(tmp_path / "t", [*extra, MAIN], cwd=PROJECT, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"ada@acme\n"
    events, meta = load_trace(tmp_path / "t")
    return Trace(events), meta


def write_filter(tmp_path, text, name="f.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def login_locals(t):
    src = (PROJECT / "main.py").read_text().splitlines()
    line = next(i + 1 for i, s in enumerate(src) if "return f\"{user}@{company}\"" in s)
    return t.locals_at(line)[0]


def test_project_filter_skips_vendored_package(tmp_path):
    t, meta = recorded(tmp_path)
    assert t.calls("noisy") == []
    assert meta["filters"]["filters"][0]["name"] == "project"
    assert len(meta["filters"]["filters"][0]["sha256"]) == 64
    assert meta["filters"]["skipped_scopes"] >= 1


def test_builtin_secret_rule_matches_whole_tokens(tmp_path):
    t, meta = recorded(tmp_path)
    local = login_locals(t)
    for secret in ("password", "api_key", "session_id"):
        assert local[secret]["kind"] == "Raw" and local[secret]["r"] == "<redacted>", secret
    assert local["company"]["text"] == "acme"
    assert local["passage"]["text"] == "open"
    assert local["tokenizer_count"]["i"] == 3
    (args,) = t.call_args("login")
    assert args["password"]["r"] == "<redacted>" and args["user"]["text"] == "ada"
    # ret: the returning function's name is secret-looking
    (ret,) = t.returns_of("get_api_key")
    assert ret["r"] == "<redacted>"
    assert meta["filters"]["redactions"] >= 5


def test_redact_and_drop_on_every_selector_kind(tmp_path):
    f = write_filter(tmp_path, """
[[scope.rules]]
selector = "obj:login"
[[scope.rules.value_patterns]]
selector = "local:literal:passage"
action = "drop"
[[scope.rules.value_patterns]]
selector = "arg:user"
action = "redact"
[[scope.rules.value_patterns]]
selector = "attr:pin"
action = "redact"
[[scope.rules.value_patterns]]
selector = "attr:owner"
action = "drop"

[[scope.rules]]
selector = "file:main.py"
[[scope.rules.value_patterns]]
selector = "global:regex:^res"
action = "redact"
[[scope.rules.value_patterns]]
selector = "ret:glob:login*"
action = "drop"
""")
    t, meta = recorded(tmp_path, "--trace-filter", f)
    local = login_locals(t)
    assert "passage" not in local
    (args,) = t.call_args("login")
    assert args["user"]["r"] == "<redacted>"
    account = local["account"]
    assert [v.get("r") for v in account["field_values"]] == ["<redacted>"]
    (ret,) = t.returns_of("login")
    assert ret["r"] == "<dropped>"
    module_visits = [v for v in t.locals_at(26) if "result" in v]
    assert module_visits and module_visits[0]["result"]["r"] == "<redacted>"
    assert meta["filters"]["drops"] >= 3
    assert sum("Call" in e for e in t.events) == sum("Return" in e for e in t.events)


def test_explicit_allow_overrides_builtin_secret_rule(tmp_path):
    f = write_filter(tmp_path, """
[[scope.rules]]
selector = "obj:login"
[[scope.rules.value_patterns]]
selector = "local:literal:password"
action = "allow"
""")
    t, _ = recorded(tmp_path, "--trace-filter", f)
    assert login_locals(t)["password"]["text"] == "hunter2"


def test_env_filter_applies_before_cli(tmp_path):
    env_f = write_filter(tmp_path, '[scope]\ndefault_exec = "skip"\n', "env.toml")
    cli_f = write_filter(tmp_path, '[[scope.rules]]\nselector = "obj:login"\nexec = "trace"\n', "cli.toml")
    t, meta = recorded(tmp_path, "--trace-filter", cli_f, env={"CODETRACER_TRACE_FILTER": env_f})
    assert len(t.calls("login")) == 1 and t.calls("get_api_key") == []
    assert [f["path"].rsplit("/", 1)[-1] for f in meta["filters"]["filters"]] == [
        "trace-filter.toml", "env.toml", "cli.toml"]


BAD_FILTERS = {
    "unknown selector kind": ('[[scope.rules]]\nselector = "pk:app"\n', ":2:", "unknown selector kind"),
    "bad regex": ('[[scope.rules]]\nselector = "pkg:regex:("\n', ":2:", "regex"),
    "bad exec value": ('[scope]\ndefault_exec = "maybe"\n', ":2:", "maybe"),
    "unknown key": ('[scope]\nbogus = 1\n', ":2:", "bogus"),
    "wrong type": ('[[scope.rules]]\nselector = 5\n', ":2:", ""),
    "bad value action": ('[[scope.rules]]\nselector = "pkg:x"\n[[scope.rules.value_patterns]]\nselector = "local:x"\naction = "hide"\n', ":5:", "hide"),
    "not toml": ('[scope\n', ":1:", ""),
}


@pytest.mark.parametrize("case", sorted(BAD_FILTERS))
def test_malformed_filter_fails_before_program_starts(tmp_path, case):
    text, where, words = BAD_FILTERS[case]
    f = write_filter(tmp_path, text)
    proc = record(tmp_path / "t", ["--trace-filter", f, MAIN], cwd=PROJECT)
    err = proc.stderr.decode()
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert err.count("\n") == 1 and "ERR_INVALID_FILTER" in err
    assert f + where in err and words in err
    assert not (tmp_path / "t").exists()


def test_missing_filter_file(tmp_path):
    proc = record(tmp_path / "t", ["--trace-filter", str(tmp_path / "nope.toml"), MAIN], cwd=PROJECT)
    assert proc.returncode == 2 and b"nope.toml" in proc.stderr and proc.stdout == b""


def test_metadata_summary_is_json(tmp_path):
    _, meta = recorded(tmp_path)
    json.dumps(meta["filters"])
    assert {"skipped_scopes", "redactions", "drops", "filters"} <= set(meta["filters"])
