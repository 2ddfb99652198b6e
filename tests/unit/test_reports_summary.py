import json
from pathlib import Path
from typing import Any

import pytest

from reports.errors import ReportInputError
from reports.sample import write_sample_run
from reports.summary import load_summary, validate_summary


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run_dir = write_sample_run(tmp_path_factory.mktemp("runs") / "sample")
    return json.loads((run_dir / "summary.json").read_text())


def _copy(sample: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(sample))


def test_the_sample_run_is_valid(sample: dict[str, Any]) -> None:
    assert validate_summary(sample) == []


def test_a_missing_key_is_named_with_its_path(sample: dict[str, Any]) -> None:
    # Given a summary without recommendation.binding_constraint
    bad = _copy(sample)
    del bad["recommendation"]["binding_constraint"]
    # Then validation names the full key path
    assert validate_summary(bad) == ["recommendation.binding_constraint: missing"]


def test_a_wrong_type_is_named_with_its_path_and_value(sample: dict[str, Any]) -> None:
    bad = _copy(sample)
    bad["steps"][2]["accepted_rps"] = "fast"
    assert validate_summary(bad) == ["steps[2].accepted_rps: expected a number, got 'fast'"]


def test_a_boolean_is_not_a_number(sample: dict[str, Any]) -> None:
    bad = _copy(sample)
    bad["throttle_ratio"] = True
    assert validate_summary(bad) == ["throttle_ratio: expected a number, got True"]


def test_accepted_above_offered_is_insane(sample: dict[str, Any]) -> None:
    bad = _copy(sample)
    bad["throughput"]["accepted_rps"] = bad["throughput"]["offered_rps"] * 1.5
    problems = validate_summary(bad)
    assert len(problems) == 1
    assert problems[0].startswith("throughput: accepted_rps")


def test_unordered_percentiles_are_insane(sample: dict[str, Any]) -> None:
    bad = _copy(sample)
    bad["e2e_latency_ms"]["p99"] = bad["e2e_latency_ms"]["max"] + 1
    assert any(p.startswith("e2e_latency_ms: p99") for p in validate_summary(bad))


def test_a_recommendation_outside_lambda_limits_is_insane(sample: dict[str, Any]) -> None:
    bad = _copy(sample)
    bad["recommendation"]["parallelization_factor"] = 11
    assert validate_summary(bad) == [
        "recommendation.parallelization_factor: 11 is outside the allowed [1, 10]"
    ]


def test_a_cost_breakdown_that_does_not_add_up_is_insane(sample: dict[str, Any]) -> None:
    bad = _copy(sample)
    bad["recommendation"]["cost_breakdown_usd"]["lambda_duration"] += 50
    assert any(p.startswith("recommendation.cost_breakdown_usd") for p in validate_summary(bad))


def test_the_cost_curve_is_optional_and_extra_keys_are_allowed(sample: dict[str, Any]) -> None:
    lean = _copy(sample)
    del lean["recommendation"]["cost_curve"]
    lean["something_new"] = {"any": "thing"}
    assert validate_summary(lean) == []


def test_a_wrong_schema_version_is_reported(sample: dict[str, Any]) -> None:
    bad = _copy(sample)
    bad["schema"] = "cdrcap.summary/0"
    assert validate_summary(bad) == ["schema: expected 'cdrcap.summary/1', got 'cdrcap.summary/0'"]


def test_load_summary_names_the_file_when_json_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text("{not json")
    with pytest.raises(ReportInputError, match=r"summary\.json: not valid JSON"):
        load_summary(path)


def test_load_summary_names_the_file_and_key_when_malformed(tmp_path: Path, sample: dict[str, Any]) -> None:
    bad = _copy(sample)
    del bad["throughput"]
    (tmp_path / "summary.json").write_text(json.dumps(bad))
    with pytest.raises(ReportInputError, match=r"summary\.json: malformed summary: throughput: missing"):
        load_summary(tmp_path)
