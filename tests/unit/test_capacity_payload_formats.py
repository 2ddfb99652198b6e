"""The planner's payload dimension (capacity/payload.py): format x aggregation -> bytes, decode cost, the
KPL factor and buffering, the table in details.payload_formats and `auto`'s choice; and the stream sizing
no longer bent by a sink quota no stream configuration fixes."""

import argparse
import json

import pytest

from capacity import payload, quotas
from capacity.errors import CapacityError
from capacity.fit import ServiceTimeModel
from capacity.planner import plan
from capacity.resource_use import DEFAULT as BENCH_USE
from capacity.resource_use import from_mapping
from capacity.search import SearchSpace, Slo, Workload
from cdrcap.cli import main
from cdrcap.commands import plan as plan_command

LIGHT_SINKS = from_mapping(
    {"dynamodb_write_units": 0.1, "dynamodb_hottest_item_writes": 1.0, "measured_batch_records": 10_000},
    "test: light sinks",
)
SERVICE = ServiceTimeModel(a_ms=40.0, b_ms_per_record=0.3, memory_mb=1_769)
# One memory, one architecture, one consumer mode: the same search in a fraction of the time.
SMALL_SPACE = SearchSpace(
    consumer_modes=("shared",), memories_mb=(1_769,), architectures=("arm64",), simulate_s=40.0
)
JSON_400 = payload.PayloadRequest(aggregation="kpl", bytes_measured_on=payload.MeasuredOn("json"))


def _variant(pair: tuple[str, str], request: payload.PayloadRequest = JSON_400) -> payload.Variant:
    return payload.variant(SERVICE, Workload(50_000, 400), Slo(), SMALL_SPACE, pair, request)


def test_kpl_packs_a_shard_s_buffering_time_of_cdrs_and_waits_that_long():
    # Given 50,000 CDR/s of 400 B JSON with the KPL's default 100 ms buffering
    kpl = _variant(("json", "kpl"))
    overhead = payload.DEFAULT_COSTS.kpl_overhead_bytes_per_cdr
    # Then each CDR carries the aggregate's framing, an aggregate holds one shard's 100 ms, and waits 100 ms
    assert kpl.workload.record_bytes == pytest.approx(400 + overhead)
    shards = kpl.workload.rate_rps / (kpl.workload.cdrs_per_record / 0.1)
    assert shards == pytest.approx(40, abs=0.5)  # the bytes bound of 50,000 x 2 x 415 B
    assert kpl.workload.producer_wait_ms == quotas.KPL_RECORD_MAX_BUFFERED_TIME_MS
    plain = _variant(("json", "none"))
    assert (plain.workload.cdrs_per_record, plain.workload.producer_wait_ms) == (1.0, 0.0)


def test_a_longer_buffering_packs_more_until_the_record_is_full():
    longer = _variant(("json", "kpl"), payload.PayloadRequest(aggregation="kpl", max_buffered_ms=10_000))
    record_bytes = longer.workload.record_bytes
    assert longer.workload.cdrs_per_record == pytest.approx(
        (quotas.MAX_RECORD_BYTES - quotas.KIB) / record_bytes
    )


def test_measured_bytes_are_kept_for_their_format_and_scaled_to_the_others():
    formats = payload.DEFAULT_COSTS.formats
    csv = _variant(("csv", "none"))
    assert csv.workload.record_bytes == pytest.approx(
        400 * formats["csv"].bytes_per_cdr / formats["json"].bytes_per_cdr
    )
    # Without a measurement each format has the benchmark's own bytes
    unmeasured = _variant(("avro", "none"), payload.PayloadRequest(aggregation="kpl"))
    assert unmeasured.workload.record_bytes == formats["avro"].bytes_per_cdr
    # A run measured with KPL framing: the framing comes off before scaling
    aggregated_run = payload.PayloadRequest(bytes_measured_on=payload.MeasuredOn("json", aggregated=True))
    plain = _variant(("json", "none"), aggregated_run)
    assert plain.workload.record_bytes == pytest.approx(
        400 - payload.DEFAULT_COSTS.kpl_overhead_bytes_per_cdr
    )


def test_the_decode_cost_of_each_format_moves_the_service_time_per_cdr():
    costs = payload.DEFAULT_COSTS
    avro_kpl = _variant(("avro", "kpl"))
    expected_us = (
        costs.formats["avro"].decode_us_per_cdr
        + costs.kpl_deaggregate_us_per_cdr
        - costs.formats["json"].decode_us_per_cdr
    )
    assert avro_kpl.service.b_ms_per_record == pytest.approx(0.3 + expected_us / 1000)
    assert _variant(("json", "none")).service == SERVICE  # measured on JSON without aggregation


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            payload.PayloadRequest(record_format="protobuf"),
            "record format 'protobuf' unknown; use one of json",
        ),
        (payload.PayloadRequest(aggregation="kcl"), "aggregation 'kcl' unknown; use one of none, kpl, auto"),
        (payload.PayloadRequest(aggregation="kpl", max_buffered_ms=0), "max buffered time 0 ms"),
        (payload.PayloadRequest(aggregation="none", cdrs_per_record=50), "aggregation 'none'"),
    ],
)
def test_a_bad_choice_names_the_value_and_the_choices(request_, message):
    with pytest.raises(CapacityError, match=message):
        request_.check()


def test_kpl_plans_by_bytes_prices_put_units_per_aggregate_and_adds_the_buffering_to_e2e():
    # Given the issue's load with the KPL
    workload = Workload(50_000, 400, use=LIGHT_SINKS)
    result = payload.plan_payload(SERVICE, workload, Slo(), SMALL_SPACE, quotas.US_EAST_1, JSON_400)
    rows = {(r["record_format"], r["aggregation"]): r for r in result.details["payload_formats"]["rows"]}
    kpl, none = rows[("json", "kpl")], rows[("json", "none")]
    # Then the plan is the JSON x KPL row: bound by bytes (40 shards), at most 45, 3 PUT units per aggregate
    assert kpl["chosen"] and result.recommendation["shards"] == kpl["shards"]
    assert kpl["shards_by_records"] == 1 and kpl["shards_by_bytes"] == 40 and kpl["shards"] <= 45
    assert kpl["put_payload_units_per_record"] == 3
    units_usd = (
        50_000 / kpl["cdrs_per_record"] * 3 * quotas.SECONDS_PER_MONTH / 1e6
    ) * quotas.US_EAST_1.kds_put_payload_units_per_million_usd
    assert result.recommendation["cost_breakdown_usd"]["kinesis_put_payload_units"] == pytest.approx(
        units_usd, rel=1e-3
    )
    assert none["shards"] >= 100 and none["input_stream_usd"] > 4 * kpl["input_stream_usd"]
    # And the e2e p99 includes the producer's 100 ms
    assert result.recommendation["predicted"]["e2e_latency_p99_ms"] == kpl["e2e_p99_ms"]
    assert "100 ms of producer buffering" in " ".join(result.details["assumptions"])
    assert len(rows) == 6 and result.details["payload_formats"]["sentence"].startswith("as asked, json x kpl")


def test_auto_picks_the_cheapest_pair_meeting_the_slo_and_says_why():
    workload = Workload(50_000, 400, use=LIGHT_SINKS)
    request = payload.PayloadRequest(aggregation="auto")
    result = payload.plan_payload(SERVICE, workload, Slo(), SMALL_SPACE, quotas.US_EAST_1, request)
    formats = result.details["payload_formats"]
    meeting = [r for r in formats["rows"] if r["slo_met"]]
    cheapest = min(meeting, key=lambda r: r["monthly_cost_usd"])
    assert cheapest["chosen"] and cheapest["aggregation"] == "kpl"
    assert formats["chosen"] == {"record_format": cheapest["record_format"], "aggregation": "kpl"}
    assert formats["sentence"].startswith(f"auto chose {cheapest['record_format']} x kpl")
    assert (
        "the cheapest of the 6 format x aggregation pairs meeting e2e p99 <= 5,000 ms" in formats["sentence"]
    )


def test_auto_with_a_format_only_chooses_its_aggregation():
    workload = Workload(50_000, 400, use=LIGHT_SINKS)
    request = payload.PayloadRequest(record_format="json", aggregation="auto")
    result = payload.plan_payload(SERVICE, workload, Slo(), SMALL_SPACE, quotas.US_EAST_1, request)
    assert result.details["payload_formats"]["chosen"]["record_format"] == "json"
    assert "the json pairs" in result.details["payload_formats"]["sentence"]


def test_auto_prefers_no_aggregation_when_the_buffering_breaks_the_slo():
    # Given an SLO the 100 ms buffering alone breaks at this low rate (the lanes are fast)
    workload = Workload(2_000, 400, use=LIGHT_SINKS)
    slo = Slo(e2e_p99_ms=600.0)
    request = payload.PayloadRequest(record_format="json", aggregation="auto", max_buffered_ms=2_000)
    result = payload.plan_payload(SERVICE, workload, slo, SMALL_SPACE, quotas.US_EAST_1, request)
    rows = {
        r["aggregation"]: r for r in result.details["payload_formats"]["rows"] if r["record_format"] == "json"
    }
    assert not rows["kpl"]["slo_met"] and rows["none"]["slo_met"] and rows["none"]["chosen"]


def test_a_hot_item_no_configuration_fixes_does_not_size_the_stream():
    # Given the benchmark's resource use: at 50,000 CDR/s its hottest DynamoDB item needs ~2,000 WCU/s
    # whatever the batching, over the 1,000 WCU/s a partition takes
    workload = Workload(50_000, 415, cdrs_per_record=125, use=BENCH_USE, producer_wait_ms=100)
    result = plan(SERVICE, workload, Slo(), SMALL_SPACE, include_plus_50pct=False)
    # Then the SLO is met by a stream sized by the stream, and the quota check fails the plan with its remedy
    assert result.details["slo_met"] and not result.feasible
    assert result.recommendation["shards"] <= 45
    hot = next(c for c in result.details["quota_checks"] if "hottest aggregate item" in c["quota"])
    assert not hot["ok"] and "once per batch" in hot["remedy"]
    records = next(c for c in result.details["quota_checks"] if c["quota"].startswith("input: records/s"))
    assert records["ok"] and records["required"] < 50  # Kinesis records, not CDRs


def test_cli_aggregation_kpl_meets_the_issue_bound(capsys):
    code = main(
        [
            "plan",
            "--rate",
            "50000",
            "--record-bytes",
            "400",
            "--service-time",
            "40,0.3",
            "--aggregation",
            "kpl",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    # exit 1: the benchmark's DynamoDB use exceeds the table quota, which the plan says is not the SLO
    assert code == 1 and "the SLO is met, but a sink exceeds its default quota" in captured.err
    assert result["recommendation"]["shards"] <= 45
    assert result["details"]["payload_formats"]["chosen"] == {"record_format": "json", "aggregation": "kpl"}


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--aggregation", "kcl"], "aggregation 'kcl' unknown"),
        (["--record-format", "protobuf"], "record format 'protobuf' unknown"),
        (["--aggregation", "kpl", "--max-buffered-ms", "-1"], "max buffered time -1 ms"),
    ],
)
def test_cli_bad_payload_flags_exit_2_naming_the_value(flags, named, capsys):
    assert main(["plan", "--rate", "1000", "--service-time", "40,0.3", *flags]) == 2
    assert named in capsys.readouterr().err


def _args(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    plan_command.register(parser)
    return parser.parse_args(flags)


def test_a_run_s_measured_bytes_and_service_time_are_taken_as_its_own_format_and_aggregation(tmp_path):
    # Given a KPL run of CSV CDRs
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(
        json.dumps(
            {
                "plan_inputs": {"rate_rps": 1000, "record_bytes": 230, "cdrs_per_record": 20},
                "profile": {"record_formats": {"csv_v2": 0.8, "json_v2": 0.2}},
            }
        )
    )
    request = plan_command.payload_request(_args("--from", str(run), "--aggregation", "auto"))
    # Then its bytes and its service time were measured on aggregated CSV
    assert request is not None
    assert (
        request.bytes_measured_on == request.service_measured_on == payload.MeasuredOn("csv", aggregated=True)
    )
    # And flags are taken as measured on the format asked (json unless given)
    flags = plan_command.payload_request(
        _args("--record-bytes", "300", "--service-time", "40,0.3", "--aggregation", "kpl")
    )
    assert flags is not None and flags.bytes_measured_on == flags.service_measured_on == payload.MeasuredOn(
        "json"
    )
    # And without either payload flag the plan is the one without the payload dimension
    assert plan_command.payload_request(_args("--rate", "100")) is None


def test_cli_auto_prints_the_table_and_its_choice(capsys):
    flags = ["--rate", "5000", "--record-bytes", "400", "--service-time", "40,0.3", "--aggregation", "auto"]
    main(["plan", *flags, "--consumer-mode", "shared"])
    out = capsys.readouterr().out
    assert "Payload format x aggregation" in out and "avro x kpl" in out
    assert "Payload: auto chose" in out and " * " in out
