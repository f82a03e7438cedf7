"""results.md: the human-readable tables (per Python: program x mode), made from results.json."""
from __future__ import annotations

from pathlib import Path

COLUMNS = ("program", "mode", "wall median (min-max)", "x plain", "x floor", "trace",
           "B/step", "events/s", "peak RSS", "note")


def _num(value: float | None, fmt: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{fmt}}{suffix}"


def human_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _wall(w: dict | None) -> str:
    if not w:
        return "-"
    return f"{w['median']:.3f} s ({w['min']:.3f}-{w['max']:.3f})"


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1e6:.2f} M" if value >= 1e6 else f"{value / 1e3:.0f} k"


def _note(row: dict) -> str:
    note = row["reason"] if row["status"] == "ok" else f"{row['status']}: {row['reason']}"
    cal = row.get("calibration")
    if cal and row["status"] != "ok":
        bits = [f"{cal['size']}: {cal['wall_s']:.2f} s"]
        if cal.get("ratio_plain"):
            bits.append(f"{cal['ratio_plain']:.0f}x plain")
        if cal.get("bytes_per_step"):
            bits.append(f"{cal['bytes_per_step']:.0f} B/step")
        if cal.get("trace") and cal["trace"].get("trace_bytes") is not None:
            bits.append(f"trace {human_bytes(cal['trace']['trace_bytes'])}")
        ours = cal.get("ours")
        if ours and ours.get("wall_s") is not None:
            bits.append(f"ours at that size: {ours['wall_s']:.2f} s"
                        + (f", {ours['bytes_per_step']:.0f} B/step"
                           if ours.get("bytes_per_step") else "")
                        + (f", trace {human_bytes(ours['trace_bytes'])}"
                           if ours.get("trace_bytes") is not None else ""))
        elif ours:
            bits.append(f"ours at that size: {ours['status']}")
        note += " [upstream at size " + ", ".join(bits) + "]"
    return note.replace("|", "/")


def row_cells(row: dict) -> list[str]:
    trace = row.get("trace") or {}
    return [
        f"{row['program']} ({row['size']})", row["mode"], _wall(row["wall_s"]),
        _num(row["ratio_plain"], ".1f", "x"), _num(row["ratio_floor"], ".2f", "x"),
        human_bytes(trace.get("trace_bytes")), _num(row["bytes_per_step"], ".0f"),
        _rate(row["events_per_s"]),
        human_bytes(row["peak_rss_kb"] * 1024 if row["peak_rss_kb"] else None), _note(row),
    ]


def _table(header: tuple[str, ...] | list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


VERSUS_COLUMNS = ("program (size)", "ours wall", "upstream wall", "x faster",
                  "x faster (above start-up)", "ours trace", "upstream trace", "x smaller",
                  "ours / upstream peak RSS", "note")


def _side_wall(side: dict) -> str:
    return _wall(side.get("wall_s")) if side["status"] == "ok" else "-"


def versus_section(rows: list[dict], pythons: dict[str, str]) -> list[str]:
    out = ["", "## Head to head with upstream 0.3.0", "",
           "Each program at a size where upstream runs for seconds, ours and upstream "
           "alternating. x faster = upstream median wall / ours; above start-up = the same after "
           "subtracting each tool's wall for an empty script (`startup_s` in results.json); "
           "x smaller = upstream trace.json bytes / ours (trace.ct)."]
    for tag, version in pythons.items():
        mine = [r for r in rows if r["python"] == tag]
        if not mine:
            continue
        table = []
        for r in mine:
            ours, up = r["ours"], r["upstream"]
            rss = (f"{human_bytes((ours['peak_rss_kb'] or 0) * 1024)} / "
                   f"{human_bytes((up['peak_rss_kb'] or 0) * 1024)}"
                   if ours.get("peak_rss_kb") and up.get("peak_rss_kb") else "-")
            note = "; ".join(f"{name}: {s['status']}: {s['reason']}" for name, s
                             in (("ours", ours), ("upstream", up)) if s["status"] != "ok")
            table.append([f"{r['program']} ({r['size']})", _side_wall(ours), _side_wall(up),
                          _num(r.get("faster"), ".1f", "x"), _num(r.get("faster_work"), ".1f", "x"),
                          human_bytes(ours.get("trace_bytes")),
                          human_bytes(up.get("trace_bytes")),
                          _num(r.get("smaller"), ".1f", "x"), rss, note.replace("|", "/")])
        out += ["", f"### Python {version}", ""] + _table(VERSUS_COLUMNS, table)
    return out


def render(results: dict) -> str:
    meta = results["meta"]
    out = ["# Benchmark results", ""]
    out.append(f"Measured {meta['started_at']} on {meta['host']} ({meta['cpus']} CPUs, load "
               f"{meta['loadavg_start']} at start, {meta.get('loadavg_end', '?')} at end), "
               f"{meta['runs']} runs per cell, {'quick' if meta['quick'] else 'full'} sizes, "
               f"budget per run {meta.get('run_budget_s', 60):.0f} s (upstream "
               f"{meta['upstream_budget_s']:.0f} s), fewer runs when one run is long (cell "
               f"budget {meta.get('cell_budget_s', 30):.0f} s). "
               f"Wall time includes interpreter start-up. Times are reported, never asserted.")
    out.append("")
    out.append("Columns: x plain / x floor = median wall over plain Python / over do-nothing "
               "sys.monitoring callbacks; trace = trace file bytes (ours: trace.ct); B/step = trace bytes "
               "per Step event; events/s = trace events per second of wall time; peak RSS = "
               "largest max RSS of the process over the runs.")
    for tag, version in meta["pythons"].items():
        rows = [row_cells(r) for r in results["benchmarks"] if r["python"] == tag]
        if not rows:
            continue
        out += ["", f"## Python {version}", ""]
        out += _table(COLUMNS, rows)
    if results.get("versus"):
        out += versus_section(results["versus"], meta["pythons"])
    if results.get("startup"):
        out += ["", "## Start-up", ""]
        rows = []
        for s in results["startup"]:
            w = s.get("wall_s")
            rows.append([s["group"], s["name"],
                         f"{w['median'] * 1000:.0f} ms ({w['min'] * 1000:.0f}-{w['max'] * 1000:.0f})"
                         if w else "-",
                         human_bytes(s["peak_rss_kb"] * 1024) if s.get("peak_rss_kb") else "-",
                         "" if s["status"] == "ok" else f"{s['status']}: {s['reason']}".replace("|", "/")])
        out += _table(["what", "how", "wall median (min-max)", "peak RSS", "note"], rows)
    if meta.get("notes"):
        out += ["", "## Notes", ""] + [f"- {n}" for n in meta["notes"]]
    return "\n".join(out) + "\n"


def write(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(results))
