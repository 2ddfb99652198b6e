"""The plot of a day of traffic under every scaling policy (`details.scaling_policies` of a plan): load and
each policy's write capacity above, each policy's iterator age below. For the report to call; one PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

_DPI = 100
_SIZE_IN = (9.0, 6.0)


def plot_scaling_day(scaling: dict[str, Any], path: Path) -> Path:
    """Write the PNG to `path` and return it."""
    figure = Figure(figsize=_SIZE_IN, dpi=_DPI)
    load_axes, age_axes = figure.subplots(2, 1, sharex=True)
    step_h = scaling["series_step_minutes"] / 60.0
    load = np.asarray(scaling["load_rps"], dtype=float)
    hours = np.arange(load.size) * step_h
    load_axes.fill_between(hours, load, step="post", color="lightgrey", label="offered records/s")
    for policy in scaling["policies"]:
        label = policy["policy"] + (" (recommended)" if policy["policy"] == scaling["recommended"] else "")
        capacity = np.asarray(policy["series"]["write_capacity_rps"], dtype=float)
        load_axes.step(hours, capacity, where="post", label=label, linewidth=1.2)
        age = np.maximum(np.asarray(policy["series"]["iterator_age_ms"], dtype=float), 1.0)
        age_axes.step(hours, age, where="post", label=label, linewidth=1.2)
    load_axes.set_yscale("log")
    load_axes.set_ylabel("records/s (write capacity)")
    load_axes.set_title(f"Scaling policies over {scaling['traffic']['source']}")
    load_axes.legend(fontsize="x-small", loc="upper left")
    age_axes.set_yscale("log")
    age_axes.set_ylabel("max iterator age (ms)")
    age_axes.set_xlabel("hour of the day")
    figure.tight_layout()
    figure.savefig(path)
    return path
