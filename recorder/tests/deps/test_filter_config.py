"""The ``[deps]`` table of the trace filter TOML: more secrets masked (both ways: recorded masked,
replayed with the live call masked the same way), the side-file size, and one-line errors for
bad values, with and without a time-travel trace."""

from __future__ import annotations

import base64
import json
import textwrap

import pytest

from conftest import load_capture, needs_recorder, run_recorder

pytestmark = needs_recorder

PROGRAM = textwrap.dedent('''
    import sys, requests
    base = sys.argv[1]
    r = requests.post(base + "/echo", params={"pin": "PIN-111", "card_number": "CARD-222",
                                              "message": "hi"},
                      json={"pin_code": "PIN-333", "card": {"number": "4-4-4"},
                            "cardNumber": "CARD-555", "usage": "u"},
                      headers={"X-Internal": "INT-666", "X-Trace": "visible"})
    print(r.status_code)
    print(len(requests.get(base + "/binary").content))
''')

FILTER = textwrap.dedent('''
    [deps]
    mask_headers = ["X-Internal"]
    mask_words = ["pin", "card_number"]
    side_file_bytes = 512
''')


@pytest.fixture
def program(tmp_path):
    pytest.importorskip("requests", reason="requests is not installed (pip install requests)")
    path = tmp_path / "prog.py"
    path.write_text(PROGRAM, encoding="utf-8")
    return path


@pytest.mark.parametrize("only", [False, True], ids=["traced", "deps-only"])
def test_filter_masks_more_secrets_and_sets_side_file_size(tmp_path, http_server, program,
                                                           only):
    flt = tmp_path / "filter.toml"
    flt.write_text(FILTER, encoding="utf-8")
    extra = ["--deps-only"] if only else []
    rec = run_recorder(["--deps", "record", *extra, "--trace-filter", str(flt), "--trace-dir",
                        "t1", str(program), http_server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout == "200\n1024\n"
    text = (tmp_path / "t1" / "deps.jsonl").read_text(encoding="utf-8")
    for secret in ("PIN-111", "CARD-222", "PIN-333", "CARD-555", "INT-666"):
        assert secret not in text
    calls = load_capture(tmp_path / "t1")
    post = next(c for c in calls if c["key"].startswith("POST"))
    assert post["key"].endswith("/echo?pin=<masked>&card_number=<masked>&message=hi")
    body = json.loads(base64.b64decode(post["request"]["body"]["$b64"]))
    assert body == {"pin_code": "<masked>", "card": {"number": "4-4-4"},
                    "cardNumber": "<masked>", "usage": "u"}
    headers = dict(post["request"]["headers"])
    assert headers["X-Internal"] == "<masked>" and headers["X-Trace"] == "visible"
    binary = next(c for c in calls if c["key"].endswith("/binary"))
    side = binary["result"]["body"]["$file"]  # 1024 bytes > 512: a side file
    assert (tmp_path / "t1" / side).stat().st_size == 1024
    http_server.stop()
    # replay masks the live call the same way, so it matches; without the filter it misses
    rep = run_recorder(["--deps", "replay=t1", "--deps-only", "--trace-filter", str(flt),
                        "--trace-dir", "r1", str(program), http_server.url], cwd=tmp_path)
    assert (rep.returncode, rep.stdout, rep.stderr) == (0, rec.stdout, "")
    unfiltered = run_recorder(["--deps", "replay=t1", "--deps-only", "--trace-dir", "r2",
                               str(program), http_server.url], cwd=tmp_path)
    assert "replay miss: http POST" in unfiltered.stderr


def test_project_filter_is_found_like_the_tracing_filter(tmp_path, http_server, program):
    (tmp_path / ".codetracer").mkdir()
    (tmp_path / ".codetracer" / "trace-filter.toml").write_text(FILTER, encoding="utf-8")
    rec = run_recorder(["--deps", "record", "--deps-only", "--trace-dir", "t1", str(program),
                        http_server.url], cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert "PIN-111" not in (tmp_path / "t1" / "deps.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize("table, message", [
    ('mask_words = ["a_b_c"]', "filter.toml:3: invalid word 'a_b_c' in deps.mask_words"),
    ('mask_headers = ["X Bad"]', "filter.toml:3: invalid header name 'X Bad' in deps.mask_headers"),
    ("side_file_bytes = -5", "filter.toml:3: invalid value -5 for deps.side_file_bytes"),
    ('side_file_bytes = "64k"', "filter.toml:3: "),
    ("mask_word = []", "filter.toml:3: unknown field `mask_word`"),
])
@pytest.mark.parametrize("only", [False, True], ids=["traced", "deps-only"])
def test_bad_deps_value_is_one_line_before_the_program_runs(tmp_path, table, message, only):
    prog = tmp_path / "p.py"
    prog.write_text("print('ran')\n", encoding="utf-8")
    flt = tmp_path / "filter.toml"
    flt.write_text(f"\n[deps]\n{table}\n", encoding="utf-8")
    extra = ["--deps-only"] if only else []
    r = run_recorder(["--deps", "record", *extra, "--trace-filter", str(flt), "--trace-dir", "t",
                      str(prog)], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr


def test_tracing_alone_accepts_a_deps_table(tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("print('ran')\n", encoding="utf-8")
    flt = tmp_path / "filter.toml"
    flt.write_text(FILTER, encoding="utf-8")
    r = run_recorder(["--trace-filter", str(flt), "--trace-dir", "t", str(prog)], cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "ran\n"), r.stderr
