"""The encoding memo never changes what a trace shows.

`CODETRACER_ENCODING_MEMO=off` encodes every value afresh. Recordings with the memo on and off
must show the same values at every step and in every call and return, read the way the
db-backend reads them (place numbers may differ: they follow object addresses, and the memo
keeps small values alive), and the trace files must be byte-identical. The programs change values in every way the memo must notice
(programs/memo_cases.py), under field rules and other caps.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rt_helpers import PROGRAMS, Trace, record, requires_recorder

pytestmark = requires_recorder

BENCH = Path(__file__).resolve().parents[2] / "bench" / "programs"
MEMO_CASES = PROGRAMS / "memo_cases.py"

FIELD_RULES = """
[[scope.rules]]
selector = "file:memo_cases.py"
[[scope.rules.value_patterns]]
selector = "attr:pin"
action = "redact"
[[scope.rules.value_patterns]]
selector = "attr:owner"
action = "drop"
"""

CASES = {
    "memo_cases": (MEMO_CASES, [], []),
    "memo_cases field rules": (MEMO_CASES, [], ["--trace-filter", "{rules}"]),
    "memo_cases small caps": (MEMO_CASES, [], ["--max-items", "3", "--max-depth", "5"]),
    "memo_cases depth 1": (MEMO_CASES, [], ["--max-depth", "1"]),
    "step_values": (PROGRAMS / "step_values.py", [], []),
    "threads_in_turn": (PROGRAMS / "threads_in_turn.py", [], []),
    "objects": (BENCH / "objects.py", ["150"], []),
    "generators": (BENCH / "generators.py", ["60"], []),
    "coroutines": (BENCH / "coroutines.py", ["200"], []),
}

# asyncio's event loop holds the main thread's id, which differs from run to run, as do the
# idents thread switches name
THREAD_ID = re.compile(rb'("i":|"content":")\d{12,}')


def _trace_bytes(tmp_path, name, memo):
    script, args, options = CASES[name]
    rules = tmp_path / "rules.toml"
    rules.write_text(FIELD_RULES, encoding="utf-8")
    options = [o.replace("{rules}", str(rules)) for o in options]
    out = tmp_path / f"memo-{memo}"
    proc = record(out, [*options, str(script), *args], cwd=script.parent,
                  env={"CODETRACER_ENCODING_MEMO": memo})
    assert proc.returncode == 0, proc.stderr
    return THREAD_ID.sub(rb"\g<1>0", (out / "trace.json").read_bytes())


@pytest.mark.parametrize("name", sorted(CASES))
def test_memo_on_and_off_show_the_same_values(tmp_path, name):
    off = _trace_bytes(tmp_path, name, "off")
    on = _trace_bytes(tmp_path, name, "on")
    assert len(off) > 1000
    assert on == off  # memo or not, the very same trace
    (off_steps, off_others), (on_steps, on_others) = (
        Trace(json.loads(t)).shown() for t in (off, on))
    assert len(on_steps) == len(off_steps) > 0
    for index, (want, got) in enumerate(zip(off_steps, on_steps, strict=True)):
        assert got == want, f"step {index} differs"
    assert on_others == off_others


def test_memo_cases_show_what_they_change(tmp_path):
    """The program really exercises the cases: its changes reach the trace."""
    text = _trace_bytes(tmp_path, "memo_cases", "on").decode()
    for shown in ('"c2"', '"changed"', '"shown"', '"<cycle>"', '"<Slotted object>"',
                  '"9999"', '"text":"abc2"', '"f":"9.5"'):
        assert shown in text, shown
