"""What a report says, independent of its format: headline facts and tables, as plain strings.

html.py and markdown.py only lay these out, so the HTML report and the pull-request comment agree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from capacity.fit import formula
from reports.scrub import scrub
from reports.summary import Candidate, ModelErrorStep, Step, Summary

# Recommendation key -> the infra/pipeline.yaml parameter it sets (names from the template contract).
DEPLOY_PARAMETERS: tuple[tuple[str, str, str], ...] = (
    ("shards", "ShardCount", "shards"),
    ("output_shards", "OutputShardCount", "output stream shards"),
    ("parallelization_factor", "ParallelizationFactor", "parallelization factor"),
    ("batch_size", "BatchSize", "batch size (records)"),
    ("batching_window_s", "MaximumBatchingWindowInSeconds", "batching window (s)"),
    ("memory_mb", "MemorySize", "memory (MB)"),
    ("architecture", "Architecture", "architecture"),
    ("stream_mode", "StreamMode", "stream mode"),
)


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


def num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def pct(ratio: float) -> str:
    return f"{ratio * 100:.1f}%"


def headline(summary: Summary) -> list[tuple[str, str]]:
    rec = summary["recommendation"]
    throughput = summary["throughput"]
    error = summary["model_error"]
    return [
        (
            "Measured saturation point",
            f"{num(throughput['saturation_rps'])} records/s "
            f"(offered up to {num(max(summary['profile']['steps'], default=0))})",
        ),
        (
            "Sustained accepted",
            f"{num(throughput['sustained_accepted_rps'])} records/s; "
            f"{pct(summary['throttle_ratio'])} of put attempts throttled (retries count)",
        ),
        (
            "Recommendation",
            f"{rec['shards']} shards, parallelization factor {rec['parallelization_factor']}, "
            f"batch {rec['batch_size']}, window {rec['batching_window_s']:g} s, {rec['memory_mb']} MB "
            f"{rec['architecture']}: ${num(rec['monthly_cost_usd'], 2)}/month",
        ),
        ("Binding constraint", rec["binding_constraint"]),
        (
            "Predicted vs measured",
            f"median error {pct(error['median_ape'])}, worst {pct(error['max_ape'])} "
            f"over {len(error['per_step'])} steps"
            + (
                f"; {pct(float(error['interval_coverage']))} of measurements inside their "
                f"{float(error.get('interval_level', 0.8)):.0%} interval"
                if "interval_coverage" in error
                else ""
            ),
        ),
        ("Cost per million CDRs", f"${num(summary['cost_per_million_cdrs_usd'], 3)}"),
    ]


def _deployed(summary: Summary) -> list[tuple[str, str, str]]:
    """(label, value, template parameter) of each setting the recommendation has (older runs lack some)."""
    rec: dict[str, object] = dict(summary["recommendation"])
    return [(label, str(rec[key]), parameter) for key, parameter, label in DEPLOY_PARAMETERS if key in rec]


def recommendation_table(summary: Summary) -> Table:
    rows = _deployed(summary)
    rows.append(("consumer mode", summary["recommendation"]["consumer_mode"], "-"))
    return Table(("setting", "value", "template parameter"), rows)


def parameter_overrides(summary: Summary) -> str:
    """The `--parameter-overrides` to deploy the recommendation with infra/pipeline.yaml."""
    return " ".join(f"{parameter}={value}" for _, value, parameter in _deployed(summary))


def _candidate_row(label: str, candidate: Candidate) -> tuple[str, ...]:
    return (
        label,
        str(candidate["shards"]),
        str(candidate["parallelization_factor"]),
        str(candidate["batch_size"]),
        f"{candidate['batching_window_s']:g}",
        str(candidate["memory_mb"]),
        f"${num(candidate['monthly_cost_usd'], 2)}",
    )


def alternatives_table(summary: Summary) -> Table:
    rec = summary["recommendation"]
    rows = [_candidate_row("recommended", rec)]
    rows += [_candidate_row(f"runner-up {i + 1}", c) for i, c in enumerate(rec["runner_ups"])]
    rows.append(_candidate_row("at +50% load", rec["at_plus_50pct"]))
    return Table(("option", "shards", "PF", "batch", "window (s)", "memory (MB)", "USD/month"), rows)


def consumer_mode_table(summary: Summary) -> Table | None:
    """Shared polling vs enhanced fan-out as the planner compared them; None without a comparison."""
    modes = summary["recommendation"].get("consumer_modes")
    if not modes:
        return None
    rows = []
    for mode in ("shared", "efo"):
        entry = modes.get(mode)
        if not isinstance(entry, dict):
            continue
        rows.append(
            (
                mode + (" (wins)" if modes.get("winner") == mode else ""),
                "yes" if entry.get("feasible") else "no",
                f"${num(entry['monthly_cost_usd'], 2)}",
                _ms_or_unbounded(entry.get("e2e_latency_p99_ms")),
                _ms_or_unbounded(entry.get("best_e2e_latency_p99_ms")),
            )
        )
    return Table(("consumer mode", "meets SLO", "USD/month", "e2e p99 ms", "best e2e p99 ms"), rows)


def consumer_mode_line(summary: Summary) -> str | None:
    modes = summary["recommendation"].get("consumer_modes")
    return str(modes["sentence"]) if modes and modes.get("sentence") else None


def _ms_or_unbounded(value: float | None) -> str:
    return "unbounded" if value is None else num(value)


def slo_line(summary: Summary) -> str:
    slo = summary["recommendation"]["slo"]
    path = " → ".join(
        f"{p['from_shards']}→{p['to_shards']}" for p in summary["recommendation"]["resharding_path"]
    )
    text = (
        f"SLO: end-to-end p99 ≤ {num(slo['e2e_p99_ms'])} ms, "
        f"IteratorAge max ≤ {num(slo['iterator_age_max_ms'])} ms, "
        f"headroom ×{slo['headroom_factor']:g}."
    )
    return f"{text} Resharding path: {path}." if path else text


def _attempts_rps(step: Step) -> float:
    """Put attempts per second: first sends plus re-sends (older summaries: accepted + throttled)."""
    return step.get("attempts_rps", step["accepted_rps"] + step["throttled_rps"])


def steps_table(summary: Summary) -> Table:
    """Per step, records (offered, accepted, dropped for good) apart from put attempts (throttled ones,
    retries included), so a throttled rate above the offered one reads as what it is."""
    rows = []
    for s in summary["steps"]:
        attempts = _attempts_rps(s)
        dropped = s.get("dropped_rps")
        rows.append(
            (
                str(s["step"]),
                num(s["rate_rps"]),
                num(s["offered_rps"], 1),
                num(s["accepted_rps"], 1),
                "-" if dropped is None else num(dropped, 1),
                num(attempts, 1),
                num(s["throttled_rps"], 1),
                pct(s["throttled_rps"] / attempts) if attempts > 0 else "-",
                num(s["iterator_age_p99_ms"]),
                num(s["e2e_p50_ms"]),
                num(s["e2e_p99_ms"]),
            )
        )
    headers = (
        "step",
        "target rec/s",
        "offered records/s",
        "accepted records/s",
        "dropped records/s",
        "put attempts/s",
        "throttled attempts/s",
        "throttled % of attempts",
        "IteratorAge p99 ms",
        "e2e p50 ms",
        "e2e p99 ms",
    )
    return Table(headers, rows)


def _predicted(entry: ModelErrorStep, metric: str) -> str:
    """The central value, with its 80% interval when the run has one: "246 [210-290]"."""
    central = num(entry[f"predicted_{metric}_p99_ms"])  # type: ignore[literal-required]
    low = entry.get(f"predicted_{metric}_p99_lo_ms")
    high = entry.get(f"predicted_{metric}_p99_hi_ms")
    if low is None or high is None:
        return central
    return f"{central} [{num(float(low))}-{num(float(high))}]"  # type: ignore[arg-type]


def _measured(entry: ModelErrorStep, metric: str) -> str:
    """The measured p99, marked when it fell outside the interval or is (nearly) the step's maximum."""
    text = num(entry[f"measured_{metric}_p99_ms"])  # type: ignore[literal-required]
    if entry.get(f"inside_interval_{metric}") is False:
        text += " (outside)"
    if entry.get("p99_measurable") is False:
        text += " (~max)"
    return text


def model_error_table(summary: Summary) -> Table:
    """Per step: predicted p99 [80% interval], measured (marked outside / ~max), and the central's error."""
    per_step = summary["model_error"]["per_step"]
    with_counts = any("invocations" in e for e in per_step)
    rows = [
        (
            str(e["step"]),
            num(e["rate_rps"]),
            *((_invocations(e),) if with_counts else ()),
            _predicted(e, "iterator_age"),
            _measured(e, "iterator_age"),
            pct(e["ape_iterator_age"]),
            _predicted(e, "e2e"),
            _measured(e, "e2e"),
            pct(e["ape_e2e"]),
        )
        for e in per_step
    ]
    interval = " [80%]" if any("predicted_e2e_p99_lo_ms" in e for e in per_step) else ""
    headers = (
        "step",
        "rec/s",
        *(("invocations",) if with_counts else ()),
        f"age p99 predicted{interval}",
        "measured",
        "error",
        f"e2e p99 predicted{interval}",
        "measured",
        "error",
    )
    return Table(headers, rows)


def _invocations(entry: ModelErrorStep) -> str:
    count = entry.get("invocations")
    if count is None:
        return ""
    return f"{count:,}" + ("" if entry.get("p99_measurable", True) else " (too few for a p99)")


def model_error_lines(summary: Summary) -> list[str]:
    """How to read the model table: the interval, its coverage, and the steps too short for a p99."""
    error = summary["model_error"]
    lines = []
    if "interval_coverage" in error:
        level = float(error.get("interval_level", 0.8))
        margins = [e["interval_log_margin"] for e in error["per_step"] if "interval_log_margin" in e]
        widened = (
            f", widened by x{math.exp(margins[0]):.3f} each side for the model's error beyond them that "
            "validation runs measured (capacity/interval_calibration.py)"
            if margins and margins[0]
            else ""
        )
        lines.append(
            f"Each prediction is the median of the simulator's replications (seeds: poller phase, each "
            f"invocation's deviation from the fitted duration, arrivals) with the {level:.0%} interval of "
            f"them{widened} in brackets: a measurement should fall inside {level:.0%} of the time. Here "
            f"{pct(float(error['interval_coverage']))} of the measurements did; the intervals' median width "
            f"is {pct(float(error.get('interval_median_relative_width', 0.0)))} of the central value."
        )
    lines += [f"Warning: {note}." for note in summary.get("notes", [])]
    return lines


def measurements_table(summary: Summary) -> Table:
    rows = []
    for label, key in (
        ("put latency", "put_latency_ms"),
        ("IteratorAge", "iterator_age_ms"),
        ("end-to-end latency", "e2e_latency_ms"),
    ):
        p = summary[key]  # type: ignore[literal-required]
        rows.append((label, num(p["p50"]), num(p["p90"]), num(p["p99"]), num(p["max"]), "-"))
    duration = summary["handler_duration_ms"]
    rows.append(
        ("handler duration", num(duration["p50"]), "-", num(duration["p99"]), "-", num(duration["mean"]))
    )
    return Table(("ms", "p50", "p90", "p99", "max", "mean"), rows)


def service_time_line(summary: Summary) -> str:
    m = summary["service_time_model"]
    return (
        f"Service time fit: {formula(m['a_ms'], m['b_ms_per_record'], m.get('c_ms_per_kib', 0.0))} "
        f"(R² {m['r2']:.2f}, {m['n_invocations']:,} invocations)."
    )


def metadata_table(summary: Summary) -> Table:
    target = scrub(summary["target"])
    profile = summary["profile"]
    versions = ", ".join(f"{k} {v}" for k, v in sorted(summary["versions"].items()) if v)
    rows = [
        ("run", summary["run_id"]),
        ("started / finished", f"{summary['started_at']} / {summary['finished_at']}"),
        ("target", f"{target['name']} ({target['region']}{', local' if target['is_local'] else ''})"),
        ("endpoint", str(target["endpoint_url"] or "AWS default")),
        (
            "profile",
            f"{profile['name']} ({profile['shape']}: {', '.join(f'{r:g}' for r in profile['steps'])} rec/s)",
        ),
        ("versions", versions),
        ("git commit", summary["git_commit"] or "unknown"),
    ]
    return Table(("", ""), rows)


def config_json(summary: Summary) -> str:
    return json.dumps(scrub(summary["config"]), indent=2, sort_keys=True)
