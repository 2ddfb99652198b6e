"""The arithmetic behind the local stack: token buckets, shard routing, partial failures, checkpoints."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson

from infra.local.esm.checkpoints import ShardProgress
from infra.local.esm.config import EsmConfig
from infra.local.esm.events import StreamRecord, event_json, payload_bytes, to_stream_record
from infra.local.esm.lane import partial_failure
from infra.local.shard_limits import ShardMap, ShardRange, TokenBucket, hash_key_of
from tests.support.fakes import FakeClock


def record(sequence: int, data: bytes | str = b"x", key: str = "k") -> StreamRecord:
    config = EsmConfig(
        stream_name="s",
        stream_arn="arn:aws:kinesis:us-east-1:000000000000:stream/s",
        function_name="f",
        kinesis_endpoint_url="http://127.0.0.1:1",
        endpoint_url="http://127.0.0.1:1",
        state_dir=Path("/tmp"),
    )
    raw = {
        "Data": data,
        "SequenceNumber": str(sequence),
        "PartitionKey": key,
        "ApproximateArrivalTimestamp": 1.5,
    }
    return to_stream_record("shardId-000000000000", raw, config)


def test_a_prepared_getrecords_entry_gives_the_same_event_entry_as_botocores() -> None:
    # Given records of 1, 2 and 3 bytes mod 3 (two, one and no "=" of base64 padding)
    for data in (b"\x00" * 499, b"\xff" * 500, b"{}" * 250 + b"z"):
        # When the entry comes as botocore parses it (bytes) and as the prepared path does (wire base64 text)
        parsed, prepared = record(7, data), record(7, base64.b64encode(data).decode("ascii"))
        # Then Lambda's event entry and the record's size are the same
        assert prepared.event_json == parsed.event_json
        assert prepared.data_bytes == parsed.data_bytes == len(data)


def test_bucket_allows_one_second_of_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, clock)
    assert sum(bucket.take(1) for _ in range(15)) == 10
    clock.now_s = 0.5
    assert sum(bucket.take(1) for _ in range(15)) == 5


def test_partition_key_routes_by_md5_to_the_shard_owning_the_hash() -> None:
    # md5("a") = 0cc175b9..., below half of the 128-bit space
    half = 2**127
    shards = ShardMap([ShardRange("shard-0", 0, half - 1), ShardRange("shard-1", half, 2**128 - 1)])
    assert hash_key_of("a") == int("0cc175b9c0f1b6a831c399e269772661", 16)
    assert shards.shard_for(hash_key_of("a")) == "shard-0"
    assert shards.shard_for(hash_key_of("", explicit_hash_key=str(half))) == "shard-1"


def test_payload_size_is_the_size_of_the_event_sent() -> None:
    records = [record(1, b"a" * 10), record(2, b"b" * 3000)]
    assert payload_bytes(records) == len(event_json(records))
    assert orjson.loads(event_json(records))["Records"][1]["eventID"] == "shardId-000000000000:2"


def test_partial_failure_retries_from_the_lowest_failed_sequence_number() -> None:
    records = [record(n) for n in (10, 11, 12, 13)]
    response = {"batchItemFailures": [{"itemIdentifier": "13"}, {"itemIdentifier": "11"}]}
    assert partial_failure(response, records) == ("partial", 1)


def test_unknown_item_identifier_fails_the_whole_batch() -> None:
    records = [record(n) for n in (10, 11)]
    assert partial_failure({"batchItemFailures": [{"itemIdentifier": "99"}]}, records) == ("error", 0)
    assert partial_failure({"batchItemFailures": []}, records) == ("ok", 2)


def test_checkpoint_waits_for_every_earlier_record() -> None:
    progress = ShardProgress(checkpoint=None)
    records = [record(n) for n in (1, 2, 3)]
    progress.add(records)
    progress.complete([records[2]])
    assert progress.checkpoint is None
    progress.complete([records[0]])
    assert progress.checkpoint == "1"
    progress.complete([records[1]])
    assert progress.checkpoint == "3"
