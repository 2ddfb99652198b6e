"""The run's plots, one PNG each, drawn with matplotlib's object API on the Agg canvas (no display, no
pyplot global state). A plot whose data is missing is still written, saying "no data" and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from capacity.quotas import SHARD_WRITE_BYTES_PER_S, SHARD_WRITE_RECORDS_PER_S
from reports.cost_plot import cost_alt, draw_cost
from reports.data import RunData
from reports.summary import Summary

# Okabe-Ito: distinguishable with the common colour-vision deficiencies; lines also differ in style.
BLUE, SKY, GREEN, ORANGE, VERMILLION = "#0072B2", "#56B4E9", "#009E73", "#E69F00", "#D55E00"
PURPLE, BLACK, GREY = "#CC79A7", "#000000", "#999999"
_DPI = 150  # sharp when a phone shows the image at its full width
_SIZE_IN = (5.2, 3.9)
# Narrow figures with large type: legible at a 390 px phone's width and in a third of a 1200 px screen.
_FIRST_SCREEN_SIZE_IN = (4.8, 4.8)
_TALL_SIZE_IN = (5.2, 5.8)  # two panels stacked, so a phone shows them one under the other
_FONT_PT = 12
_HEATMAP_BUCKET_S = 5
_SMOOTH_S = 5


@dataclass(frozen=True)
class PlotSpec:
    filename: str
    title: str
    draw: Callable[[Figure, Summary, RunData], None]
    alt: Callable[[Summary], str]  # what the plot shows, for a reader who cannot see it
    size_in: tuple[float, float] = _SIZE_IN


def _no_data(axes: Axes, reason: str) -> None:
    axes.text(
        0.5, 0.5, f"no data\n{reason}", ha="center", va="center", transform=axes.transAxes, color="grey"
    )
    axes.set_xticks([])
    axes.set_yticks([])


def _missing(figure: Figure, reason: str, panels: int = 1) -> None:
    """Draw "no data" with the reason in each of the plot's panels."""
    for axes in np.atleast_1d(figure.subplots(panels, 1)):
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


def _rolling(series: pd.Series) -> pd.Series:
    return series.rolling(_SMOOTH_S, min_periods=1, center=True).mean()


def _cdrs_per_record(summary: Summary) -> float:
    """The run's measured CDRs per Kinesis record (1.0 without an aggregating producer or a measurement)."""
    per_record = (summary.get("plan_inputs") or {}).get("cdrs_per_record")
    return float(per_record) if isinstance(per_record, int | float) and per_record > 1.0 else 1.0


def stream_write_limit(summary: Summary) -> tuple[float, str] | None:
    """The CDRs per second the input stream takes in the configuration that ran, and which limit binds: its
    shards x the scaled shard limits, in records (x the run's CDRs per Kinesis record when the producer
    aggregated) and in bytes (the run's bytes per CDR), the lower of the two."""
    stack = summary["profile"].get("stack")
    stack = stack if isinstance(stack, dict) else {}
    shards = stack.get("shards", summary["profile"].get("shards"))
    scale = stack.get("scale", summary["profile"].get("scale", 1.0))
    if not isinstance(shards, int | float) or not isinstance(scale, int | float):
        return None
    inputs = summary.get("plan_inputs") or {}
    per_record = _cdrs_per_record(summary)
    by_records = float(shards) * float(scale) * SHARD_WRITE_RECORDS_PER_S * per_record
    record_bytes = inputs.get("record_bytes")
    if isinstance(record_bytes, int | float) and record_bytes > 0:
        by_bytes = float(shards) * float(scale) * SHARD_WRITE_BYTES_PER_S / float(record_bytes)
        if by_bytes < by_records:
            return by_bytes, f"bytes: {record_bytes:,.0f} B per CDR"
    if per_record > 1.0:
        return by_records, f"records: {per_record:,.1f} CDRs per record"
    return by_records, "records"


def _processed_per_second(data: RunData) -> pd.Series | None:
    if data.invocations is None:
        return None
    seconds = (data.invocations["start_epoch_ms"] // 1000).astype(int)
    per_second = data.invocations.groupby(seconds)["batch_records"].sum()
    full = range(int(per_second.index.min()), int(per_second.index.max()) + 1)
    return per_second.reindex(full, fill_value=0)


def draw_throughput(figure: Figure, summary: Summary, data: RunData) -> None:
    load = data.load_seconds
    if load is None:
        return _missing(figure, "data/load_seconds.csv is missing", panels=2)
    rates, throttling = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1.4))
    start_s = _start_s(data, summary)
    elapsed = _elapsed_s(load["epoch_s"], start_s)
    rates.step(elapsed, load["target_rps"], label="target", color=GREY, linewidth=1, where="post")
    rates.plot(elapsed, _rolling(load["offered"]), label="offered records/s", color=BLUE, linewidth=1.6)
    rates.plot(elapsed, _rolling(load["accepted"]), label="accepted records/s", color=GREEN, linewidth=1.6,
               linestyle="--")  # fmt: skip
    processed = _processed_per_second(data)
    if processed is not None:
        # The trace counts Kinesis records: with an aggregating producer, fewer than the CDRs they carry.
        aggregated = _cdrs_per_record(summary) > 1.0
        label = "Kinesis records processed (aggregates)" if aggregated else "processed by the handler"
        rates.plot(processed.index - start_s, _rolling(processed), label=label,
                   color=ORANGE, linewidth=1.6, linestyle=":")  # fmt: skip
    limit = stream_write_limit(summary)
    if limit is not None:
        rates.axhline(
            limit[0],
            color=PURPLE,
            linewidth=1.4,
            linestyle="-.",
            label=f"stream write limit {limit[0]:,.0f} ({limit[1].split(':')[0]})",
        )
    _mark_saturation(rates, summary, start_s)
    _step_lines(rates, summary, start_s)
    rates.set_ylabel(f"records/s ({_SMOOTH_S} s mean)")
    rates.set_ylim(bottom=0)
    throttled = _rolling(load["throttled"])
    throttling.plot(
        elapsed, throttled, color=VERMILLION, linewidth=1.4, label="throttled attempts (retries count)"
    )
    if "dropped" in load:
        throttling.plot(elapsed, _rolling(load["dropped"]), color=BLACK, linewidth=1.4, linestyle="--",
                        label="records dropped (refused for good)")  # fmt: skip
    _step_lines(throttling, summary, start_s)
    throttling.set_ylabel("throttling /s")
    throttling.set_xlabel("time since start (s)")
    throttling.set_ylim(bottom=0)
    handles, labels = rates.get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncol=2, fontsize="small", frameon=False)
    throttling.legend(loc="upper left", fontsize="small", framealpha=0.9)
    for axes in (rates, throttling):
        axes.xaxis.set_major_locator(MaxNLocator(5))
        axes.yaxis.set_major_locator(MaxNLocator(4))


def _mark_saturation(axes: Axes, summary: Summary, start_s: float) -> None:
    """A marker at the step whose accepted rate is the run's saturation point."""
    steps = summary["steps"]
    if not steps:
        return
    top = max(steps, key=lambda s: s["accepted_rps"])
    middle = (top["start_epoch_s"] + top["end_epoch_s"]) / 2 - start_s
    axes.plot([middle], [top["accepted_rps"]], marker="D", markersize=9, color=BLACK, linestyle="none",
              label=f"saturation {top['accepted_rps']:,.0f}/s", zorder=5)  # fmt: skip


def throughput_alt(summary: Summary) -> str:
    t = summary["throughput"]
    peak = max((s["offered_rps"] for s in summary["steps"]), default=0.0)
    limit = stream_write_limit(summary)
    return (
        f"Line chart over time: offered load rises in steps to {peak:,.0f} records/s; accepted records level "
        f"off at the saturation point of {t['saturation_rps']:,.0f} records/s"
        + (f" under the stream write limit of {limit[0]:,.0f} records/s ({limit[1]})" if limit else "")
        + f"; the handler processes what is accepted. Lower panel: throttled put attempts (retries counted, "
        f"{t['throttled_rps']:,.0f} per s over the run) and records dropped after the last retry."
    )


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
        color=PURPLE,
        linewidth=1,
        label="IteratorAge (max over shards)",
    )
    slo_ms = summary["recommendation"]["slo"]["iterator_age_max_ms"]
    axes.axhline(slo_ms, color=VERMILLION, linestyle="--", label=f"SLO {slo_ms:,.0f} ms")
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
    axes.bar(positions - width / 2, [s["e2e_p50_ms"] for s in steps], width, label="p50", color=SKY)
    axes.bar(
        positions + width / 2, [s["e2e_p99_ms"] for s in steps], width, label="p99", color=BLUE, hatch="//"
    )
    slo_ms = summary["recommendation"]["slo"]["e2e_p99_ms"]
    axes.axhline(slo_ms, color=VERMILLION, linestyle="--", label=f"SLO p99 {slo_ms:,.0f} ms")
    axes.set_xticks(positions, [f"{s['rate_rps']:g} rec/s" for s in steps])
    axes.set_xlabel("load step")
    axes.set_ylabel("end-to-end latency (ms)")
    axes.legend(loc="upper left")


def draw_service_time(figure: Figure, summary: Summary, data: RunData) -> None:
    invocations = data.invocations
    if invocations is None:
        return _missing(figure, "data/invocations.csv is missing", panels=2)
    over_time, scatter = figure.subplots(2, 1)
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
    scatter.plot(records, fitted, color=VERMILLION, label=f"fit (R² {model['r2']:.2f})")
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
    if table.empty:
        return _missing(figure, "no invocation names its shard (a handler log without the ShardId property)")
    rates = table.to_numpy() / _HEATMAP_BUCKET_S
    image = axes.imshow(rates, aspect="auto", cmap="cividis", interpolation="nearest")
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
    age_axes, e2e_axes = figure.subplots(2, 1)
    rates = [e["rate_rps"] for e in per_step]
    pairs = (
        (age_axes, "iterator_age", "IteratorAge p99 (ms)", "ape_iterator_age"),
        (e2e_axes, "e2e", "end-to-end p99 (ms)", "ape_e2e"),
    )
    for axes, key, label, ape_key in pairs:
        measured = [e[f"measured_{key}_p99_ms"] for e in per_step]  # type: ignore[literal-required]
        predicted = [e[f"predicted_{key}_p99_ms"] for e in per_step]  # type: ignore[literal-required]
        axes.plot(rates, measured, marker="o", label="measured", color=BLUE)
        axes.plot(rates, predicted, marker="x", linestyle="--", label="predicted", color=ORANGE)
        bounds = [
            (e.get(f"predicted_{key}_p99_lo_ms"), e.get(f"predicted_{key}_p99_hi_ms")) for e in per_step
        ]
        if all(low is not None and high is not None for low, high in bounds):
            # Bars at the steps only: there is no prediction between two steps' rates.
            axes.errorbar(
                rates,
                predicted,
                yerr=[
                    [c - float(low) for c, (low, _) in zip(predicted, bounds, strict=True)],  # type: ignore[arg-type]
                    [float(high) - c for c, (_, high) in zip(predicted, bounds, strict=True)],  # type: ignore[arg-type]
                ],
                fmt="none",
                ecolor=ORANGE,
                capsize=4,
                label="predicted 80% interval",
            )
        for rate, value, entry in zip(rates, measured, per_step, strict=True):
            error_ratio = entry[ape_key]  # type: ignore[literal-required]
            short = " ~max" if entry.get("p99_measurable") is False else ""
            axes.annotate(
                f"{error_ratio:.0%}{short}",
                (rate, value),
                textcoords="offset points",
                xytext=(0, 6),
                fontsize=7,
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
            color=GREEN,
            alpha=0.08,
            label="meets the SLO",
        )
    axes.scatter(feasible["shards"], feasible["monthly_cost_usd"], color=GREEN, label="feasible", s=18)
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
        color=VERMILLION,
        zorder=5,
        label="recommendation",
    )
    axes.set_xlabel("shards")
    axes.set_ylabel("monthly cost (USD)")
    axes.legend(loc="upper left")


def _alt_iterator_age(summary: Summary) -> str:
    slo = summary["recommendation"]["slo"]["iterator_age_max_ms"]
    age = summary["iterator_age_ms"]
    return (
        f"Line chart of IteratorAge (the oldest unprocessed record's age, max over shards) over time: p99 "
        f"{age['p99']:,.0f} ms, max {age['max']:,.0f} ms, against the SLO line at {slo:,.0f} ms."
    )


def _alt_latency(summary: Summary) -> str:
    slo = summary["recommendation"]["slo"]["e2e_p99_ms"]
    steps = "; ".join(
        f"{s['rate_rps']:g} records/s: p50 {s['e2e_p50_ms']:,.0f} ms, p99 {s['e2e_p99_ms']:,.0f} ms"
        for s in summary["steps"]
    )
    return (
        f"Bar chart of end-to-end latency per load step against the SLO p99 of {slo:,.0f} ms: "
        f"{steps or 'no steps'}."
    )


def _alt_service_time(summary: Summary) -> str:
    m = summary["service_time_model"]
    return (
        "Top: batch size of each invocation over time. Bottom: handler duration against batch size, one dot "
        f"per invocation, with the fitted line {m['a_ms']:.1f} ms + {m['b_ms_per_record']:.3f} ms per record "
        f"(R² {m['r2']:.2f}, {m['n_invocations']:,} invocations)."
    )


def _alt_heatmap(summary: Summary) -> str:
    return (
        f"Heat map of records processed per shard in {_HEATMAP_BUCKET_S} s buckets (rows: shards, "
        "columns: time); "
        "a shard much brighter than the others is a hot shard."
    )


def _alt_model_error(summary: Summary) -> str:
    error = summary["model_error"]
    interval = (
        f" The bars on the predictions are their {float(error.get('interval_level', 0.8)):.0%} intervals; "
        f"{float(error['interval_coverage']):.0%} of the measurements fall inside it."
        if "interval_coverage" in error
        else ""
    )
    short = sum(1 for e in error["per_step"] if e.get("p99_measurable") is False)
    marked = (
        f" {short} step(s) marked ~max had fewer than 100 invocations: their p99 is close to the maximum."
        if short
        else ""
    )
    return (
        "Predicted against measured p99 per load step, IteratorAge on top and end-to-end latency below, each "
        f"point labelled with its error: median {error['median_ape']:.0%}, worst {error['max_ape']:.0%}."
        + interval
        + marked
    )


def _alt_cost_curve(summary: Summary) -> str:
    rec = summary["recommendation"]
    return (
        "Scatter of the monthly cost of each candidate the planner priced against its shard count, those "
        f"that meet the SLO marked; the recommendation, {rec['shards']} shards at "
        f"${rec['monthly_cost_usd']:,.2f} per month, is the star."
    )


THROUGHPUT = PlotSpec(
    "throughput.png",
    "Throughput and throttling",
    draw_throughput,
    throughput_alt,
    _FIRST_SCREEN_SIZE_IN,
)
COST = PlotSpec("cost.png", "Cost by service", draw_cost, cost_alt, _FIRST_SCREEN_SIZE_IN)
ITERATOR_AGE = PlotSpec(
    "iterator_age.png", "IteratorAge over time, with the SLO", draw_iterator_age, _alt_iterator_age
)
LATENCY = PlotSpec(
    "latency_per_step.png", "End-to-end latency per load step", draw_latency_per_step, _alt_latency
)
SERVICE_TIME = PlotSpec(
    "service_time.png",
    "Batch size and duration per invocation, with the fitted service time",
    draw_service_time,
    _alt_service_time,
    _TALL_SIZE_IN,
)
SHARD_HEATMAP = PlotSpec(
    "shard_heatmap.png", "Records processed per shard over time", draw_shard_heatmap, _alt_heatmap
)
MODEL_ERROR = PlotSpec(
    "model_error.png",
    "Predicted vs measured per step (labels: absolute percentage error)",
    draw_model_error,
    _alt_model_error,
    _TALL_SIZE_IN,
)
COST_CURVE = PlotSpec(
    "cost_curve.png", "Monthly cost vs shards, and the recommendation", draw_cost_curve, _alt_cost_curve
)


def _scaling_day(summary: Summary) -> dict[str, Any] | None:
    scaling: dict[str, Any] | None = (summary.get("plan_details") or {}).get("scaling_policies")
    return scaling


def draw_scaling_day(figure: Figure, summary: Summary, data: RunData) -> None:
    # Imported here: scaling_plot takes this module's palette (and `cdrcap plan --plot` uses it alone).
    from reports.scaling_plot import draw_scaling_day as draw

    scaling = _scaling_day(summary)
    if not scaling:
        _missing(figure, "the profile sets no scaling_day", panels=2)
        return
    draw(figure, scaling)


def _alt_scaling_day(summary: Summary) -> str:
    scaling = _scaling_day(summary)
    if not scaling:
        return "No day of traffic was simulated for this run."
    return (
        f"A day of {scaling['traffic']['source']} (peak {scaling['traffic']['peak_rps']:,.0f} records/s): "
        f"each scaling policy's write capacity and iterator age, minute by minute. {scaling['sentence']}."
    )


SCALING_DAY = PlotSpec(
    "scaling_day.png",
    "A day of traffic under each scaling policy",
    draw_scaling_day,
    _alt_scaling_day,
    _TALL_SIZE_IN,
)
PLOTS: tuple[PlotSpec, ...] = (
    THROUGHPUT, COST, ITERATOR_AGE, LATENCY, SERVICE_TIME, SHARD_HEATMAP, MODEL_ERROR, COST_CURVE,
    SCALING_DAY,
)  # fmt: skip


def render_plots(run_dir: Path, summary: Summary, data: RunData) -> list[Path]:
    """Write every plot as a PNG in run_dir; a plot that fails to draw says why in its image and notes."""
    paths = []
    for spec in PLOTS:
        with rc_context({"font.size": _FONT_PT, "hatch.linewidth": 0.6}):
            figure = Figure(figsize=spec.size_in, dpi=_DPI, layout="constrained")
            try:
                spec.draw(figure, summary, data)
            except (KeyError, ValueError, TypeError, IndexError) as error:
                # A report with one broken plot is still worth more than no report: show the error instead.
                figure.clear()
                _missing(figure, f"could not draw: {type(error).__name__}: {error}")
                data.notes.append(f"{spec.filename}: could not draw ({type(error).__name__}: {error})")
            figure.suptitle(spec.title, fontsize="large")
            path = run_dir / spec.filename
            figure.savefig(path, format="png")
        paths.append(path)
    return paths
