"""Report writers: the Markdown table shows every cell, with reasons for missing numbers."""
import json

from ctbench import plot, report_json, report_md


def _results():
    def row(mode, median, status="ok", reason="", **extra):
        wall = {"median": median, "min": median * 0.9, "max": median * 1.1, "n": 3} \
            if median else None
        return {"python": "3.12", "program": "fib", "mode": mode, "size": 30, "status": status,
                "reason": reason, "wall_s": wall, "peak_rss_kb": 10240 if median else None,
                "ratio_plain": median / 0.25 if median else None,
                "ratio_floor": median / 1.0 if median else None, "trace": extra.get("trace"),
                "bytes_per_step": extra.get("bps"), "events_per_s": extra.get("eps"),
                "calibration": extra.get("calibration"), "runs": []}

    return {
        "meta": {"started_at": "2026-11-23T20:00:00+00:00", "host": "vm", "cpus": 2,
                 "loadavg_start": "1.0", "loadavg_end": "2.0", "quick": False, "runs": 3,
                 "upstream_budget_s": 60.0, "pythons": {"3.12": "3.12.1"},
                 "notes": ["a note"]},
        "benchmarks": [
            row("plain", 0.25),
            row("floor", 1.0),
            row("ours", 2.0, trace={"trace_bytes": 3 * 1024 * 1024, "steps": 100_000},
                bps=31.5, eps=2_500_000),
            row("upstream", None, "skipped", "predicted 900 s > 60 s budget",
                calibration={"size": 16, "wall_s": 0.5, "ratio_plain": 25.0,
                             "bytes_per_step": 700.0, "trace": {"trace_bytes": 2048},
                             "ours": {"wall_s": 0.04, "status": "ok", "bytes_per_step": 90.0,
                                      "trace_bytes": 512}}),
        ],
        "startup": [
            {"group": "ct --version", "name": "python -m ct", "status": "ok", "reason": "",
             "wall_s": {"median": 0.034, "min": 0.03, "max": 0.04, "n": 3}, "peak_rss_kb": 9000},
            {"group": "ct --version", "name": "AppImage mounted", "status": "unavailable",
             "reason": "no dist/*.AppImage", "wall_s": None, "peak_rss_kb": None},
        ],
    }


def test_markdown_rows_numbers_and_reasons():
    md = report_md.render(_results())
    lines = md.splitlines()
    ours = next(line for line in lines if "| ours |" in line)
    assert "2.000 s (1.800-2.200)" in ours
    assert "| 8.0x |" in ours and "| 2.00x |" in ours
    assert "3.0 MB" in ours and "| 32 |" in ours and "2.50 M" in ours
    upstream = next(line for line in lines if "| upstream |" in line)
    assert "skipped: predicted 900 s > 60 s budget" in upstream
    assert "upstream at size 16: 0.50 s, 25x plain, 700 B/step, trace 2.0 KB" in upstream
    assert "ours at that size: 0.04 s, 90 B/step, trace 512 B" in upstream
    assert "## Python 3.12.1" in md and "## Start-up" in md
    assert "unavailable: no dist/*.AppImage" in md and "34 ms (30-40)" in md
    header = next(line for line in lines if line.startswith("| program"))
    assert all(line.count("|") == header.count("|") for line in lines
               if line.startswith("| fib"))


def test_human_bytes():
    assert report_md.human_bytes(512) == "512 B"
    assert report_md.human_bytes(1536) == "1.5 KB"
    assert report_md.human_bytes(3 * 1024**3) == "3.0 GB"
    assert report_md.human_bytes(None) == "-"


def test_json_round_trip(tmp_path):
    path = tmp_path / "out" / "results.json"
    report_json.write(_results(), path)
    assert report_json.read(path) == json.loads(json.dumps(_results()))
    assert not list(path.parent.glob("*.tmp"))


def test_plot_series_leaves_out_missing_cells():
    labels, ratios = plot.series(_results())
    assert labels == ["fib\n3.12"]
    assert ratios["ours"] == {"fib\n3.12": 8.0}
    assert ratios["floor"] == {"fib\n3.12": 4.0}
    assert ratios["upstream"] == {}


def test_merge_replaces_only_remeasured_cells():
    base = _results()
    update = _results()
    update["meta"]["started_at"] = "2026-11-23T21:00:00+00:00"
    update["benchmarks"] = [dict(base["benchmarks"][3], status="ok", reason="",
                                 wall_s={"median": 9.0, "min": 9.0, "max": 9.0, "n": 1})]
    update["startup"] = []
    merged = report_json.merge(base, update)
    assert [r["mode"] for r in merged["benchmarks"]] == ["plain", "floor", "ours", "upstream"]
    assert merged["benchmarks"][3]["wall_s"]["median"] == 9.0
    assert merged["benchmarks"][2] == base["benchmarks"][2]
    assert merged["startup"] == base["startup"]
    assert merged["meta"]["notes"][-1].startswith("Re-measured at 2026-11-23T21:00")
    assert "fib/upstream on 3.12" in merged["meta"]["notes"][-1]
