"""The planner with producer-side aggregation (KPL): shard bounds by Kinesis records, PUT payload units per
aggregated record, and details.aggregation's with/without comparison."""

import argparse
import math

import pytest

from capacity import aggregation, costs, quotas
from capacity.errors import CapacityError
from capacity.fit import ServiceTimeModel
from capacity.planner import plan
from capacity.resource_use import from_mapping
from capacity.search import SearchSpace, Slo, Workload, shard_bounds
from cdrcap.commands import plan as plan_command

LIGHT_SINKS = from_mapping(
    {"dynamodb_write_units": 0.1, "dynamodb_hottest_item_writes": 1.0, "measured_batch_records": 10_000},
    "test: light sinks",
)
SERVICE = ServiceTimeModel(a_ms=40.0, b_ms_per_record=0.3, memory_mb=1_769)
FAST_SPACE = SearchSpace(simulate_s=40.0)


def test_aggregation_moves_the_binding_limit_from_records_to_bytes():
    # Given 50,000 CDR/s of 400 B at 2x headroom
    plain = shard_bounds(Workload(50_000, 400), Slo())
    packed = shard_bounds(Workload(50_000, 400, cdrs_per_record=100), Slo())
    # Then without aggregation the records limit needs 100 shards; with 100 CDRs per record, bytes need 39
    assert (plain.by_records, plain.by_bytes) == (100, 39)
    assert (packed.by_records, packed.by_bytes) == (1, 39)
    assert packed.minimum("shared") == 39 <= 45


def test_put_payload_units_are_paid_per_25_kb_of_aggregated_record():
    plain = costs.stream_cost_usd(100, "PROVISIONED", costs.CostInputs(50_000, 400), quotas.US_EAST_1)
    packed = costs.stream_cost_usd(
        100, "PROVISIONED", costs.CostInputs(50_000, 400, cdrs_per_record=100), quotas.US_EAST_1
    )
    # 100 CDRs of 400 B = 40,000 B = 2 units of 25 KB for 500 records/s, instead of 1 unit for each of 50,000
    assert costs.put_payload_units_per_record(400 * 100) == 2
    assert packed["kinesis_put_payload_units"] == pytest.approx(plain["kinesis_put_payload_units"] / 50)
    assert packed["kinesis_shard_hours"] == pytest.approx(plain["kinesis_shard_hours"])


def test_on_demand_bills_each_aggregated_record_by_its_kib():
    plain = costs.stream_cost_usd(0, "ON_DEMAND", costs.CostInputs(50_000, 400), quotas.US_EAST_1)
    packed = costs.stream_cost_usd(
        0, "ON_DEMAND", costs.CostInputs(50_000, 400, cdrs_per_record=100), quotas.US_EAST_1
    )
    # a 400 B record bills as 1 KiB; 100 of them aggregated bill as 40 KiB: 40 % of the unaggregated bill
    assert packed["kinesis_data_in"] == pytest.approx(plain["kinesis_data_in"] * 40 / 100)


@pytest.mark.parametrize(("factor", "message"), [(0.5, "must be >= 1"), (3_000.0, "at most 2,621")])
def test_an_impossible_factor_is_an_input_error(factor, message):
    with pytest.raises(CapacityError, match=message):
        Workload(50_000, 400, cdrs_per_record=factor).validate()


def test_the_kpl_factor_is_one_window_of_a_shard_capped_by_the_record_size():
    assert aggregation.kpl_cdrs_per_record(Workload(50_000, 400), 39) == pytest.approx(50_000 / 39 * 0.1)
    big = Workload(5_000_000, 4_000)
    assert aggregation.kpl_cdrs_per_record(big, 1) == pytest.approx(
        aggregation.KPL_MAX_AGGREGATE_BYTES / 4_000
    )
    assert aggregation.kpl_cdrs_per_record(Workload(10, 400), 4) == 1.0


def test_the_plan_shows_what_aggregation_saves():
    # Given 50,000 CDR/s of 400 B, planned without aggregation
    result = plan(
        SERVICE, Workload(50_000, 400, use=LIGHT_SINKS), Slo(), FAST_SPACE, include_plus_50pct=False
    )
    comparison = result.details["aggregation"]
    none, kpl = comparison["rows"]
    # Then the "none" row is the plan itself, and the KPL needs the bytes bound only, for less money
    assert none["shards"] == result.recommendation["shards"] >= 100
    assert none["monthly_cost_usd"] == pytest.approx(result.recommendation["monthly_cost_usd"], abs=0.01)
    assert kpl["shards"] == kpl["shards_by_bytes"] == 39 and kpl["cdrs_per_record"] > 100
    saved = none["input_stream_usd"] - kpl["input_stream_usd"]
    assert saved > 2_000 and none["monthly_cost_usd"] - kpl["monthly_cost_usd"] == pytest.approx(
        saved, abs=0.02
    )
    assert "39 shards instead of" in comparison["sentence"]


def test_an_aggregated_plan_prices_its_own_records_and_sizes_the_mapping_in_records():
    workload = Workload(50_000, 400, use=LIGHT_SINKS, cdrs_per_record=100)
    result = plan(SERVICE, workload, Slo(), FAST_SPACE, include_plus_50pct=False)
    rec = result.recommendation
    planned = result.details["aggregation"]["rows"][-1]
    assert planned["aggregation"] == "planned" and planned["shards"] == rec["shards"] < 100
    units = (
        50_000
        / 100
        * 2
        * quotas.SECONDS_PER_MONTH
        / 1e6
        * quotas.US_EAST_1.kds_put_payload_units_per_million_usd
    )
    assert rec["cost_breakdown_usd"]["kinesis_put_payload_units"] == pytest.approx(units, abs=0.01)
    assert result.details["aggregation"]["esm_batch_size_kinesis_records"] == math.ceil(
        rec["batch_size"] / 100
    )


def _plan_args(**overrides: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    plan_command.register(parser)
    args = parser.parse_args(["--rate", "50000", "--record-bytes", "400", "--service-time", "40,0.3"])
    for name, value in overrides.items():
        setattr(args, name, value)
    return args


def test_cdrcap_plan_takes_the_factor_from_the_flag_or_the_run(tmp_path):
    _, workload, *_ = plan_command.build_inputs(_plan_args(cdrs_per_record=80.0))
    assert workload.cdrs_per_record == 80.0
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(
        '{"plan_inputs": {"rate_rps": 1000, "record_bytes": 400, "cdrs_per_record": 25.5}}'
    )
    _, from_run, *_ = plan_command.build_inputs(_plan_args(rate=None, record_bytes=None, from_run=run))
    assert from_run.cdrs_per_record == 25.5
    _, default, *_ = plan_command.build_inputs(_plan_args())
    assert default.cdrs_per_record == 1.0
