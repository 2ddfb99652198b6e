import math

import pytest

from capacity import quotas, skew
from capacity.explain import CONFIGURATION_KEYS, cloudformation_parameters
from capacity.fit import ServiceTimeModel
from capacity.planner import plan
from capacity.resource_use import from_mapping
from capacity.search import SearchSpace, Slo, Workload, shard_bounds

# These tests are about sizing the stream and the function: a pipeline whose sinks fit every default quota
# up to ~100,000 CDR/s (the whole-pipeline checks are in test_capacity_sinks.py).
LIGHT_SINKS = from_mapping(
    {"dynamodb_write_units": 0.1, "dynamodb_hottest_item_writes": 1.0, "measured_batch_records": 10_000},
    "test: light sinks",
)


def LightWorkload(rate: float, record_bytes: float, **kwargs: object) -> Workload:
    return Workload(rate, record_bytes, use=LIGHT_SINKS, **kwargs)  # type: ignore[arg-type]


SERVICE = ServiceTimeModel(a_ms=40.0, b_ms_per_record=0.3, memory_mb=1_769)
FAST_SPACE = SearchSpace(simulate_s=40.0)


def test_small_records_need_shards_by_the_records_limit_not_bytes() -> None:
    # Given 50,000 records/s of 400 B and no headroom
    bounds = shard_bounds(LightWorkload(50_000, 400), Slo(headroom_factor=1.0))
    # Then the 1,000 records/s limit needs 50 shards, while bytes alone would say 20
    assert bounds.by_records == 50
    assert bounds.by_bytes == 20


def test_plan_for_small_records_has_at_least_fifty_shards() -> None:
    result = plan(
        SERVICE, LightWorkload(50_000, 400), Slo(headroom_factor=1.0), FAST_SPACE, include_plus_50pct=False
    )
    assert result.feasible
    assert result.recommendation["shards"] >= 50
    assert "1,000 records/s" in result.recommendation["binding_constraint"]


def test_a_hot_key_beyond_one_shard_makes_the_plan_infeasible_whatever_the_shards() -> None:
    # Given one key with 5% of 50,000 records/s = 2,500 records/s > one shard's 1,000
    result = plan(
        SERVICE,
        LightWorkload(50_000, 400, keys=skew.hot_key(0.05)),
        Slo(),
        FAST_SPACE,
        include_plus_50pct=False,
    )
    assert not result.feasible
    assert "no shard count helps" in result.recommendation["binding_constraint"]


def test_recommendation_respects_every_quota() -> None:
    workload = LightWorkload(20_000, 800, keys=skew.zipf(0.6, distinct_keys=100_000), other_consumers=2)
    slo = Slo()
    result = plan(SERVICE, workload, slo, FAST_SPACE, include_plus_50pct=False)
    assert result.feasible
    for config in [result.recommendation, *result.recommendation["runner_ups"]]:
        shards, pf = config["shards"], config["parallelization_factor"]
        peak = workload.rate_rps * slo.headroom_factor
        hottest_shard = workload.keys.max_shard_share(shards)
        assert peak * hottest_shard <= quotas.SHARD_WRITE_RECORDS_PER_S
        assert peak * hottest_shard * workload.record_bytes <= quotas.SHARD_WRITE_BYTES_PER_S
        if config["consumer_mode"] == "shared":
            assert peak * hottest_shard * workload.record_bytes * 3 <= quotas.SHARD_READ_BYTES_PER_S
        assert shards * pf <= quotas.LAMBDA_DEFAULT_ACCOUNT_CONCURRENCY
        assert quotas.ESM_PARALLELIZATION_FACTOR_MIN <= pf <= quotas.ESM_PARALLELIZATION_FACTOR_MAX
        assert quotas.ESM_BATCH_SIZE_MIN <= config["batch_size"] <= quotas.ESM_BATCH_SIZE_MAX
        assert (
            quotas.ESM_BATCHING_WINDOW_S_MIN
            <= config["batching_window_s"]
            <= quotas.ESM_BATCHING_WINDOW_S_MAX
        )
        assert quotas.LAMBDA_MEMORY_MB_MIN <= config["memory_mb"] <= quotas.LAMBDA_MEMORY_MB_MAX
        assert config["predicted"]["e2e_latency_p99_ms"] <= slo.e2e_p99_ms
        assert config["predicted"]["utilisation"] * slo.headroom_factor < 1.0


def test_concurrency_limit_caps_shards_times_pf() -> None:
    space = SearchSpace(simulate_s=40.0, concurrency_limit=60)
    result = plan(
        SERVICE, LightWorkload(50_000, 400), Slo(headroom_factor=1.0), space, include_plus_50pct=False
    )
    rec = result.recommendation
    assert rec["shards"] * rec["parallelization_factor"] <= 60


def test_recommendation_has_the_contract_keys() -> None:
    result = plan(SERVICE, LightWorkload(5_000, 400, current_shards=2), Slo(), FAST_SPACE)
    rec = result.recommendation
    for key in (
        *CONFIGURATION_KEYS,
        "cost_breakdown_usd",
        "binding_constraint",
        "predicted",
        "runner_ups",
        "resharding_path",
        "at_plus_50pct",
        "slo",
    ):
        assert key in rec
    assert set(rec["predicted"]) == {
        "iterator_age_p99_ms",
        "iterator_age_max_ms",
        "e2e_latency_p50_ms",
        "e2e_latency_p99_ms",
        "utilisation",
        "iterator_age_p99_lo_ms",
        "iterator_age_p99_hi_ms",
        "e2e_latency_p99_lo_ms",
        "e2e_latency_p99_hi_ms",
    }
    assert rec["monthly_cost_usd"] == pytest.approx(sum(rec["cost_breakdown_usd"].values()), abs=0.05)
    assert rec["resharding_path"][0]["from_shards"] == 2
    assert rec["resharding_path"][-1]["to_shards"] == rec["shards"]
    assert any(point["feasible"] and point["shards"] == rec["shards"] for point in rec["cost_curve"])
    assert rec["runner_ups"] and all(
        up["monthly_cost_usd"] >= rec["monthly_cost_usd"] for up in rec["runner_ups"]
    )


@pytest.mark.parametrize("rate", [2_000.0, 30_000.0, 100_000.0])
def test_answer_at_plus_50pct_needs_no_fewer_shards_and_costs_no_less(rate: float) -> None:
    result = plan(SERVICE, LightWorkload(rate, 400), Slo(), FAST_SPACE)
    later = result.recommendation["at_plus_50pct"]
    assert later["feasible"]
    assert later["shards"] >= result.recommendation["shards"]
    assert later["monthly_cost_usd"] >= result.recommendation["monthly_cost_usd"]


def test_a_tight_slo_raises_cost() -> None:
    loose = plan(SERVICE, LightWorkload(10_000, 400), Slo(), FAST_SPACE, include_plus_50pct=False)
    tight = plan(
        SERVICE, LightWorkload(10_000, 400), Slo(e2e_p99_ms=500.0), FAST_SPACE, include_plus_50pct=False
    )
    assert tight.feasible
    assert tight.recommendation["monthly_cost_usd"] >= loose.recommendation["monthly_cost_usd"]
    assert tight.recommendation["predicted"]["e2e_latency_p99_ms"] <= 500.0


def test_impossible_slo_exits_with_the_closest_configuration() -> None:
    result = plan(
        SERVICE, LightWorkload(10_000, 400), Slo(e2e_p99_ms=10.0), FAST_SPACE, include_plus_50pct=False
    )
    assert not result.feasible
    assert result.recommendation["shards"] >= 1
    e2e = result.recommendation["predicted"]["e2e_latency_p99_ms"]
    assert e2e is None or e2e > 10.0


def test_efo_wins_when_many_consumers_share_the_stream_and_the_slo_is_tight() -> None:
    # Given 5 polling consumers, the shared poll alone takes 1 s per fetch
    result = plan(
        SERVICE,
        LightWorkload(5_000, 400, other_consumers=4),
        Slo(e2e_p99_ms=800.0),
        FAST_SPACE,
        include_plus_50pct=False,
    )
    assert result.feasible
    assert result.recommendation["consumer_mode"] == "efo"
    assert result.details["consumer_modes"]["shared"]["feasible"] is False


def test_cloudformation_parameters_use_the_template_names() -> None:
    rec = plan(SERVICE, LightWorkload(1_000, 400), Slo(), FAST_SPACE, include_plus_50pct=False).recommendation
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in cloudformation_parameters(rec)}
    assert set(parameters) == {
        "ShardCount",
        "ParallelizationFactor",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "MemorySize",
        "OutputShardCount",
        "Architecture",
        "StreamMode",
    }
    assert parameters["ShardCount"] == str(rec["shards"])
    assert all(isinstance(value, str) for value in parameters.values())
    assert not math.isnan(rec["monthly_cost_usd"])


def test_an_infeasible_plan_names_what_its_closest_configuration_misses() -> None:
    # Given an account concurrency far below the shards the records limit needs
    space = SearchSpace(simulate_s=40.0, concurrency_limit=20)
    result = plan(
        SERVICE, LightWorkload(50_000, 400), Slo(headroom_factor=1.0), space, include_plus_50pct=False
    )
    # Then the plan is infeasible and says the concurrency limit is what it misses
    assert not result.feasible
    assert "concurrency limit 20" in result.recommendation["binding_constraint"]


def test_plan_reports_how_a_burst_beyond_headroom_drains() -> None:
    # Given a slow handler (3 ms per record), a 30 s burst at 2.5x the rate overloads the hottest lane
    slow = ServiceTimeModel(a_ms=40.0, b_ms_per_record=3.0, memory_mb=1_769)
    result = plan(slow, LightWorkload(50_000, 400), Slo(), FAST_SPACE, include_plus_50pct=False)
    burst = result.details["burst_beyond_headroom"]
    # Then the report gives the iterator age the burst builds and a finite recovery time
    assert burst["burst_rate_factor"] == pytest.approx(2.5)
    assert burst["iterator_age_max_ms"] > 0
    assert burst["recovery_s"] is not None and 0 <= burst["recovery_s"] < 240
