"""The whole pipeline planned: every sink sized, priced and checked against its quota (capacity/sinks.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from capacity import quotas, skew
from capacity.errors import CapacityError
from capacity.fit import ServiceTimeModel
from capacity.planner import plan
from capacity.resource_use import (
    DEFAULT,
    EXACTLY_ONCE_READ_UNITS_PER_CDR,
    EXACTLY_ONCE_WRITE_UNITS_PER_CDR,
    KEYS,
    design_comparison,
    emf_totals,
    for_design,
    from_mapping,
    load,
)
from capacity.search import SearchSpace, Slo, Workload, hot_partition_write_units_per_s, output_shards

SERVICE = ServiceTimeModel(a_ms=40.0, b_ms_per_record=0.3, memory_mb=1_769)
FAST_SPACE = SearchSpace(simulate_s=40.0)
ROOT = Path(__file__).resolve().parents[2]
PLAN = (sys.executable, "-m", "cdrcap", "plan")


def test_at_50k_cdrs_per_second_the_measured_dynamodb_use_breaks_the_table_quota_and_says_the_fix() -> None:
    # Given 50,000 CDR/s of 400 B and the benchmark's measured use (~5.5 write units per CDR)
    result = plan(SERVICE, Workload(50_000, 400), Slo(), FAST_SPACE, include_plus_50pct=False)
    checks = {check["quota"]: check for check in result.details["quota_checks"]}
    table = checks["table write units/s (on-demand table quota)"]
    # Then the plan is not feasible, names the DynamoDB table quota, by how much, and the remedy
    assert result.feasible is False
    assert table["ok"] is False and table["limit"] == quotas.DDB_TABLE_WRITE_UNITS_PER_S
    assert table["required"] == pytest.approx(50_000 * 2.0 * DEFAULT.dynamodb_write_units, rel=1e-3)
    assert "quota increase" in table["remedy"]
    assert "table write units/s" in result.recommendation["binding_constraint"]
    # And DynamoDB is priced at the measured units, not one write per invocation
    ddb = result.recommendation["cost_breakdown_usd"]["dynamodb_writes"]
    expected = 50_000 * quotas.SECONDS_PER_MONTH * DEFAULT.dynamodb_write_units / 1e6 * 0.625
    assert ddb == pytest.approx(expected, rel=1e-3)


def test_every_sink_has_a_quota_check_with_its_source() -> None:
    result = plan(SERVICE, Workload(500, 400), Slo(), FAST_SPACE, include_plus_50pct=False)
    services = {check["service"] for check in result.details["quota_checks"]}
    assert services == {"kinesis", "lambda", "dynamodb", "s3", "eventbridge", "sqs"}
    for check in result.details["quota_checks"]:
        assert set(check) >= {"service", "quota", "required", "limit", "ok", "source"}
        assert check["source"].startswith("https://")
    assert result.feasible


def test_the_output_stream_is_sized_for_the_enriched_records_bytes() -> None:
    # Given enriched records of 2,000 B (the output is larger than the 400 B input)
    use = from_mapping({"output_bytes": 2_000.0, "output_records": 1.0}, "test")
    workload = Workload(10_000, 400, use=use)
    # Then bytes bind: 10,000 x 2 (headroom) x 2,000 B / 1 MiB = 38.1 -> 39 shards
    assert output_shards(workload, Slo()) == 39
    result = plan(SERVICE, workload, Slo(), FAST_SPACE, include_plus_50pct=False)
    assert result.recommendation["output_shards"] == 39
    assert result.recommendation["cost_breakdown_usd"]["kinesis_output_shard_hours"] == pytest.approx(
        39 * quotas.Prices().kds_shard_hour_usd * quotas.HOURS_PER_MONTH, rel=1e-3
    )


def test_every_priced_item_is_in_the_breakdown() -> None:
    rec = plan(SERVICE, Workload(1_000, 400), Slo(), FAST_SPACE, include_plus_50pct=False).recommendation
    assert set(rec["cost_breakdown_usd"]) >= {
        "kinesis_shard_hours",
        "kinesis_output_shard_hours",
        "kinesis_output_put_payload_units",
        "lambda_requests",
        "lambda_duration",
        "dynamodb_writes",
        "s3_puts",
        "s3_storage",
        "sqs_dlq",
        "eventbridge_alerts",
        "cloudwatch_logs",
        "cloudwatch_metrics",
        "kms_requests",
    }


def test_provisioned_dynamodb_is_shown_when_cheaper_at_a_steady_load() -> None:
    modes = plan(SERVICE, Workload(1_000, 400), Slo(), FAST_SPACE, include_plus_50pct=False).details[
        "dynamodb_capacity_modes"
    ]
    assert modes["cheaper"] == "provisioned"
    assert modes["provisioned_usd"] < modes["on_demand_usd"]


def test_the_hot_aggregate_item_is_checked_against_one_partition() -> None:
    # Given a handler that writes the hottest item 50 times per 500-record batch
    use = from_mapping({"dynamodb_hottest_item_writes": 50.0, "measured_batch_records": 500.0}, "test")
    result = plan(SERVICE, Workload(5_000, 400, use=use), Slo(), FAST_SPACE, include_plus_50pct=False)
    hot = next(c for c in result.details["quota_checks"] if "hottest aggregate item" in c["quota"])
    # Then 5,000 x 50/500 x 2 units x 2 headroom = 2,000 WCU/s on one partition: over the 1,000 limit
    assert hot["required"] == pytest.approx(2_000.0, rel=0.05)
    assert hot["ok"] is False
    assert result.feasible is False


def test_under_ledger_the_hot_partition_is_the_hottest_shards_claims_and_deltas() -> None:
    # Given the same handler (its hottest aggregate item over one partition under per_record), planned
    # for the ledger design, where no aggregate item is written, and a key that carries 4 % of the traffic
    use = from_mapping({"dynamodb_hottest_item_writes": 50.0, "measured_batch_records": 500.0}, "test")
    keys = skew.hot_key(0.04)
    workload = Workload(20_000, 400, keys=keys, use=use, exactly_once="ledger")
    result = plan(SERVICE, workload, Slo(), FAST_SPACE, include_plus_50pct=False)
    checks = {c["quota"]: c for c in result.details["quota_checks"] if c["service"] == "dynamodb"}
    # Then the check is on the hottest shard's ledger keys: its CDRs x ledger's write units per CDR x headroom
    hot = checks["write units/s on the hottest shard's claims and delta keys (ledger, one partition)"]
    shards = result.recommendation["shards"]
    expected = 20_000 * keys.max_shard_share(shards) * EXACTLY_ONCE_WRITE_UNITS_PER_CDR["ledger"] * 2
    assert hot["required"] == pytest.approx(expected, rel=1e-3) and hot["ok"]
    assert not any("aggregate item" in quota for quota in checks)
    # While under per_record the hot aggregate item fails (20,000 x 50/500 x 2 units x 2 headroom = 8,000)
    per_record = plan(
        SERVICE, replace(workload, exactly_once="per_record"), Slo(), FAST_SPACE, include_plus_50pct=False
    )
    item = next(c for c in per_record.details["quota_checks"] if "hottest aggregate item" in c["quota"])
    assert not item["ok"]


def test_the_ledger_hot_partition_falls_with_more_shards_and_is_not_changed_by_batching() -> None:
    workload = Workload(50_000, 400, exactly_once="ledger")
    one, ten = (
        hot_partition_write_units_per_s(10.0, 1.0, workload),
        hot_partition_write_units_per_s(1_000.0, 0.1, workload),
    )
    assert one == pytest.approx(50_000 * EXACTLY_ONCE_WRITE_UNITS_PER_CDR["ledger"]) and ten == pytest.approx(
        one / 10
    )


def test_an_unknown_exactly_once_design_is_a_capacity_error_naming_it() -> None:
    with pytest.raises(CapacityError, match=r"'exact'.*per_record, folded, ledger"):
        Workload(1_000, 400, exactly_once="exact").validate()


def test_cdrcap_plan_takes_the_design_and_checks_its_hot_partition() -> None:
    done = subprocess.run(
        [*PLAN, "--rate", "2000", "--service-time", "40,0.3", "--exactly-once", "ledger", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    details = json.loads(done.stdout)["details"]
    assert any("claims and delta keys" in c["quota"] for c in details["quota_checks"]), done.stderr
    # And it prices the benchmark's use with ledger's aggregate units in place of per_record's
    use = details["resource_use_per_cdr"]
    assert use["dynamodb_write_units"] == pytest.approx(EXACTLY_ONCE_WRITE_UNITS_PER_CDR["ledger"], abs=0.01)
    assert "with ledger's aggregate write and read units" in use["source"]


def test_swapping_the_design_keeps_what_the_fraud_state_writes() -> None:
    # Given a use measured under per_record with the fraud rules on (9.70 WRU per CDR, bench_resource_use)
    measured = replace(DEFAULT, dynamodb_write_units=9.70, dynamodb_read_units=0.0098)
    ledger_use = for_design(measured, "per_record", "ledger")
    fraud_writes = 9.70 - EXACTLY_ONCE_WRITE_UNITS_PER_CDR["per_record"]
    assert ledger_use.dynamodb_write_units == pytest.approx(
        fraud_writes + EXACTLY_ONCE_WRITE_UNITS_PER_CDR["ledger"]
    )
    assert ledger_use.dynamodb_read_units == pytest.approx(0.0098 + EXACTLY_ONCE_READ_UNITS_PER_CDR["ledger"])
    # And back: the comparison of a use measured under ledger finds per_record's units where they were
    assert for_design(ledger_use, "ledger", "per_record").dynamodb_write_units == pytest.approx(9.70)
    rows = {r["design"]: r for r in design_comparison(ledger_use, 1_000, 1.25, measured_design="ledger")}
    assert rows["per_record"]["dynamodb_write_units_per_cdr"] == pytest.approx(9.70, abs=1e-3)
    assert for_design(measured, "per_record", "per_record") is measured


def test_a_resource_use_file_missing_a_key_names_it(tmp_path: Path) -> None:
    path = tmp_path / "use.toml"
    path.write_text("\n".join(f"{key} = 1.0" for key in KEYS if key != "s3_bytes") + "\n")
    with pytest.raises(CapacityError, match="missing s3_bytes"):
        load(path)


def test_a_resource_use_file_with_a_negative_value_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "use.json"
    path.write_text(json.dumps({key: (-2.0 if key == "dynamodb_write_units" else 1.0) for key in KEYS}))
    with pytest.raises(CapacityError, match=r"dynamodb_write_units=-2\.0 must be >= 0"):
        load(path)


def test_cdrcap_plan_exits_2_naming_the_bad_key_of_a_resource_use_file(tmp_path: Path) -> None:
    path = tmp_path / "use.json"
    path.write_text(json.dumps({key: ("many" if key == "log_bytes" else 1.0) for key in KEYS}))
    done = subprocess.run(
        [*PLAN, "--rate", "100", "--service-time", "40,0.3", "--resource-use", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    assert "log_bytes='many'" in done.stderr


def test_a_resource_use_file_prices_the_plan(tmp_path: Path) -> None:
    path = tmp_path / "use.toml"
    values = {key: 0.0 for key in KEYS} | {"dynamodb_write_units": 1.0, "dynamodb_units_per_item_write": 1.0}
    path.write_text("[resource_use]\n" + "".join(f"{key} = {value}\n" for key, value in values.items()))
    use = load(path)
    result = plan(SERVICE, Workload(1_000, 400, use=use), Slo(), FAST_SPACE, include_plus_50pct=False)
    assert result.details["resource_use_per_cdr"]["dynamodb_write_units"] == 1.0
    assert result.details["resource_use_per_cdr"]["source"] == f"file {path}"


def test_the_plan_compares_the_exactly_once_designs_keeping_the_fraud_state_writes() -> None:
    # Given a run that measured 9.7 write units per CDR with the deployed design (5.557 of them aggregates)
    use = from_mapping({"dynamodb_write_units": 9.7}, "test")
    result = plan(SERVICE, Workload(1_000, 400, use=use), Slo(), FAST_SPACE, include_plus_50pct=False)
    designs = {d["design"]: d for d in result.details["exactly_once_designs"]}
    # Then each design keeps the other 4.143 units and swaps the aggregates' share
    assert designs["per_record"]["dynamodb_write_units_per_cdr"] == pytest.approx(9.7)
    assert designs["folded"]["dynamodb_write_units_per_cdr"] == pytest.approx(9.7 - 5.557 + 3.605)
    assert (
        designs["ledger"]["dynamodb_usd_per_month"]
        < designs["folded"]["dynamodb_usd_per_month"]
        < designs["per_record"]["dynamodb_usd_per_month"]
    )
    # And ledger's claims reads are priced with its writes
    assert designs["ledger"]["dynamodb_write_units_per_cdr"] == pytest.approx(9.7 - 5.557 + 0.071)
    assert designs["ledger"]["dynamodb_read_units_per_cdr_added"] > 0


def test_emf_totals_count_an_invocation_from_its_timestamp_with_its_own_log_lines() -> None:
    # Given a log: an invocation before the window, then one inside it followed by its JSON log line
    def emf_line(timestamp_ms: int, units: float) -> str:
        directive = {"Metrics": [{"Name": "AwsDynamoDBWriteUnits"}]}
        document = {"_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive]}}
        return json.dumps({**document, "AwsDynamoDBWriteUnits": units}) + "\n"

    before, inside, log_line = emf_line(1_000, 7.0), emf_line(5_000, 2.0), '{"level": "INFO"}\n'
    # When it is summed from 3,000 ms on
    totals, documents, size, names = emf_totals([before, log_line, inside, log_line], start_ms=3_000)
    # Then only the second invocation counts, its log line's bytes with it
    assert totals == {"AwsDynamoDBWriteUnits": 2.0}
    assert (documents, size, names) == (1, len(inside) + len(log_line), 1)
