"""``ct record --deps ...`` passes capture and replay through to the recorder: a new
time-travel trace of a re-run against the old answers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import RECORDER_PARENT, needs_recorder

pytestmark = needs_recorder

SRC = Path(__file__).resolve().parents[3] / "src"
BOOT = f"import sys; sys.path.insert(0, {str(SRC)!r}); from ct.cli import main; sys.exit(main())"


def run_ct(args, tmp_path):
    env = dict(os.environ, CODETRACER_DATA_DIR=str(tmp_path / "data"),
               CODETRACER_PYTHON_INTERPRETER=sys.executable, PYTHONPATH=RECORDER_PARENT or "")
    env.pop("CODETRACER_RESOURCES", None)
    return subprocess.run([sys.executable, "-c", BOOT, *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_ct_record_then_replay_against_the_old_answers(tmp_path, http_server):
    prog = tmp_path / "fetch.py"
    prog.write_text(textwrap.dedent('''
        import sys, urllib.request
        print(urllib.request.urlopen(sys.argv[1] + "/counter").read().decode())
    '''), encoding="utf-8")
    first = run_ct(["record", "-q", "-o", "t1", "--deps", "record", str(prog), http_server.url],
                   tmp_path)
    if first.returncode != 0 and "recorder" in first.stderr and "install" in first.stderr:
        pytest.skip(f"ct cannot find the recorder here: {first.stderr.strip()}")
    assert first.returncode == 0, first.stderr
    assert first.stdout == '{"n": 1}\n'
    assert (tmp_path / "t1" / "deps.jsonl").is_file()
    http_server.stop()
    again = run_ct(["record", "-q", "-o", "t2", "--deps", "replay=t1", str(prog),
                    http_server.url], tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout and again.stderr == ""
    assert (tmp_path / "t2" / "trace_metadata.json").is_file()
    third = run_ct(["record", "-q", "-o", "t3", "--deps", "replay=latest", str(prog),
                    http_server.url], tmp_path)  # latest is t2, itself a replay: no capture
    assert third.returncode == 2 and "holds no deps.jsonl" in third.stderr
    fourth = run_ct(["record", "-q", "-o", "t4", "--deps", "replay=1", str(prog),
                     http_server.url], tmp_path)  # index id 1 is t1
    assert fourth.returncode == 0 and fourth.stdout == first.stdout, fourth.stderr
    listing = run_ct(["deps", "t1"], tmp_path)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["TIME", "CATEGORY", "TARGET", "RESULT", "DURATION", "SITE"]
    get = [x for x in lines if f"GET {http_server.url}/counter" in x]
    assert len(get) == 1 and " 200 " in get[0] and get[0].endswith(f"{prog}:3")
    as_json = run_ct(["deps", str(tmp_path / "t1" / "deps.jsonl"), "--json"], tmp_path)
    import json

    calls = json.loads(as_json.stdout)
    # start order: the request starts (putrequest) before http.client connects for it
    assert [c["key"] for c in calls] == [f"GET {http_server.url}/counter",
                                         f"CONNECT {http_server.url}"]
    missing = run_ct(["deps", "nowhere"], tmp_path)
    assert missing.returncode != 0 and len(missing.stderr.strip().splitlines()) == 1
