"""The pure parts of dependency capture: masking words, the value codec, FIFO matching, the
capture header check, body tapes and chunked framing (no services needed)."""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import random
import uuid

import pytest

deps = pytest.importorskip("codetracer_python_recorder.deps",
                           reason="codetracer_python_recorder is not importable here")
from codetracer_python_recorder.deps import masking, matching, store, tape  # noqa: E402
from codetracer_python_recorder.deps.libs import http_client  # noqa: E402


@pytest.mark.parametrize("key", ["password", "api_key", "apiKey", "X-Api-Key", "authorization",
                                 "auth_token", "client_secret", "db_password", "accessKey",
                                 "sessionId", "TOKEN"])
def test_secret_keys_are_masked(key):
    assert masking.is_secret_key(key)


@pytest.mark.parametrize("key", ["message", "usage", "company", "tokens_used", "passage",
                                 "tokenizer", "keyboard", "api", "author"])
def test_ordinary_keys_stay(key):
    assert not masking.is_secret_key(key)


def test_masking_structures_and_queries():
    body = {"user": "ann", "password": "x", "items": [{"apiKey": "k", "usage": 3}]}
    assert masking.mapping(body) == {"user": "ann", "password": "<masked>",
                                     "items": [{"apiKey": "<masked>", "usage": 3}]}
    assert masking.query("a=1&api_key=s&token=t&message=m") == \
        "a=1&api_key=<masked>&token=<masked>&message=m"
    assert masking.headers([("Authorization", "Bearer x"), ("X-Trace", "1")]) == \
        [("Authorization", "<masked>"), ("X-Trace", "1")]


def test_extra_secrets_from_the_environment(monkeypatch):
    monkeypatch.setattr(masking, "SECRET_WORDS", masking.SECRET_WORDS)
    monkeypatch.setattr(masking, "SECRET_HEADERS", masking.SECRET_HEADERS)
    assert not masking.is_secret_key("pin_code")
    masking.configure({"CODETRACER_DEPS_MASK_WORDS": "pin", "CODETRACER_DEPS_MASK_HEADERS":
                       "X-Internal"})
    assert masking.is_secret_key("pin_code") and masking.is_secret_header("x-internal")
    masking._secret_name.cache_clear()


def test_codec_round_trips_through_json():
    value = {"b": b"\x00\xff" * 3, "t": (1, "x"), "d": {1: "one"}, "s": {1, 2},
             "dec": decimal.Decimal("1.50"), "when": datetime.datetime(2026, 1, 2, 3, 4, 5),
             "day": datetime.date(2026, 1, 2), "u": uuid.UUID(int=5), "nan": float("inf"),
             "$odd": "key", "nested": [[b"a"], {"k": None}]}
    back = store.decode(json.loads(json.dumps(store.encode(value))))
    assert back == value


def test_matching_is_fifo_per_key_and_prefers_the_same_task():
    records = [
        {"seq": 1, "category": "http", "key": "GET /a", "task": "Task-2", "thread": "M"},
        {"seq": 2, "category": "http", "key": "GET /a", "task": "Task-3", "thread": "M"},
        {"seq": 3, "category": "http", "key": "GET /b", "task": None, "thread": "M"},
    ]
    index = matching.Index(records)
    assert index.take("http", "GET /a", "Task-3")["seq"] == 2
    assert index.take("http", "GET /c", "M") is None
    assert index.take("http", "GET /a", "Task-9")["seq"] == 1  # nobody's: the oldest
    assert index.take("http", "GET /a", "Task-2") is None
    assert [r["seq"] for r in index.unused()] == [3]


def test_capture_header_is_checked(tmp_path):
    cap = tmp_path / "deps.jsonl"
    cap.write_text('{"format": "other"}\n', encoding="utf-8")
    with pytest.raises(store.CaptureError, match="not a codetracer dependency capture"):
        store.load(str(cap))
    cap.write_text('{"format": "codetracer-deps", "version": 2}\n', encoding="utf-8")
    with pytest.raises(store.CaptureError, match="version 2; this recorder reads up to"):
        store.load(str(cap))
    cap.write_text('{"format": "codetracer-deps", "version": 1}\n{"seq": 2, "category": "x", '
                   '"key": "k"}\n{"seq": 1, "category": "x", "key": "k"}\n{"seq": 3, "cat',
                   encoding="utf-8")
    _, records = store.load(str(tmp_path))  # a folder works too; a cut last line is dropped
    assert [r["seq"] for r in records] == [1, 2]


def test_tape_keeps_short_bodies_in_memory_and_spills_long_ones(tmp_path):
    short = tape.Tape(str(tmp_path), 100)
    short.add(b"a" * 60)
    short.add(memoryview(b"b" * 40))
    assert short.take() == b"a" * 60 + b"b" * 40 and list(tmp_path.iterdir()) == []
    long = tape.Tape(str(tmp_path / "side"), 100)
    pieces = [bytes([i]) * 70 for i in range(10)]
    for piece in pieces:
        long.add(piece)
    spilled = long.take()
    assert isinstance(spilled, tape.Spilled) and len(spilled) == 700
    assert spilled.sha256 == hashlib.sha256(b"".join(pieces)).hexdigest()
    assert spilled.read() == b"".join(pieces)
    # the writer renames it to its side file (content-addressed), once per content
    writer = store.Writer(str(tmp_path / "deps.jsonl"), {}, background=False)
    tag = writer._side_file(spilled)
    assert tag == {"$file": f"deps-bodies/{spilled.sha256}.bin"}
    assert (tmp_path / tag["$file"]).read_bytes() == b"".join(pieces)
    assert [p.name for p in (tmp_path / "side").iterdir()] == []
    assert store.encode(spilled) == {"$b64": store.encode(b"".join(pieces))["$b64"]}
    writer.close()


def test_tape_without_a_folder_never_spills():
    kept = tape.Tape(None, 10)
    kept.add(b"x" * 1000)
    assert kept.take() == b"x" * 1000


def test_a_body_that_cannot_spill_stays_in_memory(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_bytes(b"")  # a file where the side-file folder should be
    kept = tape.Tape(str(blocked), 10)
    kept.add(b"y" * 100)
    assert kept.take() == b"y" * 100


class _FullDisk:
    def write(self, data):
        raise OSError(28, "No space left on device")

    def close(self):
        pass


def test_a_body_lost_to_a_full_disk_leaves_its_record_saying_why(tmp_path):
    lost = tape.Tape(str(tmp_path), 10)
    lost.add(b"y" * 100)  # spilled
    (part,) = tmp_path.iterdir()
    lost._file = _FullDisk()
    lost.add(b"z" * 100)  # the program reads on; the body is dropped and its file removed
    body = lost.take()
    assert isinstance(body, tape.Lost) and "No space left" in body.reason
    assert not part.exists()
    line = json.loads(store.line({"seq": 1, "start": 0.0, "duration": 0.0,
                                  "result": {"body": body}}))
    assert line["result"] is None and body.reason in line["capture_error"]


def _framed(chunks) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


@pytest.mark.parametrize("wire, expected", [
    (_framed([b"abc", b"de"]), (b"abcde", [3, 2], True)),
    (_framed([b"abc", b"de"])[:-5], (b"abcde", [3, 2], False)),  # the last chunk is missing
    (b"5\r\nab", (b"ab", [2], False)),  # a chunk cut short
    (b"3;ext=1\r\nabc\r\n0\r\n\r\n", (b"abc", [3], True)),
    (b"zz\r\nabc", (b"", [], False)),  # not chunked framing
])
def test_dechunking(wire, expected):
    assert http_client._dechunk(wire) == expected


def test_dechunking_in_pieces_equals_dechunking_at_once():
    rng = random.Random(7)
    for _ in range(500):
        chunks = [rng.randbytes(rng.randrange(1, 40)) for _ in range(rng.randrange(5))]
        wire = _framed(chunks)[:rng.randrange(len(_framed(chunks)) + 1)]
        whole = http_client._dechunk(wire)
        fed = http_client._Dechunker(tape.Tape(None, 1 << 20))
        pos = 0
        while pos < len(wire):
            step = rng.randrange(1, 8)
            fed.feed(wire[pos:pos + step])
            pos += step
        assert (fed.out.take(), fed.sizes, fed.complete) == whole, wire


def test_the_programs_thread_writes_queued_records_while_it_waits(tmp_path, monkeypatch):
    """``drain_some`` (called when a request is on its way) writes two queued records at a
    time; the writer thread writes the rest; every record once, none lost."""
    monkeypatch.setattr(store.Writer, "FLUSH_S", 60)  # the writer thread sleeps until close
    writer = store.Writer(str(tmp_path / "deps.jsonl"), {})
    for seq in (1, 2, 3):
        writer.write({"seq": seq, "start": 0.0, "duration": 0.0, "key": lambda s=seq: f"k{s}"})
    writer.drain_some()
    lines = (tmp_path / "deps.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["key"] for x in lines[1:]] == ["k1", "k2"]
    writer.close({"calls": 3})
    lines = (tmp_path / "deps.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x).get("seq") for x in lines[1:]] == [1, 2, 3, None]
