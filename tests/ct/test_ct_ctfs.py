"""``ct.ctfs``: the reader on the two real containers (upstream recorder, format spec) and on
containers built by the independent ``ctfs_builder``: what opens, what is refused and why,
counts, meta.dat fields, mapping levels, lazy reading."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import ctfs_builder as cb
import pytest

from ct import ctfs

FIXTURES = Path(__file__).resolve().parent / "fixtures"
UPSTREAM = FIXTURES / "upstream-python-recorder_flask_serve.ct"
SPEC = FIXTURES / "spec_minimal_trace.ct"


def write(tmp_path: Path, data: bytes, name: str = "trace.ct") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ctfs.CtfsError) as info:
        ctfs.open_trace(path).close()
    return str(info.value)


# -- the real containers ---------------------------------------------------------------------

def test_upstream_recorder_container_opens_with_its_numbers():
    with ctfs.open_trace(UPSTREAM) as t:
        assert t.route == "split"
        c = t.container
        assert (c.version, c.block_size, c.max_root_entries) == (4, 4096, 31)
        assert {"meta.dat", "steps.dat", "steps.idx", "calls.dat", "calls.idx", "funcs.dat",
                "events.dat", "values.dat", "paths.off"} <= set(c.entries)
        assert c.size("meta.dat") == 613 and c.size("values.dat") == 1962
        assert all(c.levels(name) == 1 for name in c.entries)
        # numbers as decoded independently by ../shared/tools/ctfs_read.py
        assert t.stats() == {"steps": 84, "calls": 22, "events": 15, "exceptions": 0}
        assert t.event_kinds() == {0: 15}
        top = t.function_calls().most_common(2)
        assert top == [("build_flask_app.<locals>.publish_route", 8),
                       ("build_flask_app.<locals>.list_users.<locals>.<lambda>", 5)]
        assert sum(t.function_calls().values()) == 22
        m = t.meta
        assert m.recording_id == "019fb12a-cac7-78f3-96e7-fd23eb9da98b"
        assert m.program.endswith("/test-programs/web/serve.py")
        assert m.args[:2] == ["--framework", "flask"] and len(m.args) == 6
        assert (m.workdir, m.recorder_id) == ("", "")
        assert [p.rsplit("/", 1)[1] for p in m.paths] == ["serve.py", "app.py"]
        assert t.table("paths") == m.paths  # column-aware path records decode to the paths
        assert [f["path"] for f in m.filter_provenance][0] == "<inline:builtin-default>"
        assert t.table("varnames")[:2] == ["__name__", "__doc__"]


def test_spec_fixture_reads_as_a_container_but_codetracer_refuses_it():
    with ctfs.Container(SPEC) as c:
        assert set(c.entries) == {"events.log", "events.fmt", "meta.json", "paths.json"}
        assert c.read("events.fmt") == b"split-binary"
        assert c.read("paths.json").decode().startswith('["/src/main.nim"')
    assert refusal(SPEC) == "no meta.dat: today's CodeTracer refuses a container without one"


def test_fixture_checked_against_the_shared_tool_when_present():
    tool = Path("/work/shared/tools/ctfs_read.py")
    if not tool.is_file():
        pytest.skip("../shared/tools/ctfs_read.py is absent (a fresh clone): fixtures still "
                    "checked by the tests above")
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(tool), str(UPSTREAM), "--json"],
                         capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout)
    split = doc["split_streams"]
    with ctfs.open_trace(UPSTREAM) as t:
        assert t.steps() == len(split["steps"]["records"])
        assert t.calls() == len(split["calls"]["records"])
        assert t.events() == len(split["io_events"]["records"])
        assert t.meta.as_dict()["paths"] == doc["meta_dat"]["paths"]


# -- containers built here -------------------------------------------------------------------

def test_built_split_trace_counts_and_functions(tmp_path):
    calls = [0] * 300 + [1] * 200 + [2] * 7  # two calls chunks, a partial last one
    path = write(tmp_path, cb.split_trace(steps=9000, calls=calls, funcs=["main", "f", "g"],
                                          event_kinds=[0, 11, 12, 11, 3, 9]))
    with ctfs.open_trace(tmp_path) as t:  # the folder: finds trace.ct
        assert t.container.path == path
        assert t.stats() == {"steps": 9000, "calls": 507, "events": 6, "exceptions": 2}
        assert t.function_calls() == {"main": 300, "f": 200, "g": 7}


def test_step_count_decodes_only_the_last_chunk(tmp_path, monkeypatch):
    write(tmp_path, cb.split_trace(steps=3 * 4096 + 5))
    seen = []
    real = ctfs.Stream.chunk

    def spy(self, i, bounds=None):
        seen.append((self.name, i))
        return real(self, i, bounds)

    monkeypatch.setattr(ctfs.Stream, "chunk", spy)
    with ctfs.open_trace(tmp_path) as t:
        assert t.steps() == 3 * 4096 + 5
    assert seen == [("steps", 3)]


def test_second_mapping_level(tmp_path):
    """A file of more than 511 blocks (4096) or 127 blocks (1024) climbs to a level-2 block."""
    for block_size, blocks in ((4096, 600), (1024, 300)):
        data = os.urandom(block_size * blocks + 17)
        path = write(tmp_path, cb.container({"big.bin": data, "meta.dat": b"m"},
                                            block_size=block_size), f"b{block_size}.ct")
        with ctfs.Container(path) as c:
            assert c.levels("big.bin") == 2 and c.levels("meta.dat") == 1
            per = block_size // 8 - 1
            edge = per * block_size
            assert c.read("big.bin", edge - 5, 10) == data[edge - 5:edge + 5]
            assert c.read("big.bin") == data
            assert c.read("meta.dat") == b"m"


def test_third_mapping_level(tmp_path):
    per = 1024 // 8 - 1
    blocks = per + per * per + 3  # past level 1 and level 2
    data = os.urandom(1024 * blocks)
    path = write(tmp_path, cb.container({"huge.bin": data}, block_size=1024))
    with ctfs.Container(path) as c:
        assert c.levels("huge.bin") == 3
        start = (per + per * per) * 1024 - 3
        assert c.read("huge.bin", start, 3000) == data[start:start + 3000]


def test_spilled_root_entries_and_names(tmp_path):
    files = {f"f{i}.dat": bytes([i]) * (i + 1) for i in range(50)}
    path = write(tmp_path, cb.container(files, root_entries=200, block_size=1024))
    with ctfs.Container(path) as c:
        assert set(c.entries) == set(files)
        assert all(c.read(n) == d for n, d in files.items())
    assert ctfs.base40_decode(ctfs.base40_encode("memwrites.tc")) == "memwrites.tc"


@pytest.mark.parametrize("build, reason", [
    (lambda: cb.container({}, magic=b"NOTCT"), "is not a CTFS container"),
    (lambda: cb.container({"meta.dat": b""}, version=5), "CTFS version 5"),
    (lambda: cb.container({"meta.dat": b""}, version=1), "CTFS version 1"),
    (lambda: cb.container({"meta.dat": b""}, root_entries=0), "MaxRootEntries is 0"),
    (lambda: cb.split_trace(drop=("meta.dat",)), "no meta.dat"),
    (lambda: cb.split_trace(drop=("steps.dat", "steps.idx")), "neither steps.dat nor events.log"),
    (lambda: cb.split_trace(drop=("steps.idx",)), "lacks steps.idx"),
    (lambda: cb.split_trace(block_size=2048), "split-stream reader assumes 4096"),
    (lambda: cb.split_trace(meta=cb.meta_dat(version=2)), "meta.dat version 2"),
    (lambda: cb.split_trace(meta=cb.meta_dat(rid=cb.RID.upper())), "not a canonical lowercase"),
    (lambda: cb.split_trace(meta=cb.meta_dat(rid="019fb12a-cac7-48f3-96e7-fd23eb9da98b")),
     "UUIDv7"),
    (lambda: cb.split_trace(meta=cb.meta_dat(rid="019fb12a-cac7-78f3-c6e7-fd23eb9da98b")),
     "UUIDv7"),
    (lambda: cb.split_trace(meta=cb.meta_dat(tail=b"\0")), "1 trailing bytes"),
    (lambda: cb.split_trace(meta=cb.meta_dat(flags=1 << 14)), "unknown flag bits 0x4000"),
    (lambda: cb.split_trace(meta=cb.meta_dat(flags=1 << 3)), "meta.dat: truncated varint"),
    (lambda: cb.split_trace(meta=cb.meta_dat(flags=8, tail=b"\x01" + cb.text("/f") + bytes(9))),
     "sha256 runs past the end"),
    (lambda: cb.split_trace(meta=cb.meta_dat(flags=1)), "meta.dat: truncated varint"),
    (lambda: cb.split_trace(meta=b"CTMX" + bytes(4)), "does not start with CTMD"),
])
def test_refusals_say_why(tmp_path, build, reason):
    path = write(tmp_path, build())
    message = refusal(path)
    assert reason in message and "\n" not in message


def test_meta_optional_blocks_parse_exactly(tmp_path):
    filters = cb.varint(1) + cb.text("/w/filter.toml") + bytes(range(32))
    layout = struct.pack("<Q", 7) + cb.varint(3) + b"abc"
    meta = cb.meta_dat(program="/w/app.py", args=["a", "b c"], paths=["/w/app.py"],
                       flags=2 | 4 | 8 | (1 << 4) | (1 << 8) | (1 << 13),
                       tail=b"\x01" + layout + filters)
    write(tmp_path, cb.split_trace(meta=meta))
    with ctfs.open_trace(tmp_path) as t:
        assert (t.meta.program, t.meta.args, t.meta.workdir) == ("/w/app.py", ["a", "b c"], "/w")
        assert t.meta.recorder_id == "python" and t.meta.paths == ["/w/app.py"]
        assert t.meta.filter_provenance == [{"path": "/w/filter.toml",
                                             "sha256": bytes(range(32)).hex()}]


def test_mcr_recording_is_not_a_trace(tmp_path):
    mcr = b"".join(cb.varint(1) for _ in range(6)) + b"".join(cb.text("x") for _ in range(6))
    write(tmp_path, cb.split_trace(meta=cb.meta_dat(flags=1, tail=mcr + cb.varint(0))))
    assert "MCR" in refusal(tmp_path / "trace.ct")


def test_frame_without_content_size_is_refused_when_read(tmp_path):
    write(tmp_path, cb.split_trace(steps=5, content_size=False))
    with ctfs.open_trace(tmp_path) as t, pytest.raises(ctfs.CtfsError, match="content size"):
        t.steps()


def test_truncated_container_names_the_missing_block(tmp_path):
    data = cb.split_trace(steps=100)
    path = write(tmp_path, data[: len(data) - 4096])
    with pytest.raises(ctfs.CtfsError, match="outside|past the end|missing"):
        with ctfs.open_trace(path) as t:
            t.steps()


def test_folder_without_a_single_container(tmp_path):
    assert ctfs.find_container(tmp_path) is None
    write(tmp_path, cb.split_trace(), "a.ct")
    assert ctfs.find_container(tmp_path) == tmp_path / "a.ct"
    write(tmp_path, cb.split_trace(), "b.ct")
    assert ctfs.find_container(tmp_path) is None  # ambiguous, as CodeTracer finds it
    with pytest.raises(ctfs.CtfsError, match="no trace.ct"):
        ctfs.open_trace(tmp_path)


def test_function_ranking_samples_long_call_streams(tmp_path):
    calls = [0] * (256 * 30) + [1] * (256 * 10)  # 40 chunks: 3/4 of calls go to "a"
    write(tmp_path, cb.split_trace(calls=calls, funcs=["a", "b"]))
    with ctfs.open_trace(tmp_path) as t:
        assert t.function_calls() == {"a": 256 * 30, "b": 256 * 10} and not t.sampled
        sample = t.function_calls(max_chunks=8)
        assert t.sampled
        assert sum(sample.values()) == pytest.approx(len(calls), abs=2)
        assert sample["a"] == pytest.approx(256 * 30, rel=0.2)
        assert sample.most_common(1)[0][0] == "a"
