"""Secrets under dict keys are masked like secret names, and the metadata counts what was
redacted and what the caps cut."""

from __future__ import annotations

from ctfs_view import CtfsView
from rt_helpers import load_meta, record, requires_recorder

pytestmark = requires_recorder

PROGRAM = (
    "settings = {'password': 'hunter2', 'api_key': 5, 'message': 'hi', 'tokens_used': 3,\n"
    "            'nested': {'DB_PASSWORD': 'pw'}}\n"
    "done = 1\n"
)


def _record(tmp_path, *options):
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM, encoding="utf-8")
    proc = record(tmp_path / "t", [*options, str(script)], format="ctfs")
    assert proc.returncode == 0, proc.stderr.decode()
    return tmp_path / "t"


def test_values_under_secret_keys_are_redacted(tmp_path):
    trace = _record(tmp_path)
    settings = CtfsView(trace).step_views()[-1][1]["settings"]
    items = {e["elements"][0]["text"]: e["elements"][1] for e in settings["elements"]}
    assert items["password"]["r"] == items["api_key"]["r"] == "<redacted>"
    assert items["message"]["text"] == "hi" and items["tokens_used"]["i"] == 3
    nested = {e["elements"][0]["text"]: e["elements"][1] for e in items["nested"]["elements"]}
    assert nested["DB_PASSWORD"]["r"] == "<redacted>"
    stats = load_meta(trace)["stats"]
    assert stats["redactions"] >= 3 and stats["truncated_values"] == 0


def test_truncations_are_counted(tmp_path):
    stats = load_meta(_record(tmp_path, "--max-string", "3"))["stats"]
    assert stats["truncated_values"] > 0
