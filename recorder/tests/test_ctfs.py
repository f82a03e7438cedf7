"""`trace.ct` shows what a `--format json` recording of the same run shows, step for step.

Both recordings are read the way CodeTracer reads each route: the JSON through its event list
(a step shows the `Value`s written after it), the container through the split streams (a step
shows its `StepValues`, types by name, structs as (field, value) pairs). Also: the container
itself (mapping levels, meta.dat), partial and killed recordings.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from ctfs_view import CtfsView, json_as_ctfs_shows
from rt_helpers import PROGRAMS, Trace, load_meta, load_trace, record, requires_recorder

from ct.ctfs import Container, open_trace

pytestmark = requires_recorder

# every program under programs/ that runs the same way twice (sleeper waits for a signal,
# forker shows process ids; activation_lib is a module of activation_main)
DETERMINISTIC = sorted(
    p.name for p in PROGRAMS.glob("*.py")
    if p.name not in ("sleeper.py", "forker.py", "activation_lib.py")
)


def _both(tmp_path, script, args=()):
    runs = {}
    for fmt in ("json", "ctfs"):
        out = tmp_path / fmt
        proc = record(out, [str(script), *args], cwd=script.parent, format=fmt)
        assert proc.returncode == 0, proc.stderr.decode()
        runs[fmt] = (out, proc)
    assert runs["json"][1].stdout == runs["ctfs"][1].stdout
    return runs["json"][0], runs["ctfs"][0]


def _record_source(tmp_path, source: str):
    """Records a program written for the test into tmp_path/t as trace.ct."""
    script = tmp_path / "prog.py"
    script.write_text(source, encoding="utf-8")
    proc = record(tmp_path / "t", [str(script)], format="ctfs")
    assert proc.returncode == 0, proc.stderr.decode()
    return tmp_path / "t"


def _stable(value):
    """Thread idents and native thread ids differ from run to run: masked."""
    if isinstance(value, list | tuple):
        return [_stable(v) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("kind") == "Int" and abs(value["i"]) >= 2 ** 40:
        return {**value, "i": "<ident>"}
    elements = value.get("elements")
    if (value.get("type_id") == "field" and elements
            and elements[0].get("text") == "_native_id"):
        return {**value, "elements": [elements[0], "<native id>"]}
    return {k: _stable(v) for k, v in value.items()}


def _json_views(trace: Trace):
    return [((trace.paths[step["path_id"]], step["line"]),
             {name: json_as_ctfs_shows(trace, v) for name, v in values.items()})
            for step, values in trace.step_views()]


def _json_calls(trace: Trace):
    """(function, args, return) per call in the order calls were entered."""
    calls, stack = [], []
    for e in trace.events:
        if "Call" in e:
            c = e["Call"]
            calls.append([trace.functions[c["function_id"]]["name"],
                          {trace.variables[a["variable_id"]]: json_as_ctfs_shows(trace, a["value"])
                           for a in c["args"]}, None])
            stack.append(len(calls) - 1)
        elif "Return" in e:
            calls[stack.pop()][2] = json_as_ctfs_shows(trace, e["Return"]["return_value"])
    return [tuple(c) for c in calls]


@pytest.mark.parametrize("program", DETERMINISTIC)
def test_every_step_shows_what_the_json_recording_shows(tmp_path, program):
    json_dir, ct_dir = _both(tmp_path, PROGRAMS / program)
    events, _ = load_trace(json_dir)
    trace = Trace(events)
    view = CtfsView(ct_dir)
    want, got = _json_views(trace), view.step_views()
    assert len(got) == len(want) > 0
    for index, (w, g) in enumerate(zip(want, got, strict=True)):
        assert _stable(g) == _stable(w), f"step {index} differs"
    ct_calls = [(c["function"], c["args"], c["return"]) for c in view.calls]
    assert _stable(ct_calls) == _stable(_json_calls(trace))
    stdout = "".join(e["content"] for e in view.events if e["kind"] == 0)
    assert stdout == "".join(e["content"] for e in trace.log_events(0))


def test_values_codetracer_must_read(tmp_path):
    """Floats as text (NaN and infinities too), big ints as base64 BigInt, objects with their
    field names, unicode and bytes, cycles."""
    trace = _record_source(
        tmp_path,
        "class P:\n"
        "    def __init__(self):\n"
        "        self.name = 'ünï ✓'\n"
        "        self.me = self\n"
        "f, nan, inf = 2.5, float('nan'), float('-inf')\n"
        "big = -(2 ** 70)\n"
        "p = P()\n"
        "raw = b'\\x00\\xff'\n"
        "done = 1\n",
    )
    last = CtfsView(trace).step_views()[-1][1]
    assert [last[k]["f"] for k in ("f", "nan", "inf")] == ["2.5", "NaN", "-inf"]
    assert last["big"]["kind"] == "BigInt" and last["big"]["negative"] is True
    assert last["big"]["b"] == "QAAAAAAAAAAA"  # 2**70 big-endian, base64
    pairs = {e["elements"][0]["text"]: e["elements"][1] for e in last["p"]["elements"]}
    assert last["p"]["type_id"] == "P" and pairs["name"]["text"] == "ünï ✓"
    assert pairs["me"]["r"] == "<cycle>"
    assert last["raw"] == {"kind": "Raw", "type_id": "bytes", "r": "b'\\x00\\xff'"}


def test_container_needs_a_second_mapping_level_and_reads_back(tmp_path):
    trace = _record_source(
        tmp_path,
        "import random\nrandom.seed(7)\n"
        "for i in range(40000):\n"
        "    s = random.randbytes(120).hex()\n"
        "last = s\n"
        "done = 1\n",
    )
    with Container(trace / "trace.ct") as c:
        assert c.levels("values.dat") >= 2  # over 511 blocks of 4096 bytes
    import random

    random.seed(7)
    for _ in range(40000):
        expected = random.randbytes(120).hex()
    last = CtfsView(trace).step_views()[-1][1]
    assert last["last"]["text"].startswith(expected[:200])  # cut at the 200-character cap


def test_meta_dat_says_what_ran(tmp_path):
    script = PROGRAMS / "writer.py"
    proc = record(tmp_path / "t", [str(script), "a b", "c"], format="ctfs", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    with open_trace(tmp_path / "t") as t:
        meta = t.describe()["meta"]
    assert meta["program"] == str(script)
    assert meta["args"] == ["a b", "c"]
    assert meta["workdir"] == str(tmp_path)
    assert meta["paths"][0] == str(script)
    assert meta["recording_id"][14] == "7"
    assert load_meta(tmp_path / "t")["format"] == "ctfs"


def test_a_killed_recording_leaves_no_trace_ct_at_the_final_path(tmp_path):
    out = tmp_path / "t"
    proc = subprocess.Popen(
        [sys.executable, "-m", "codetracer_python_recorder", "--trace-dir", str(out),
         str(PROGRAMS / "sleeper.py")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"ready\n"
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (out / "trace.ct").exists()
    staged = list(tmp_path.glob(".t.staging-*/trace.ct"))
    assert staged, "the recording was under way in its staging folder"
    with pytest.raises(Exception, match="magic|small|header"):
        Container(staged[0])


def test_a_failed_recording_kept_partial_is_a_complete_container(tmp_path):
    from codetracer_python_recorder import _native

    if not _native.FAULT_INJECTION:
        pytest.skip("needs a recorder built with --features fault-injection (nox -s tests)")
    proc = record(tmp_path / "t", ["--keep-partial-trace", str(PROGRAMS / "writer.py")],
                  env={"CODETRACER_TEST_PANIC_ON_LINE": "3"}, format="ctfs")
    assert proc.returncode == 0, proc.stderr.decode()
    meta = json.loads((tmp_path / "t" / "trace_metadata.json").read_text())
    assert meta["partial"] is True
    with open_trace(tmp_path / "t") as t:
        assert t.steps() is not None
    assert not (tmp_path / "t" / "calls.spill").exists()
    said = [e for e in CtfsView(tmp_path / "t").events if e["kind"] == 11]
    assert said and said[-1]["content"].startswith("partial trace:")
