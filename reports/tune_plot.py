"""The power-tuning sweep's plot (tune.json): mean warm duration and Lambda cost per million CDRs against
memory, one line per measured architecture, the cheapest and the fastest within 10 % of it marked. One PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from reports.plots import BLUE, ORANGE, VERMILLION

_DPI = 150
_SIZE_IN = (5.2, 5.8)  # two panels stacked, as the run's tall plots
# Okabe-Ito colours and a line style and marker each, so the architectures differ without colour.
_STYLES = {"x86_64": (BLUE, "-", "o"), "arm64": (ORANGE, "--", "s")}


def plot_tune(tune: dict[str, Any], path: Path) -> Path:
    """Write the PNG to `path` and return it."""
    figure = Figure(figsize=_SIZE_IN, dpi=_DPI)
    draw_tune(figure, tune)
    figure.tight_layout()
    figure.savefig(path)
    return path


def draw_tune(figure: Figure, tune: dict[str, Any]) -> None:
    duration_axes, cost_axes = figure.subplots(2, 1, sharex=True)
    measured = [row for row in tune["rows"] if row["status"] == "measured"]
    for architecture in sorted({row["architecture"] for row in measured}):
        colour, style, marker = _STYLES.get(architecture, (VERMILLION, ":", "^"))
        rows = sorted(
            (r for r in measured if r["architecture"] == architecture), key=lambda r: r["memory_mb"]
        )
        memories = [r["memory_mb"] for r in rows]
        line = {"color": colour, "linestyle": style, "marker": marker, "label": architecture}
        duration_axes.plot(memories, [r["duration_ms_mean"] for r in rows], **line)
        cost_axes.plot(memories, [r["cost_per_million_cdrs_usd"] for r in rows], **line)
    for key, label, marker in (
        ("cheapest", "cheapest", "*"),
        ("fastest_within_10pct_of_cheapest", "fastest within 10 % of it", "D"),
    ):
        chosen = tune.get(key)
        if chosen:
            cost_axes.scatter(
                [chosen["memory_mb"]],
                [chosen["cost_per_million_cdrs_usd"]],
                marker=marker,
                s=110,
                facecolors="none",
                edgecolors="black",
                label=f"{label}: {chosen['memory_mb']:,} MB {chosen['architecture']}",
                zorder=3,
            )
    if not measured:
        for axes in (duration_axes, cost_axes):
            axes.text(
                0.5, 0.5, "no data\nno configuration could be measured", ha="center", va="center",
                transform=axes.transAxes, color="grey",
            )  # fmt: skip
    not_measured = sorted({f"{r['architecture']}" for r in tune["rows"] if r["status"] != "measured"})
    title = f"Power tuning: {tune['batch_size']}-CDR batches\non {tune['measured_on']}"
    duration_axes.set_title(title, fontsize="small")
    duration_axes.set_ylabel("warm duration, mean (ms)")
    duration_axes.set_xscale("log", base=2)
    if measured:
        duration_axes.legend(fontsize="x-small")
    cost_axes.set_ylabel("Lambda USD per million CDRs")
    cost_axes.set_xlabel(
        "memory (MB)" + (f"; not measured: {', '.join(not_measured)}" if not_measured else "")
    )
    if measured:
        cost_axes.legend(fontsize="x-small")
        memories = sorted({r["memory_mb"] for r in measured})
        cost_axes.set_xticks(memories)
        cost_axes.set_xticklabels([f"{m:,}" for m in memories], fontsize="x-small")
