"""The release gate's fixed-limit verdicts, per metric, on summaries built from the synthetic run.

The summaries here have their bootstrap noise removed, so each change is a point against its limit
(tests/unit/test_compare_noise.py covers the intervals)."""

import json
from pathlib import Path
from typing import Any, cast

import pytest

from reports.compare import Thresholds, compare_summaries, comparison_markdown
from reports.sample import write_sample_run
from reports.summary import Summary


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run_dir = write_sample_run(tmp_path_factory.mktemp("runs") / "base")
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["noise"]
    return summary


def _variant(baseline: dict[str, Any], **changes: float) -> Summary:
    current = json.loads(json.dumps(baseline))
    current["run_id"] = "current"
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = current
        for key in parents:
            node = node[key]
        node[leaf] = value
    return cast(Summary, current)


def _verdicts(
    baseline: dict[str, Any], current: Summary, thresholds: Thresholds | None = None
) -> dict[str, bool]:
    comparison = compare_summaries(cast(Summary, baseline), current, thresholds or Thresholds())
    return {row.metric.name: row.regressed for row in comparison.rows}


def test_identical_runs_pass(baseline: dict[str, Any]) -> None:
    comparison = compare_summaries(cast(Summary, baseline), _variant(baseline), Thresholds())
    assert not comparison.regressed


def test_a_throughput_drop_beyond_5_percent_regresses(baseline: dict[str, Any]) -> None:
    rps = baseline["throughput"]["sustained_accepted_rps"]
    verdicts = _verdicts(baseline, _variant(baseline, throughput__sustained_accepted_rps=rps * 0.94))
    assert verdicts == {**dict.fromkeys(verdicts, False), "sustained_accepted_rps": True}


def test_a_drop_exactly_at_the_limit_passes(baseline: dict[str, Any]) -> None:
    rps = baseline["throughput"]["sustained_accepted_rps"]
    current = _variant(baseline, throughput__sustained_accepted_rps=rps * 0.95)
    assert not compare_summaries(cast(Summary, baseline), current, Thresholds()).regressed


def test_a_throughput_gain_is_better_not_a_regression(baseline: dict[str, Any]) -> None:
    rps = baseline["throughput"]["sustained_accepted_rps"]
    comparison = compare_summaries(
        cast(Summary, baseline), _variant(baseline, throughput__sustained_accepted_rps=rps * 2), Thresholds()
    )
    assert comparison.rows[0].verdict == "pass (better)"


@pytest.mark.parametrize(
    ("key", "factor", "metric"),
    [
        ("e2e_latency_ms__p99", 1.11, "e2e_latency_p99_ms"),
        ("iterator_age_ms__max", 1.21, "iterator_age_max_ms"),
        ("cost_per_million_cdrs_usd", 1.11, "cost_per_million_cdrs_usd"),
    ],
)
def test_lower_is_better_metrics_regress_past_their_limit(
    baseline: dict[str, Any], key: str, factor: float, metric: str
) -> None:
    node: Any = baseline
    for part in key.split("__"):
        node = node[part]
    verdicts = _verdicts(baseline, _variant(baseline, **{key: node * factor}))
    assert [name for name, regressed in verdicts.items() if regressed] == [metric]


def test_the_throttle_ratio_is_compared_in_points(baseline: dict[str, Any]) -> None:
    ratio = baseline["throttle_ratio"]
    assert not _verdicts(baseline, _variant(baseline, throttle_ratio=ratio + 0.009))["throttle_ratio"]
    assert _verdicts(baseline, _variant(baseline, throttle_ratio=ratio + 0.011))["throttle_ratio"]


def test_thresholds_are_configurable(baseline: dict[str, Any]) -> None:
    p99 = baseline["e2e_latency_ms"]["p99"]
    current = _variant(baseline, e2e_latency_ms__p99=p99 * 1.3)
    assert not _verdicts(baseline, current, Thresholds(e2e_p99_increase_pct=50))["e2e_latency_p99_ms"]


def test_the_markdown_table_names_metric_values_change_and_verdict(baseline: dict[str, Any]) -> None:
    rps = baseline["throughput"]["sustained_accepted_rps"]
    comparison = compare_summaries(
        cast(Summary, baseline),
        _variant(baseline, throughput__sustained_accepted_rps=rps * 0.5),
        Thresholds(),
    )
    text = comparison_markdown(comparison)
    assert "| metric | baseline | current | change | 90% interval | verdict |" in text
    assert "point (no samples)" in text
    assert "| sustained accepted records/s |" in text
    assert "-50.0%" in text
    assert "**REGRESSION**" in text
    assert "**Result: regression** in sustained accepted records/s." in text


def test_different_profiles_are_flagged(baseline: dict[str, Any]) -> None:
    current = _variant(baseline)
    current["profile"]["name"] = "ci"
    comparison = compare_summaries(cast(Summary, baseline), current, Thresholds())
    assert any("different profiles" in note for note in comparison.notes)


def test_a_zero_baseline_that_grows_regresses(tmp_path: Path, baseline: dict[str, Any]) -> None:
    zero = _variant(baseline, cost_per_million_cdrs_usd=0.0)
    verdicts = _verdicts(cast(dict[str, Any], zero), _variant(baseline, cost_per_million_cdrs_usd=0.1))
    assert verdicts["cost_per_million_cdrs_usd"]
