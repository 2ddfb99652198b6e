"""KPL aggregation in the load generator: packing by shard, the size cap, the buffering window, and the
producer's per-CDR accounting beside its per-Kinesis-record counts."""

import bisect
from pathlib import Path

import pytest

from capacity.quotas import MAX_RECORD_BYTES
from loadgen.errors import LoadConfigError
from loadgen.keys import even_shards, hash_key
from loadgen.kpl import MAX_AGGREGATE_BYTES, KplPacker, check_aggregation
from loadgen.measure import LoadRecorder
from loadgen.pacing import Pacer
from loadgen.profiles import RateProfile
from loadgen.synth import CdrSynthesizer, SynthConfig
from pipeline.kpl import deaggregate
from tests.support.kinesis_stub import ThrottlingKinesis, stub_producer

SHARDS = even_shards(4)


def _shard(key: str) -> int:
    return bisect.bisect_right([s.starting_hash for s in SHARDS], hash_key(key)) - 1


def _cdrs(n: int) -> tuple[list[bytes], list[str]]:
    batch = CdrSynthesizer(SynthConfig(subscribers=5_000), seed=3).batch_with_keys(n)
    return batch.payloads, batch.partition_keys


def test_cdrs_of_one_shard_share_aggregates_routed_to_that_shard():
    # Given 2,000 CDRs keyed by subscriber over a 4-shard stream
    payloads, keys = _cdrs(2_000)
    # When they are packed
    packed = KplPacker(SHARDS).pack(payloads, keys)
    # Then one aggregate per shard, each routed by a key of its shard, holding only that shard's CDRs
    assert len(packed.payloads) == 4 and sum(packed.cdrs) == 2_000
    for aggregate, key, count in zip(packed.payloads, packed.partition_keys, packed.cdrs, strict=True):
        subs = deaggregate(aggregate)
        assert len(subs) == count
        assert {_shard(sub.partition_key) for sub in subs} == {_shard(key)}
    # And every CDR comes out exactly once, in its original order within its shard
    out = [(s.partition_key, s.data) for a in packed.payloads for s in deaggregate(a)]
    assert sorted(out) == sorted(zip(keys, payloads, strict=True))
    for shard in range(4):
        mine = [pair for pair in zip(keys, payloads, strict=True) if _shard(pair[0]) == shard]
        assert [pair for pair in out if _shard(pair[0]) == shard] == mine


def test_without_a_shard_map_only_cdrs_of_one_key_share_an_aggregate():
    packed = KplPacker(None).pack([b"a", b"b", b"c"], ["k1", "k2", "k1"])
    assert packed.cdrs == [2, 1] and packed.partition_keys == ["k1", "k2"]


@pytest.mark.parametrize("cap", [16 * 1024, 64 * 1024, MAX_AGGREGATE_BYTES])
def test_aggregates_fill_up_to_the_size_cap_and_never_past_it(cap):
    # Given 3 MiB of 10 KB CDRs bound for one shard (one key; or 7 keys on a one-shard stream)
    payloads = [bytes([i % 251]) * 10_000 for i in range(300)]
    keys = [f"k{i % 7}" for i in range(300)]
    # When packed under the cap
    packed = KplPacker(None, cap).pack(payloads, ["same"] * 300)
    packed_keys = KplPacker(even_shards(1), cap).pack(payloads, keys)
    for result in (packed, packed_keys):
        sizes = [len(a) for a in result.payloads]
        # Then each is within the cap and the record limit, and none could have taken the next CDR
        assert max(sizes) <= cap and max(sizes) + 256 <= MAX_RECORD_BYTES
        assert all(size + 10_000 > cap for size in sizes[:-1])
        assert sum(result.cdrs) == 300


def test_the_1_mib_cap_holds_exactly_at_the_limit():
    # Given CDRs sized so an aggregate lands within a few bytes of the cap
    payloads = [b"x" * 99_990] * 30
    packed = KplPacker(None).pack(payloads, ["k"] * 30)
    assert all(len(a) <= MAX_AGGREGATE_BYTES for a in packed.payloads)
    assert packed.cdrs[0] == 10  # 10 x ~100 KB fit in 1 MiB - 1 KiB, the 11th does not


def test_a_buffered_pacer_sends_one_window_of_cdrs_flushed_at_its_end():
    # Given 1,000 CDR/s over 2 users with 100 ms of buffering
    pacer = Pacer(RateProfile("steady", 1_000, 10), 2, start_epoch_s=0.0, max_batch=50_000, buffered_s=0.1)
    first = pacer.next_send(0.0)
    second = pacer.next_send(0.0)
    # Then each send holds the 50 CDRs one user receives in 100 ms and is due at the window's end
    assert first is not None and second is not None
    assert first.records == 50 and first.window_s == pytest.approx(0.1)
    assert second.intended_epoch_s == pytest.approx(first.intended_epoch_s + first.window_s)


def test_an_unbuffered_pacer_has_no_window():
    send = Pacer(RateProfile("steady", 1_000, 10), 2, start_epoch_s=0.0, max_batch=500).next_send(0.0)
    assert send is not None and send.window_s == 0.0


def test_accounting_counts_cdrs_and_kinesis_records_separately_under_throttling():
    # Given 3,000 CDRs packed into aggregates of 50, and a stream that throttles 30 % of records
    payloads, keys = _cdrs(3_000)
    stub = ThrottlingKinesis(0.3)
    producer = stub_producer(stub, attempts=20)
    counts = [50] * 60
    aggregates = [
        KplPacker(None).pack(payloads[i : i + 50], ["agg"] * 50).payloads[0] for i in range(0, 3_000, 50)
    ]
    # When they are put
    outcome = producer.put(aggregates, [keys[i] for i in range(0, 3_000, 50)], cdrs=counts)
    # Then CDR counts are weighted by the aggregate sizes, Kinesis record counts are not
    assert outcome.offered == outcome.accepted == 3_000 and outcome.dropped == 0
    assert outcome.kinesis_records_offered == outcome.kinesis_records_accepted == 60
    assert outcome.throttled == 50 * outcome.kinesis_records_throttled > 0
    assert outcome.retried == outcome.throttled
    # And the stream holds every CDR exactly once
    stored = [sub.data for record in stub.stored for sub in deaggregate(record)]
    assert sorted(stored) == sorted(payloads)


def test_dropped_aggregates_drop_all_their_cdrs():
    stub = ThrottlingKinesis(1.0)
    outcome = stub_producer(stub, attempts=2).put([b"a", b"b"], ["k1", "k2"], cdrs=[7, 3])
    assert outcome.offered == outcome.dropped == 10 and outcome.accepted == 0
    assert outcome.kinesis_records_throttled == 4 and outcome.throttled == 20


def test_a_cdr_count_per_record_is_required_for_each_record():
    with pytest.raises(ValueError, match="2 counts for 3 records"):
        stub_producer(ThrottlingKinesis(0.0)).put([b"a", b"b", b"c"], ["k"] * 3, cdrs=[1, 2])


def test_the_recorder_reports_cdrs_per_kinesis_record(tmp_path):
    stub = ThrottlingKinesis(0.0)
    outcome = stub_producer(stub).put([b"x" * 400, b"y" * 400], ["k1", "k2"], cdrs=[40, 60])
    recorder = LoadRecorder()
    recorder.record(5.0, outcome, started_epoch_s=5.0, finished_epoch_s=5.01, target_rps=100, step=0)
    seconds, _ = recorder.write(tmp_path)
    row = recorder.rows()[0]
    assert row["accepted"] == 100 and row["kinesis_records_accepted"] == 2
    assert recorder.summary()["cdrs_per_kinesis_record"] == 50.0
    assert seconds.read_text().splitlines()[1].endswith(",2,2,0")


@pytest.mark.parametrize(
    ("aggregation", "buffered_ms", "max_bytes", "message"),
    [
        ("zstd", 100.0, MAX_AGGREGATE_BYTES, "aggregation 'zstd' unknown"),
        ("kpl", 0.0, MAX_AGGREGATE_BYTES, "max_buffered_ms 0"),
        ("kpl", 100.0, MAX_RECORD_BYTES, "aggregation max bytes 1048576"),
    ],
)
def test_bad_aggregation_settings_name_the_value_and_the_range(aggregation, buffered_ms, max_bytes, message):
    with pytest.raises(LoadConfigError, match=message):
        check_aggregation(aggregation, buffered_ms, max_bytes)


def test_a_run_profile_carries_the_aggregation_to_the_load():
    from cdrcap.config import parse_config
    from cdrcap.stages import load_arguments

    config = parse_config(
        {"profiles": {"agg": {"steps": [100], "aggregation": "kpl", "max_buffered_ms": 50}}},
        path="cdrcap.toml",
        source=None,
    )
    profile = config.profile("agg")
    arguments = load_arguments(profile, Path("runs/x"))
    assert (arguments["aggregation"], arguments["max_buffered_ms"]) == ("kpl", 50.0)
    assert arguments["aggregation_max_bytes"] == MAX_AGGREGATE_BYTES


def test_a_run_profile_refuses_an_unknown_aggregation():
    from cdrcap.config import parse_config
    from cdrcap.configread import ConfigError

    with pytest.raises(ConfigError, match="aggregation"):
        parse_config({"profiles": {"agg": {"steps": [100], "aggregation": "gzip"}}}, path="x", source=None)


def test_a_kpl_run_plans_its_own_format_with_the_kpl_and_keeps_the_payload_table():
    from capacity.fit import ServiceTimeModel
    from capacity.search import Slo, Workload
    from cdrcap.config import parse_config
    from cdrcap.stages import plan_for_profile

    config = parse_config(
        {
            "profiles": {
                "agg": {"steps": [100], "aggregation": "kpl", "max_buffered_ms": 200},
                "plain": {"steps": [100]},
            }
        },
        path="cdrcap.toml",
        source=None,
    )
    agg = config.profile("agg")
    # Given a KPL run that measured 20 CDRs per Kinesis record of 415 B (framing included) at 2,000 CDR/s
    workload = Workload(2_000, 415, cdrs_per_record=20)
    result = plan_for_profile(ServiceTimeModel(40, 0.3), workload, Slo(), agg)
    formats = result.details["payload_formats"]
    # Then its plan is its own format with the KPL at the measured factor, the 200 ms buffering in the e2e
    assert formats["chosen"] == {"record_format": "json", "aggregation": "kpl"}
    chosen = next(row for row in formats["rows"] if row["chosen"])
    assert (
        chosen["cdrs_per_record"] == 20
        and chosen["bytes_per_cdr"] == 415
        and chosen["producer_wait_ms"] == 200
    )
    assert "200 ms of producer buffering" in " ".join(result.details["assumptions"])
    # And a run without aggregation plans as before
    plain = plan_for_profile(ServiceTimeModel(40, 0.3), Workload(2_000, 400), Slo(), config.profile("plain"))
    assert "payload_formats" not in plain.details
