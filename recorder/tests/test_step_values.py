"""`--step-values changes` shows, at every step, exactly what `full` shows, in fewer bytes.

Both recordings are read the way CodeTracer's db-backend reads them (`Trace.step_views`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rt_helpers import PROGRAMS, Trace, load_trace, record, requires_recorder

pytestmark = requires_recorder

BENCH = Path(__file__).resolve().parents[2] / "bench" / "programs"

# Deterministic programs (no thread interleaving, no addresses in values).
CASES = {
    "step_values": (PROGRAMS / "step_values.py", []),
    "big_values": (PROGRAMS / "big_values.py", []),
    "threads_in_turn": (PROGRAMS / "threads_in_turn.py", []),
    "hanoi": (BENCH / "hanoi.py", ["5"]),
    "objects": (BENCH / "objects.py", ["120"]),
    "generators": (BENCH / "generators.py", ["60"]),
    "coroutines": (BENCH / "coroutines.py", ["40"]),
    "numeric": (BENCH / "numeric.py", ["3"]),
}


def _record(tmp_path, name, mode):
    script, args = CASES[name]
    out = tmp_path / f"{name}-{mode}"
    proc = record(out, ["--step-values", mode, str(script), *args], cwd=script.parent)
    assert proc.returncode == 0, proc.stderr
    events, meta = load_trace(out)
    assert meta["step_values"] == mode
    return Trace(events), (out / "trace.json").stat().st_size


@pytest.mark.parametrize("name", sorted(CASES))
def test_changes_shows_what_full_shows_at_every_step(tmp_path, name):
    full, full_bytes = _record(tmp_path, name, "full")
    changes, changes_bytes = _record(tmp_path, name, "changes")
    (full_views, full_others), (changes_views, changes_others) = full.shown(), changes.shown()
    assert changes_others == full_others
    assert len(full_views) == len(changes_views) > 0
    for index, (want, got) in enumerate(zip(full_views, changes_views, strict=True)):
        assert got == want, f"step {index} differs"
    assert not any("Value" in e for e in changes.events)
    assert changes_bytes < full_bytes


@pytest.fixture(scope="module")
def step_values_trace(tmp_path_factory):
    out = tmp_path_factory.mktemp("sv") / "trace"
    proc = record(out, [str(PROGRAMS / "step_values.py")], cwd=PROGRAMS)
    assert proc.returncode == 0, proc.stderr
    return Trace(load_trace(out)[0])


def _line(text):
    src = (PROGRAMS / "step_values.py").read_text().splitlines()
    return next(i + 1 for i, line in enumerate(src) if text in line)


def test_a_list_changed_by_a_callee_shows_changed_in_the_caller(step_values_trace):
    (view,) = step_values_trace.locals_at(_line('shared.append("after")'))
    assert [e["i"] for e in view["shared"]["elements"]] == [3, 2, 1, 0]


def test_a_list_shared_by_frames_is_written_once_per_change(step_values_trace):
    t = step_values_trace
    places = {e["VariableCell"]["place"] for e in t.events if "VariableCell" in e
              and t.variables[e["VariableCell"]["variable_id"]] in ("shared", "items")}
    assert len(places) == 1  # one list, one place, whichever frame shows it
    writes = [e for e in t.events if "CellValue" in e and e["CellValue"]["place"] in places]
    # first sight, then one per append (4 in mutate, 1 in main) seen at a later step
    assert len(writes) == 6


def test_deleted_and_rebound_variables(step_values_trace):
    t = step_values_trace
    (after_del,) = t.locals_at(_line('y = "again"'))
    assert "y" not in after_del and after_del["x"]["elements"][0]["i"] == 2
    (rebound,) = t.locals_at(_line("return x, y"))
    assert rebound["y"]["text"] == "again"


def test_a_redacted_name_does_not_share_a_place_with_an_alias(step_values_trace):
    (view,) = step_values_trace.locals_at(_line("return alias"))
    assert view["password"]["r"] == "<redacted>"
    assert view["alias"]["text"] == "hunter2"


def test_a_resumed_generator_shows_its_variables_again(step_values_trace):
    visits = step_values_trace.locals_at(_line("i += 1 if sent is None else sent"))
    assert [(v["i"]["i"], v["sent"]["kind"]) for v in visits] == [(0, "Int"), (2, "None")]


def test_an_unwound_frame_leaves_the_caller_bindings_intact(step_values_trace):
    (view,) = step_values_trace.locals_at(_line("shown = secrets()"))
    assert view["caught"]["text"] == "bottom" and "scratch" not in view


def test_containers_and_objects_changed_in_place_show_the_change(step_values_trace):
    t = step_values_trace
    visits = t.locals_at(_line("row[0] = row[0] + 1"))
    assert [v["row"]["elements"][0]["i"] for v in visits] == [1, 2, 3]
    assert [v["table"]["elements"][0]["elements"][1]["i"] for v in visits] == [1, 11, 21]
    assert [v["box"]["field_values"][0]["i"] for v in visits] == [1, 101, 201]
    inner = [v["holder"]["elements"][0]["elements"][0]["field_values"][2] for v in visits]
    assert [x["r"] for x in inner] == ["<max depth>"] * 3
    assert [t.type_name(x) for x in inner] == ["list", "dict", "list"]
