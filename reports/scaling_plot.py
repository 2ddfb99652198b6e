"""The plot of a day of traffic under every scaling policy (`details.scaling_policies` of a plan): load and
each policy's write capacity above, each policy's iterator age below. For the report to call; one PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from reports.plots import BLACK, BLUE, ORANGE, PURPLE, VERMILLION

_DPI = 100
_SIZE_IN = (9.0, 6.0)
# Okabe-Ito colours as in the run's plots, and a line style each, so the policies differ without colour.
_STYLES = [(BLUE, "-"), (ORANGE, "--"), (VERMILLION, "-."), (PURPLE, ":"), (BLACK, (0, (5, 1, 1, 1)))]


def plot_scaling_day(scaling: dict[str, Any], path: Path) -> Path:
    """Write the PNG to `path` and return it."""
    figure = Figure(figsize=_SIZE_IN, dpi=_DPI)
    draw_scaling_day(figure, scaling)
    figure.tight_layout()
    figure.savefig(path)
    return path


def draw_scaling_day(figure: Figure, scaling: dict[str, Any]) -> None:
    """Load and capacity above, iterator age below, one line per policy (the recommended one thicker)."""
    load_axes, age_axes = figure.subplots(2, 1, sharex=True)
    step_h = scaling["series_step_minutes"] / 60.0
    load = np.asarray(scaling["load_rps"], dtype=float)
    hours = np.arange(load.size) * step_h
    load_axes.fill_between(hours, load, step="post", color="lightgrey", label="offered records/s")
    for index, policy in enumerate(scaling["policies"]):
        colour, style = _STYLES[index % len(_STYLES)]
        recommended = policy["policy"] == scaling["recommended"]
        label = policy["policy"] + (" (recommended)" if recommended else "")
        line = {"color": colour, "linestyle": style, "linewidth": 2.2 if recommended else 1.2, "label": label}
        capacity = np.asarray(policy["series"]["write_capacity_rps"], dtype=float)
        load_axes.step(hours, capacity, where="post", **line)
        age = np.maximum(np.asarray(policy["series"]["iterator_age_ms"], dtype=float), 1.0)
        age_axes.step(hours, age, where="post", **line)
    load_axes.set_yscale("log")
    load_axes.set_ylabel("records/s (write capacity)")
    load_axes.set_title(f"Scaling policies over {scaling['traffic']['source']}")
    load_axes.legend(fontsize="x-small", loc="upper left")
    age_axes.set_yscale("log")
    age_axes.set_ylabel("max iterator age (ms)")
    age_axes.set_xlabel("hour of the day")
