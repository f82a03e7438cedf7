"""The native capture writers (`_native.dumps`, `LineSink`, `FileSink`) against what they
replace: `deps.store.encode` + Python's json module, and atomic file writes."""

from __future__ import annotations

import datetime
import decimal
import json
import os
import threading
import uuid

import pytest
from codetracer_python_recorder import _native
from codetracer_python_recorder.deps import store

VALUES = [
    None, True, False, 0, -5, 2**63 - 1, 2**80, -(2**70), 1.5, 0.1 + 0.2, 1e16, 5e-324,
    float("nan"), float("inf"), -float("inf"), "", "héllo ✓ 𝄞", "quote\" back\\ nl\n \x00 \x7f",
    b"", b"\x00\xffab", bytearray(b"ab"), (), (1, (2, b"x")), [1, [2, [3, None]]],
    {"a": 1, "b": [b"y"]}, {"$b64": "looks like a tag"}, {1: "x", (1, 2): b"y", None: 0},
    {1, 2}, frozenset({"a"}), decimal.Decimal("1.25"), datetime.datetime(2020, 1, 2, 3, 4, 5),
    datetime.date(2020, 1, 2), datetime.timedelta(seconds=3), uuid.UUID(int=5),
    store.Encoded({"$b64": "AAE="}), store.Encoded([1, {"$tuple": [2]}]),
]


def python_line(record: dict) -> dict:
    record = dict(record)
    for field in ("request", "result"):
        record[field] = store.encode(record[field])
    return json.loads(json.dumps(record, ensure_ascii=False))


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_dumps_reads_back_as_the_python_encoder_writes(value):
    record = {"seq": 1, "key": "k", "request": [value], "result": {"v": value}}
    native = json.loads(_native.dumps(record, tagged=["request", "result"], encode=store.encode))
    expected = python_line(record)
    # NaN != NaN: compare the JSON texts of both readings
    assert json.dumps(native, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_dumps_untagged_fields_stay_plain():
    record = {"match": {"$b64": "x"}, "t": (1, 2), "f": float("nan"), 3: None}
    assert _native.dumps(record, tagged=["result"], newline=True) == (
        b'{"match":{"$b64":"x"},"t":[1,2],"f":NaN,"3":null}\n')


def test_dumps_never_calls_methods_of_subclasses():
    class Loud(int):
        def __repr__(self):
            raise AssertionError("user code ran")

        __str__ = __repr__

    class LoudStr(str):
        def __str__(self):
            raise AssertionError("user code ran")

    out = _native.dumps({"result": [Loud(7), Loud(2**90), LoudStr("s"), {Loud(3): 1}]},
                        tagged=["result"], encode=store.encode)
    assert json.loads(out) == {"result": [7, 2**90, "s", {"$dict": [[3, 1]]}]}


def test_dumps_refuses_a_value_that_contains_itself():
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nested deeper"):
        _native.dumps({"result": loop}, tagged=["result"], encode=store.encode)


def test_dumps_sends_long_bytes_to_the_side_callback():
    seen = []

    def side(data):
        seen.append(data)
        return {"$file": "deps-bodies/x.bin"}

    out = _native.dumps({"result": [b"a" * 11, b"b" * 10]}, tagged=["result"],
                        encode=store.encode, side=side, side_bytes=10)
    assert seen == [b"a" * 11]
    assert json.loads(out) == {"result": [{"$file": "deps-bodies/x.bin"}, {"$b64": "YmJiYmJiYmJiYg=="}]}


def test_store_line_keeps_a_record_whose_value_cannot_be_written():
    loop: list = []
    loop.append(loop)
    record = {"seq": 1, "key": "k", "start": 0.1, "duration": 0.2, "result": loop}
    line = json.loads(store.line(record))
    assert line["result"] is None and "nested deeper" in line["capture_error"]


def test_line_sink_writes_every_line_from_many_threads(tmp_path):
    path = tmp_path / "deps.jsonl"
    sink = _native.LineSink(str(path), b"head\n")

    def writer(t):
        for i in range(500):
            sink.write(f"{t} {i}\n".encode())

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sink.close(b"foot\n")
    sink.close(b"again\n")  # idempotent
    lines = path.read_text().splitlines()
    assert lines[0] == "head" and lines[-1] == "foot" and len(lines) == 2002
    for t in range(4):  # each thread's lines in its own order
        assert [ln for ln in lines if ln.startswith(f"{t} ")] == [f"{t} {i}" for i in range(500)]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_line_sink_reports_a_full_disk_on_close():
    sink = _native.LineSink("/dev/full", b"")
    sink.write(b"x" * 10)
    sink.write(b"y")
    with pytest.raises(Exception, match="cannot write /dev/full.*1 later writes lost") as info:
        sink.close()
    assert info.value.code == "ERR_IO"


def test_line_sink_writes_at_once(tmp_path):
    path = tmp_path / "child.jsonl"
    sink = _native.LineSink(str(path), b"h\n")
    sink.write(b"a\n")
    assert path.read_bytes() == b"h\na\n"
    sink.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process.*is multi-threaded:DeprecationWarning")
def test_line_sink_in_a_forked_child_leaves_the_parents_file_alone(tmp_path):
    path = tmp_path / "deps.jsonl"
    sink = _native.LineSink(str(path), b"h\n")
    sink.write(b"parent-1\n")
    pid = os.fork()
    if pid == 0:
        sink.write(b"child\n")
        sink.close(b"child-end\n")
        os._exit(0)
    os.waitpid(pid, 0)
    sink.close(b"end\n")
    assert path.read_bytes() == b"h\nparent-1\nend\n"


def test_file_sink_writes_files_atomically(tmp_path):
    sink = _native.FileSink()
    target = tmp_path / "new" / "dir"
    for i in range(50):
        sink.submit(str(target), f"c{i}.json", f'{{"n": {i}}}'.encode())
    assert sink.flush() == []
    assert sink.pending() == 0
    names = sorted(os.listdir(target))
    assert names == sorted(f"c{i}.json" for i in range(50))  # no temporary file left
    assert json.loads((target / "c7.json").read_text()) == {"n": 7}


def test_file_sink_reports_what_it_could_not_write(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    sink = _native.FileSink()
    sink.submit(str(blocker / "sub"), "c.json", b"{}")
    sink.submit(str(tmp_path), "ok.json", b"{}")
    errors = sink.flush()
    assert len(errors) == 1 and errors[0].startswith(f"cannot write c.json in {blocker / 'sub'}")
    assert (tmp_path / "ok.json").read_bytes() == b"{}"
    assert sink.flush() == []
