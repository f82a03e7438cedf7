"""How a replay says that an outcome differs: body diffs (JSON by field, text by line, binary
by first differing byte) and the request comparison's status, body and exception lines."""

from __future__ import annotations

from integrations_support import needs_recorder

pytestmark = needs_recorder


def test_body_diffs():
    from codetracer_python_recorder.integrations.replay import body_diff

    assert body_diff(b'{"a": 1, "b": [1, 2]}', b'{"b": [1, 2], "a": 1}') == ""  # same JSON
    diff = body_diff(b'{"a": 1, "b": 2}', b'{"a": 1, "b": 3}')
    assert '  - "b": 2\n' in diff and '  + "b": 3\n' in diff
    assert body_diff(b"one\ntwo\n", b"one\nthree\n").splitlines()[-2:] == ["  -two", "  +three"]
    assert body_diff(b"\x00\x01\xff", b"\x00\x02\xff\xfe") == (
        "  binary bodies differ: recorded 3 bytes, replayed 4 bytes, first difference at "
        "byte 1\n")
    long = body_diff("\n".join(map(str, range(100))).encode(), b"")
    assert long.rstrip("\n").endswith("more diff lines")


def test_request_comparison():
    from codetracer_python_recorder.integrations.replay_request import compare

    recorded = {"response": {"status": 200, "body": "ok", "body_cut": 0}, "exception": None}
    assert compare(recorded, {"status": 200, "body": b"ok", "exception": None}) == (True, "")
    same, detail = compare(recorded, {"status": 404, "body": b"no", "exception": None})
    assert not same and detail.splitlines()[:2] == [
        "  status 404, recorded 200", "  body differs (2 bytes, recorded 2):"]
    cut = {"response": {"status": 200, "body": "abc", "body_cut": 5}, "exception": None}
    assert compare(cut, {"status": 200, "body": b"abcdefgh", "exception": None})[0]
    failed = {"response": None, "exception": {"type": "builtins:ValueError", "message": "bad"}}
    assert compare(failed, {"status": 500, "body": b"", "exception": ValueError("bad")})[0]
    same, detail = compare(failed, {"status": 500, "body": b"", "exception": KeyError("k")})
    assert not same and detail == ("  exception builtins:KeyError: 'k', recorded "
                                   "builtins:ValueError: bad")
    same, detail = compare(failed, {"status": 200, "body": b"", "exception": None})
    assert not same and "exception none, recorded builtins:ValueError: bad" in detail
