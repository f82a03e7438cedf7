"""Benchmark suite for the CodeTracer Python recorder (issue 7).

One concern per module: `programs` (what is measured), `pythons`/`envs` (where), `modes` (how a
program is launched), `measure` (one timed run), `stats`, `trace_stats`, `suite` (the loop and
the upstream time budget), `startup`, and the report writers (`report_json`, `report_md`, `plot`).
"""
