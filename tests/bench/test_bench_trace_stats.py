"""Streaming event counts must equal a json.load count, across chunk boundaries too."""
import json

from ctbench import trace_stats


def _write_trace(folder, events):
    folder.mkdir()
    (folder / "trace.json").write_text(json.dumps(events))
    (folder / "trace_paths.json").write_text('["/x.py"]')
    return folder


EVENTS = (
    [{"Path": "/x.py"}, {"Function": {"path_id": 0, "line": 1, "name": "<toplevel>"}}]
    + [{"Step": {"path_id": 0, "line": i}} for i in range(300)]
    + [{"Value": {"variable_id": 0, "value": {"kind": "String", "text": '{"Step": 1}',
                                              "type_id": 0}}}]
    + [{"VariableName": "Step"}, {"Return": {"return_value": {"kind": "None", "type_id": 0}}}]
)


def test_counts_match_json_load_with_tiny_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(trace_stats, "_CHUNK", 7)  # forces matches to straddle chunks
    folder = _write_trace(tmp_path / "t", EVENTS)
    stats = trace_stats.trace_stats(folder)
    assert stats["steps"] == 300  # the escaped '{"Step": 1}' inside a string is not counted
    assert stats["events"] == len(EVENTS)
    assert stats["event_counts"]["VariableName"] == 1
    assert stats["trace_bytes"] == (folder / "trace.json").stat().st_size
    assert stats["folder_bytes"] == stats["trace_bytes"] + len('["/x.py"]')


def test_pretty_printed_trace_is_counted(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "trace.json").write_text(json.dumps(EVENTS, indent=2))
    assert trace_stats.trace_stats(folder)["steps"] == 300


def test_missing_trace_json_reports_no_counts(tmp_path):
    stats = trace_stats.trace_stats(tmp_path)
    assert stats["steps"] is None and stats["trace_bytes"] is None


def test_trace_ct_folder_takes_counts_from_the_metadata(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "trace.ct").write_bytes(b"\0" * 8192)
    (folder / "trace_metadata.json").write_text(json.dumps({"stats": {"steps": 7, "events": 9}}))
    stats = trace_stats.trace_stats(folder)
    assert stats["trace_bytes"] == 8192 and stats["steps"] == 7 and stats["events"] == 9
    assert stats["folder_bytes"] > 8192
