"""overhead.png: median wall time over plain Python, per program and mode, log scale.

Run as a script (`python plot.py results.json overhead.png`) by an interpreter that has
matplotlib (the `tools` venv), so the measured venvs stay free of it.
"""
from __future__ import annotations

import json
import sys

MODE_COLORS = {"floor": "#9e9e9e", "ours": "#1f77b4", "upstream": "#d62728"}


def series(results: dict) -> tuple[list[str], dict[str, dict[str, float]]]:
    """Labels 'program (py)' and per-mode ratios to plain; missing cells are simply absent."""
    labels: list[str] = []
    ratios: dict[str, dict[str, float]] = {m: {} for m in MODE_COLORS}
    for row in results["benchmarks"]:
        label = f"{row['program']}\n{row['python']}"
        if label not in labels:
            labels.append(label)
        if row["mode"] in ratios and row.get("ratio_plain"):
            ratios[row["mode"]][label] = row["ratio_plain"]
    return labels, ratios


def missing(results: dict) -> dict[str, dict[str, str]]:
    """Per mode, the labels whose cell has no number, with a one-word status for the chart."""
    out: dict[str, dict[str, str]] = {m: {} for m in MODE_COLORS}
    for row in results["benchmarks"]:
        if row["mode"] in out and not row.get("ratio_plain"):
            out[row["mode"]][f"{row['program']}\n{row['python']}"] = row["status"]
    return out


def draw(results: dict, out_path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, ratios = series(results)
    gaps = missing(results)
    modes = [m for m in MODE_COLORS if ratios[m] or gaps[m]]
    width = 0.8 / max(len(modes), 1)
    fig, ax = plt.subplots(figsize=(max(8, len(labels) * 0.75), 5.5))
    for i, mode in enumerate(modes):
        offset = (i - (len(modes) - 1) / 2) * width
        xs = [j + offset for j, lab in enumerate(labels) if lab in ratios[mode]]
        ys = [ratios[mode][lab] for lab in labels if lab in ratios[mode]]
        bars = ax.bar(xs, ys, width, label=mode, color=MODE_COLORS[mode])
        ax.bar_label(bars, [f"{y:.0f}" if y >= 10 else f"{y:.1f}" for y in ys], fontsize=6)
        for j, lab in enumerate(labels):  # say why a bar is missing instead of leaving a hole
            if lab in gaps[mode]:
                ax.text(j + offset, 1.05, gaps[mode][lab], rotation=90, fontsize=6,
                        ha="center", va="bottom", color=MODE_COLORS[mode])
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("wall time / plain Python (log)")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, fontsize=7)
    meta = results["meta"]
    ax.set_title(f"Recorder overhead vs plain Python ({'quick' if meta['quick'] else 'full'} "
                 f"run, {meta['started_at'][:16]} UTC)\n"
                 "median wall time ratio; text at the base = no number (skipped, failed ...)",
                 fontsize=10)
    ax.legend()
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)


if __name__ == "__main__":
    with open(sys.argv[1]) as fh:
        draw(json.load(fh), sys.argv[2])
