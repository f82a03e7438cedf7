"""Semantics: what a recording of a small program says about its calls, values and events."""

from __future__ import annotations

import base64
import json

import pytest
from rt_helpers import PROGRAMS, Trace, load_trace, record, requires_recorder

pytestmark = requires_recorder

SRC = (PROGRAMS / "semantics.py").read_text().splitlines()


def line_of(text):
    return next(i + 1 for i, line in enumerate(SRC) if text in line)


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    out = tmp_path_factory.mktemp("sem") / "trace"
    proc = record(out, [str(PROGRAMS / "semantics.py")], cwd=PROGRAMS)
    assert proc.returncode == 0, proc.stderr
    events, meta = load_trace(out)
    return Trace(events), meta, proc


def test_calls_carry_argument_values(trace):
    t, _, _ = trace
    (args,) = t.call_args("halve")
    assert args["x"] == {"kind": "Int", "i": 5, "type_id": args["x"]["type_id"]}
    (scale_args,) = t.call_args("scale")
    assert scale_args["k"]["kind"] == "Float" and scale_args["k"]["f"] == "2.5"
    assert t.type_name(scale_args["v"]) == "Vec"


def test_float_return_and_struct_return(trace):
    t, _, _ = trace
    (ret,) = t.returns_of("halve")
    assert ret["kind"] == "Float" and ret["f"] == "2.5"
    (vec,) = t.returns_of("scale")
    assert vec["kind"] == "Struct"
    fields = [f["f"] for f in vec["field_values"]]
    assert fields == ["2.5", "5.0"]


def test_locals_at_a_line(trace):
    t, _, _ = trace
    visits = t.locals_at(line_of("return result"))
    assert visits and set(visits[0]) == {"v", "k", "result"}


def test_cells_free_variables_and_deleted_locals(trace):
    t, _, _ = trace
    (outer,) = t.locals_at(line_of("return bump"))
    assert set(outer) == {"start", "count", "bump"} and outer["count"]["i"] == 10
    (inner,) = t.locals_at(line_of("return count"))
    assert set(inner) == {"step", "count"} and inner["count"]["i"] == 15
    (after_del,) = t.locals_at(line_of("return x  # after del"))
    assert set(after_del) == {"x"}  # a deleted local is no longer listed


def test_module_level_lists_only_program_state(trace):
    t, _, _ = trace
    visits = t.locals_at(line_of("print(greeting, half)"))
    names = set(visits[-1])
    assert {"greeting", "half", "scaled", "ticks", "big"} <= names
    assert not names & {"threading", "Vec", "scale", "halve", "worker", "__name__", "__builtins__",
                        "make_counter", "forget", "bump"}
    assert visits[-1]["greeting"]["text"] == "grüße ✓"


def test_big_int_is_lossless(trace):
    t, _, _ = trace
    big = t.locals_at(line_of("print(greeting, half)"))[-1]["big"]
    assert big["kind"] == "BigInt" and not big["negative"]
    assert int.from_bytes(base64.b64decode(big["b"]), "big") == 3**90


def test_caps_truncate_long_strings_and_cut_cycles(trace):
    t, _, _ = trace
    last = t.locals_at(line_of("print(greeting, half)"))[-1]
    text = last["long_text"]["text"]
    assert text.startswith("x" * 200) and "truncated: 1000 chars" in text and len(text) < 300
    # cut after 200 characters (code points), not bytes
    assert last["long_wide"]["text"] == ("é✓😀" * 100)[:200] + "…<truncated: 300 chars>"
    assert "<cycle>" in json.dumps(last["loop"]) or "<max depth>" in json.dumps(last["loop"])


def test_generator_resumes_keep_calls_balanced(trace):
    t, _, _ = trace
    # 3 yields + the final return: 4 entries, each balanced by a Return.
    assert len(t.calls("countdown")) == 4
    yields = [v["i"] for v in t.returns_of("countdown") if v["kind"] == "Int"]
    assert yields == [3, 2, 1]


def test_exceptions_raised_and_handled_are_events(trace):
    t, _, _ = trace
    errors = t.log_events(11)
    assert any(e["metadata"] == "raise" and e["content"] == "KeyError: missing-key" for e in errors)
    assert any(e["metadata"] == "handled" for e in errors)


def test_unicode_output_captured(trace):
    t, _, proc = trace
    writes = [e["content"] for e in t.log_events(0)]
    # print() writes four times; with nothing recorded in between that is one event
    assert writes == ["grüße ✓ 2.5\n"] and writes[0] == proc.stdout.decode()


def test_threads_are_recorded(trace):
    t, meta, _ = trace
    assert len(t.calls("worker")) == 4
    assert meta["stats"]["calls"] == meta["stats"]["returns"]


def test_toplevel_wraps_run_and_returns_exit_status(trace):
    t, meta, _ = trace
    assert t.functions[0]["name"] == "<toplevel>"
    assert t.returns_of("<toplevel>") == [{"kind": "Int", "i": 0, "type_id": t.returns_of("<toplevel>")[0]["type_id"]}]
    assert any(f["name"] == "<__main__>" for f in t.functions)
    assert meta["exit_status"] == 0 and meta["python"]["version"]


def test_an_empty_module_adds_no_step_at_line_0(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "main.py").write_text("import pkg\nx = 1\n")
    proc = record(tmp_path / "t", [str(tmp_path / "main.py")], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    events, _ = load_trace(tmp_path / "t")
    lines = [e["Step"]["line"] for e in events if "Step" in e]
    assert lines == [1, 2]
