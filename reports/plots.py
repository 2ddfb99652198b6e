"""The run's plots, one PNG each, drawn with matplotlib's object API on the Agg canvas (no display, no
pyplot global state). A plot whose data is missing is still written, saying "no data" and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reports.data import RunData
from reports.summary import Summary

_DPI = 100
_SIZE_IN = (9.0, 4.2)
_HEATMAP_BUCKET_S = 5


@dataclass(frozen=True)
class PlotSpec:
    filename: str
    title: str
    draw: Callable[[Figure, Summary, RunData], None]


def _no_data(axes: Axes, reason: str) -> None:
    axes.text(
        0.5, 0.5, f"no data\n{reason}", ha="center", va="center", transform=axes.transAxes, color="grey"
    )
    axes.set_xticks([])
    axes.set_yticks([])


def _missing(figure: Figure, reason: str, panels: int = 1) -> None:
    """Draw "no data" with the reason in each of the plot's panels."""
    for axes in np.atleast_1d(figure.subplots(1, panels)):
        _no_data(axes, reason)


def _elapsed_s(epoch_s: pd.Series, start_s: float) -> pd.Series:
    return epoch_s - start_s


def _start_s(data: RunData, summary: Summary) -> float:
    if summary["steps"]:
        return float(summary["steps"][0]["start_epoch_s"])
    if data.load_seconds is not None:
        return float(data.load_seconds["epoch_s"].min())
    return 0.0


def _step_lines(axes: Axes, summary: Summary, start_s: float) -> None:
    for step in summary["steps"][1:]:
        axes.axvline(step["start_epoch_s"] - start_s, color="grey", linewidth=0.6, linestyle=":")


def draw_throughput(figure: Figure, summary: Summary, data: RunData) -> None:
    load = data.load_seconds
    if load is None:
        return _missing(figure, "data/load_seconds.csv is missing")
    axes = figure.subplots()
    start_s = _start_s(data, summary)
    elapsed = _elapsed_s(load["epoch_s"], start_s)
    axes.plot(elapsed, load["offered"], label="offered", color="#1f77b4", linewidth=1)
    axes.plot(elapsed, load["accepted"], label="accepted", color="#2ca02c", linewidth=1)
    axes.plot(elapsed, load["throttled"], label="throttled", color="#d62728", linewidth=1)
    axes.step(
        elapsed, load["target_rps"], label="target", color="black", linewidth=0.8, where="post", alpha=0.5
    )
    _step_lines(axes, summary, start_s)
    axes.set_xlabel("time since start (s)")
    axes.set_ylabel("records/s")
    axes.legend(loc="upper left")


def _iterator_age_series(data: RunData) -> pd.Series | None:
    if data.metrics is not None:
        ages = data.metrics[data.metrics["metric"] == "IteratorAge"]
        if not ages.empty:
            return ages.groupby("epoch_s")["value"].max()
    if data.invocations is not None:
        by_second = data.invocations.assign(epoch_s=data.invocations["start_epoch_ms"] // 1000)
        return by_second.groupby("epoch_s")["iterator_age_ms"].max()
    return None


def draw_iterator_age(figure: Figure, summary: Summary, data: RunData) -> None:
    series = _iterator_age_series(data)
    if series is None or series.empty:
        return _missing(figure, "no IteratorAge in data/metrics.csv or data/invocations.csv")
    axes = figure.subplots()
    start_s = _start_s(data, summary)
    axes.plot(
        series.index - start_s,
        series.to_numpy(),
        color="#9467bd",
        linewidth=1,
        label="IteratorAge (max over shards)",
    )
    slo_ms = summary["recommendation"]["slo"]["iterator_age_max_ms"]
    axes.axhline(slo_ms, color="#d62728", linestyle="--", label=f"SLO {slo_ms:,.0f} ms")
    _step_lines(axes, summary, start_s)
    axes.set_xlabel("time since start (s)")
    axes.set_ylabel("ms")
    axes.legend(loc="upper left")


def draw_latency_per_step(figure: Figure, summary: Summary, data: RunData) -> None:
    steps = summary["steps"]
    if not steps:
        return _missing(figure, "summary.json has no steps")
    axes = figure.subplots()
    positions = np.arange(len(steps))
    width = 0.38
    axes.bar(positions - width / 2, [s["e2e_p50_ms"] for s in steps], width, label="p50", color="#1f77b4")
    axes.bar(positions + width / 2, [s["e2e_p99_ms"] for s in steps], width, label="p99", color="#ff7f0e")
    slo_ms = summary["recommendation"]["slo"]["e2e_p99_ms"]
    axes.axhline(slo_ms, color="#d62728", linestyle="--", label=f"SLO p99 {slo_ms:,.0f} ms")
    axes.set_xticks(positions, [f"{s['rate_rps']:g} rec/s" for s in steps])
    axes.set_xlabel("load step")
    axes.set_ylabel("end-to-end latency (ms)")
    axes.legend(loc="upper left")


def draw_service_time(figure: Figure, summary: Summary, data: RunData) -> None:
    invocations = data.invocations
    if invocations is None:
        return _missing(figure, "data/invocations.csv is missing", panels=2)
    over_time, scatter = figure.subplots(1, 2)
    start_s = _start_s(data, summary)
    over_time.scatter(
        invocations["start_epoch_ms"] / 1000 - start_s, invocations["batch_records"], s=3, alpha=0.5
    )
    over_time.set_xlabel("time since start (s)")
    over_time.set_ylabel("batch size (records)")
    scatter.scatter(
        invocations["batch_records"], invocations["duration_ms"], s=3, alpha=0.4, label="invocations"
    )
    model = summary["service_time_model"]
    records = np.linspace(0, float(invocations["batch_records"].max()), 50)
    bytes_per_record = float(invocations["batch_bytes"].sum() / max(invocations["batch_records"].sum(), 1))
    fitted = (
        model["a_ms"]
        + model["b_ms_per_record"] * records
        + model["c_ms_per_kib"] * records * bytes_per_record / 1024
    )
    scatter.plot(records, fitted, color="#d62728", label=f"fit (R² {model['r2']:.2f})")
    scatter.set_xlabel("batch size (records)")
    scatter.set_ylabel("duration (ms)")
    scatter.legend(loc="upper left")


def draw_shard_heatmap(figure: Figure, summary: Summary, data: RunData) -> None:
    invocations = data.invocations
    if invocations is None:
        return _missing(figure, "data/invocations.csv is missing")
    axes = figure.subplots()
    start_s = _start_s(data, summary)
    bucket = (
        (invocations["start_epoch_ms"] / 1000 - start_s) // _HEATMAP_BUCKET_S * _HEATMAP_BUCKET_S
    ).astype(int)
    table = invocations.assign(bucket=bucket).pivot_table(
        index="shard_id", columns="bucket", values="batch_records", aggfunc="sum", fill_value=0
    )
    rates = table.to_numpy() / _HEATMAP_BUCKET_S
    image = axes.imshow(rates, aspect="auto", cmap="inferno", interpolation="nearest")
    axes.set_yticks(range(len(table.index)), [str(s).replace("shardId-", "") for s in table.index])
    ticks = range(0, len(table.columns), max(len(table.columns) // 10, 1))
    axes.set_xticks(list(ticks), [str(table.columns[i]) for i in ticks])
    axes.set_xlabel(f"time since start (s, {_HEATMAP_BUCKET_S} s buckets)")
    axes.set_ylabel("shard")
    figure.colorbar(image, ax=axes, label="records/s processed")


def draw_model_error(figure: Figure, summary: Summary, data: RunData) -> None:
    per_step = summary["model_error"]["per_step"]
    if not per_step:
        return _missing(figure, "model_error.per_step is empty", panels=2)
    age_axes, e2e_axes = figure.subplots(1, 2)
    rates = [e["rate_rps"] for e in per_step]
    pairs = (
        (age_axes, "iterator_age", "IteratorAge p99 (ms)", "ape_iterator_age"),
        (e2e_axes, "e2e", "end-to-end p99 (ms)", "ape_e2e"),
    )
    for axes, key, label, ape_key in pairs:
        measured = [e[f"measured_{key}_p99_ms"] for e in per_step]  # type: ignore[literal-required]
        predicted = [e[f"predicted_{key}_p99_ms"] for e in per_step]  # type: ignore[literal-required]
        axes.plot(rates, measured, marker="o", label="measured", color="#1f77b4")
        axes.plot(rates, predicted, marker="x", linestyle="--", label="predicted", color="#ff7f0e")
        for rate, value, entry in zip(rates, measured, per_step, strict=True):
            error_ratio = entry[ape_key]  # type: ignore[literal-required]
            axes.annotate(
                f"{error_ratio:.0%}", (rate, value), textcoords="offset points", xytext=(0, 6), fontsize=7
            )
        axes.set_xlabel("offered rate (records/s)")
        axes.set_ylabel(label)
        axes.legend(loc="upper left")


def draw_cost_curve(figure: Figure, summary: Summary, data: RunData) -> None:
    candidates = data.plan_candidates
    if candidates is None:
        return _missing(
            figure, "no planner candidates (data/plan_candidates.csv or recommendation.cost_curve)"
        )
    axes = figure.subplots()
    feasible = candidates[candidates["feasible"].astype(bool)]
    infeasible = candidates[~candidates["feasible"].astype(bool)]
    if not feasible.empty:
        axes.axvspan(
            feasible["shards"].min() - 0.5,
            candidates["shards"].max() + 0.5,
            color="#2ca02c",
            alpha=0.08,
            label="meets the SLO",
        )
    axes.scatter(feasible["shards"], feasible["monthly_cost_usd"], color="#2ca02c", label="feasible", s=18)
    axes.scatter(
        infeasible["shards"],
        infeasible["monthly_cost_usd"],
        color="grey",
        marker="x",
        label="misses the SLO",
        s=18,
    )
    rec = summary["recommendation"]
    axes.scatter(
        [rec["shards"]],
        [rec["monthly_cost_usd"]],
        marker="*",
        s=260,
        color="#d62728",
        zorder=5,
        label="recommendation",
    )
    axes.set_xlabel("shards")
    axes.set_ylabel("monthly cost (USD)")
    axes.legend(loc="upper left")


PLOTS: tuple[PlotSpec, ...] = (
    PlotSpec("throughput.png", "Offered, accepted and throttled records/s", draw_throughput),
    PlotSpec("iterator_age.png", "IteratorAge over time, with the SLO", draw_iterator_age),
    PlotSpec("latency_per_step.png", "End-to-end latency per load step", draw_latency_per_step),
    PlotSpec(
        "service_time.png",
        "Batch size and duration per invocation, with the fitted service time",
        draw_service_time,
    ),
    PlotSpec(
        "shard_heatmap.png",
        "Records processed per shard over time (hot shards stand out)",
        draw_shard_heatmap,
    ),
    PlotSpec(
        "model_error.png",
        "Predicted vs measured per step (labels: absolute percentage error)",
        draw_model_error,
    ),
    PlotSpec(
        "cost_curve.png",
        "Monthly cost vs shards, SLO-feasible region and the recommendation",
        draw_cost_curve,
    ),
)


def render_plots(run_dir: Path, summary: Summary, data: RunData) -> list[Path]:
    """Write every plot as a PNG in run_dir; a plot that fails to draw says why in its image and notes."""
    paths = []
    for spec in PLOTS:
        figure = Figure(figsize=_SIZE_IN, dpi=_DPI, layout="constrained")
        try:
            spec.draw(figure, summary, data)
        except (KeyError, ValueError, TypeError, IndexError) as error:
            # A report with one broken plot is still worth more than no report: show the error instead.
            figure.clear()
            _missing(figure, f"could not draw: {type(error).__name__}: {error}")
            data.notes.append(f"{spec.filename}: could not draw ({type(error).__name__}: {error})")
        figure.suptitle(spec.title, fontsize=11)
        path = run_dir / spec.filename
        figure.savefig(path, format="png")
        paths.append(path)
    return paths
