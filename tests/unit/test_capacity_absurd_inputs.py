"""The planner answers absurd inputs at once and clearly (issue: a typo in the rate ran for minutes)."""

from __future__ import annotations

import pytest

from capacity import quotas
from capacity.fit import ServiceTimeModel
from capacity.planner import plan
from capacity.search import SearchSpace, Slo, Workload
from cdrcap.cli import join_dash_values, main

SERVICE = ServiceTimeModel(a_ms=40.0, b_ms_per_record=0.3, memory_mb=1_769)


@pytest.mark.parametrize("rate", [1e9, 1e12])
def test_a_rate_beyond_any_account_is_answered_with_the_shards_it_needs_and_the_largest_plan_that_fits(
    rate: float,
) -> None:
    # Given a rate no account can carry without a negotiated shard quota
    result = plan(SERVICE, Workload(rate, 400), Slo(), SearchSpace(simulate_s=20.0))
    # Then the plan is not feasible, says how many shards it needs and the most a stream can have
    beyond = result.details["beyond_aws"]
    needed = beyond["needed_shards"]
    assert needed >= rate * 2 / quotas.SHARD_WRITE_RECORDS_PER_S
    assert result.feasible is False
    why = result.recommendation["binding_constraint"]
    assert f"needs {needed:,} shards" in why
    assert f"{quotas.MAX_PLANNABLE_SHARDS:,}" in why
    # And shows the closest plan: the largest rate the most shards carry
    assert result.recommendation["shards"] <= quotas.MAX_PLANNABLE_SHARDS
    assert beyond["planned_rate_rps"] * 2 / quotas.SHARD_WRITE_RECORDS_PER_S <= quotas.MAX_PLANNABLE_SHARDS


def test_a_negative_service_time_after_a_space_is_read_as_the_value_not_an_option() -> None:
    assert join_dash_values(["plan", "--service-time", "-5,0.3", "--rate", "1"]) == [
        "plan",
        "--service-time=-5,0.3",
        "--rate",
        "1",
    ]


@pytest.mark.parametrize("argv", [["--service-time", "-5,0.3"], ["--service-time=-5,0.3"]])
def test_a_negative_service_time_is_exit_2_naming_the_value(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["plan", "--rate", "100", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert "'-5,0.3'" in err and "-5 is not a duration" in err


def test_a_malformed_service_time_is_exit_2_naming_the_value(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--rate", "100", "--service-time", "40;0.3"]) == 2
    assert "'40;0.3'" in capsys.readouterr().err
