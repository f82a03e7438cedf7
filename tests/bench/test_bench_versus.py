"""Head-to-head table: ratios from real run records, rendering, and merging into results."""
from ctbench import report_json, report_md, versus
from ctbench.measure import RunResult
from ctbench.suite import Cell


def _side(name, walls, trace_bytes, startup):
    cell = Cell("3.12", "fib", name, 24)
    cell.runs = [RunResult(wall_s=w, max_rss_kb=20_000, exit_code=0) for w in walls]
    cell.trace = {"trace_bytes": trace_bytes, "steps": 1000}
    return versus.Side(cell, startup)


def test_ratios_use_medians_and_subtract_each_tools_startup():
    ours = _side("ours", [1.0, 1.2, 5.0], 1_000, startup=0.2)
    up = _side("upstream", [10.0, 11.0, 12.0], 4_000, startup=1.0)
    r = versus.compare(ours, up)
    assert r["faster"] == 11.0 / 1.2
    assert r["faster_work"] == (11.0 - 1.0) / (1.2 - 0.2)
    assert r["smaller"] == 4.0


def test_a_side_without_runs_gives_no_ratio():
    ours = _side("ours", [1.0], 1_000, startup=0.2)
    up = _side("upstream", [], None, startup=None)
    up.cell.status, up.cell.trace = "skipped", None
    assert versus.compare(ours, up) == {"faster": None, "faster_work": None, "smaller": None}


def _row(program, faster):
    ours = _side("ours", [1.0], 1_000, 0.1).to_dict()
    up = _side("upstream", [faster], 3_000, 0.5).to_dict()
    return {"python": "3.12", "program": program, "size": 24, "ours": ours, "upstream": up,
            "faster": faster, "faster_work": faster, "smaller": 3.0}


def test_section_shows_every_program_and_ratio():
    text = "\n".join(report_md.versus_section([_row("fib", 12.0), _row("hanoi", 4.0)],
                                              {"3.12": "3.12.1"}))
    assert "### Python 3.12.1" in text
    assert "| fib (24) |" in text and "12.0x" in text and "| hanoi (24) |" in text


def test_update_replaces_only_the_re_measured_versus_rows():
    base = {"meta": {"pythons": {"3.12": "3.12.1"}, "notes": []}, "benchmarks": [],
            "versus": [_row("fib", 5.0), _row("hanoi", 4.0)]}
    update = {"meta": {"pythons": {}, "notes": [], "started_at": "t", "loadavg_start": "1"},
              "benchmarks": [], "versus": [_row("fib", 9.0)]}
    merged = report_json.merge(base, update)
    assert [(r["program"], r["faster"]) for r in merged["versus"]] == [("fib", 9.0), ("hanoi", 4.0)]
