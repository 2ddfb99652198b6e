"""The plan's consumer-mode dimension: delivery per mode, shared-read contention, EFO price, verdict."""

from __future__ import annotations

import pytest

from capacity import costs, quotas
from capacity.fit import ServiceTimeModel
from capacity.model import ReadPath
from capacity.planner import plan
from capacity.search import SearchSpace, Slo, Workload

SERVICE = ServiceTimeModel(a_ms=5.0, b_ms_per_record=0.05, memory_mb=1_769)
SPACE = SearchSpace(simulate_s=20.0, finalists=3)


def modes(consumers: int, slo_ms: float, rate_rps: float = 200.0) -> dict[str, object]:
    workload = Workload(rate_rps, 400, other_consumers=consumers - 1)
    result = plan(SERVICE, workload, Slo(e2e_p99_ms=slo_ms), SPACE, include_plus_50pct=False)
    comparison: dict[str, object] = result.details["consumer_modes"]
    return comparison


@pytest.mark.parametrize(("consumers", "expected_ms"), [(1, 200.0), (5, 1_000.0)])
def test_shared_delivery_follows_the_poll_cadence_as_aws_states(consumers: int, expected_ms: float) -> None:
    # N consumers share 5 GetRecords/s per shard: a fetch every N x 200 ms, AWS's ~200 ms / ~1 s
    assert ReadPath.shared(consumers).typical_delivery_ms == pytest.approx(expected_ms)
    assert expected_ms == consumers * quotas.SHARED_PROPAGATION_MS_PER_CONSUMER


def test_efo_delivery_is_the_push_delay() -> None:
    assert ReadPath.efo().typical_delivery_ms == pytest.approx(quotas.EFO_PROPAGATION_MS)


def test_other_polling_consumers_raise_the_shared_modes_best_p99() -> None:
    alone, crowded = modes(1, 5_000.0), modes(5, 5_000.0)
    shared_alone, shared_crowded = alone["shared"], crowded["shared"]
    assert isinstance(shared_alone, dict) and isinstance(shared_crowded, dict)
    assert shared_crowded["best_e2e_latency_p99_ms"] >= shared_alone["best_e2e_latency_p99_ms"] + 700.0
    assert crowded["efo"] == alone["efo"] | {"polling_consumers": 4}  # EFO reads are not shared


def test_efo_costs_consumer_shard_hours_and_data() -> None:
    inputs = costs.CostInputs(rate_rps=1_000.0, record_bytes=1_000.0)
    prices = quotas.US_EAST_1
    efo = costs.efo_cost_usd(4, True, inputs, prices)
    hours = 4 * prices.kds_efo_consumer_shard_hour_usd * quotas.HOURS_PER_MONTH
    assert float(efo["kinesis_efo_consumer_shard_hours"]) == pytest.approx(hours)
    assert float(efo["kinesis_efo_data"]) > 0


def test_one_consumer_and_a_loose_slo_shared_wins_by_efos_price() -> None:
    comparison = modes(1, 1_000.0)
    shared, efo = comparison["shared"], comparison["efo"]
    assert isinstance(shared, dict) and isinstance(efo, dict)
    assert comparison["winner"] == "shared"
    assert comparison["saving_usd_per_month"] == pytest.approx(
        efo["monthly_cost_usd"] - shared["monthly_cost_usd"], abs=0.01
    )
    sentence = str(comparison["sentence"])
    assert "shared polling wins" in sentence
    assert f"{shared['monthly_cost_usd']:,.2f} vs {efo['monthly_cost_usd']:,.2f} USD/month" in sentence
    assert f"p99 {shared['e2e_latency_p99_ms']:,.0f} vs {efo['e2e_latency_p99_ms']:,.0f} ms" in sentence


def test_five_consumers_and_a_tight_slo_only_efo_meets_it() -> None:
    comparison = modes(5, 800.0)
    shared = comparison["shared"]
    assert isinstance(shared, dict)
    assert comparison["winner"] == "efo"
    assert shared["feasible"] is False and any("e2e p99" in miss for miss in shared["missed"])
    assert "only enhanced fan-out meets the SLO" in str(comparison["sentence"])
