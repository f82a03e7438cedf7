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


def draw(results: dict, out_path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, ratios = series(results)
    modes = [m for m in MODE_COLORS if ratios[m]]
    width = 0.8 / max(len(modes), 1)
    fig, ax = plt.subplots(figsize=(max(8, len(labels) * 0.9), 5))
    for i, mode in enumerate(modes):
        xs = [j + (i - (len(modes) - 1) / 2) * width for j, lab in enumerate(labels)
              if lab in ratios[mode]]
        ys = [ratios[mode][lab] for lab in labels if lab in ratios[mode]]
        ax.bar(xs, ys, width, label=mode, color=MODE_COLORS[mode])
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("wall time / plain Python (log)")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, fontsize=8)
    meta = results["meta"]
    ax.set_title(f"Recorder overhead vs plain Python ({'quick' if meta['quick'] else 'full'} "
                 f"run, {meta['started_at'][:16]}); missing bar = skipped/unavailable")
    ax.legend()
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)


if __name__ == "__main__":
    with open(sys.argv[1]) as fh:
        draw(json.load(fh), sys.argv[2])
