"""The pure parts of dependency capture: masking words, the value codec, FIFO matching and
the capture header check (no services needed)."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid

import pytest

deps = pytest.importorskip("codetracer_python_recorder.deps",
                           reason="codetracer_python_recorder is not importable here")
from codetracer_python_recorder.deps import masking, matching, store  # noqa: E402


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
