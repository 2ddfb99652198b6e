"""The ground truth of a generated load: what one fault-free, single delivery of its records must produce.

Built by running the payloads once through the handler's processor with in-memory stores: the per
(key, minute) aggregate totals, the cdr_ids that must reach the output stream and archive, and the rejects
as (payload digest, reason code). The decode/validate rules themselves are tested by the malformed corpus;
the truth is what `cdrcap verify` holds a real, faulty, re-delivering run to. Written as JSON into the run
directory (`data/ground_truth.json`) by whoever generates the load.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdrcap.errors import CdrcapError
from pipeline.aggregate import COUNTERS, ItemKey
from pipeline.config import PipelineConfig
from pipeline.processor import BatchProcessor
from pipeline.stores import (
    InMemoryAggregateStore,
    InMemoryArchive,
    InMemoryDeadLetterQueue,
    InMemoryOutputStream,
    Stores,
    in_memory_stores,
)

TRUTH_SCHEMA = "cdrcap.truth/1"
GROUND_TRUTH_FILE = "data/ground_truth.json"
Aggregates = dict[ItemKey, dict[str, int]]


def payload_digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True)
class GroundTruth:
    aggregates: Aggregates  # (pk, sk) -> counter -> total
    valid_cdr_ids: frozenset[str]
    rejects: Counter[tuple[str, str]]  # (payload sha256, reason code) -> count

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": TRUTH_SCHEMA,
            "aggregates": [{"pk": pk, "sk": sk, **v} for (pk, sk), v in sorted(self.aggregates.items())],
            "valid_cdr_ids": sorted(self.valid_cdr_ids),
            "rejects": [
                {"payload_sha256": digest, "reason": reason, "count": n}
                for (digest, reason), n in sorted(self.rejects.items())
            ],
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> GroundTruth:
        if doc.get("schema") != TRUTH_SCHEMA:
            raise CdrcapError(f"ground truth schema {doc.get('schema')!r}: expected {TRUTH_SCHEMA!r}")
        try:
            return cls(
                {(row["pk"], row["sk"]): {c: int(row[c]) for c in COUNTERS} for row in doc["aggregates"]},
                frozenset(doc["valid_cdr_ids"]),
                Counter({(r["payload_sha256"], r["reason"]): int(r["count"]) for r in doc["rejects"]}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CdrcapError(f"ground truth is malformed ({exc!r}): regenerate it") from None

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict()))
        return path

    @classmethod
    def read(cls, path: Path) -> GroundTruth:
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise CdrcapError(
                f"{path}: no ground truth: write one with cdrcap.truth.truth_of_events() when generating "
                "the load, or pass --truth PATH"
            ) from None
        except json.JSONDecodeError as exc:
            raise CdrcapError(f"{path}: not JSON ({exc})") from None
        return cls.from_dict(doc)


STREAM_TRUTH_BATCH = 500  # records per event when the truth is built from a stream (any cut: see below)
_MAX_READ_CALLS = 100_000  # GetRecords calls per shard: a bound, not a limit any run reaches


def stream_records(kinesis: Any, stream: str) -> dict[str, list[dict[str, Any]]]:
    """Every record of the stream by shard, in sequence order, as GetRecords returns them (TRIM_HORIZON to
    the tip; MiniStack's MillisBehindLatest is unreliable, so an empty page ends a shard)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        shard_id = shard["ShardId"]
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records: list[dict[str, Any]] = []
        for _ in range(_MAX_READ_CALLS):
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            records += page["Records"]
            iterator = page.get("NextShardIterator")
            if not page["Records"] or not iterator:
                break
        out[shard_id] = records
    return out


def mapping_event(shard_id: str, records: list[dict[str, Any]], stream: str) -> dict[str, Any]:
    """The event Lambda's event source mapping builds from these GetRecords entries of one shard: the shard,
    sequence number, partition key and arrival time Kinesis gave each (what positions and the ledger
    design's claims buckets are made of)."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode("ascii"),
                    "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventID": f"{shard_id}:{r['SequenceNumber']}",
                "eventSourceARN": f"arn:aws:kinesis:us-east-1:000000000000:stream/{stream}",
            }
            for r in records
        ]
    }


def stream_events(kinesis: Any, stream: str) -> list[dict[str, Any]]:
    """The stream's records as the handler's events carry them, each shard's cut into events of
    STREAM_TRUTH_BATCH records."""
    return [
        mapping_event(shard_id, records[i : i + STREAM_TRUTH_BATCH], stream)
        for shard_id, records in stream_records(kinesis, stream).items()
        for i in range(0, len(records), STREAM_TRUTH_BATCH)
    ]


def truth_of_stream(kinesis: Any, stream: str, config: PipelineConfig) -> GroundTruth:
    """The truth of what `stream` holds, as the handler sees it (docs/reliability.md): its records with
    their own shards, positions and arrival times, each event judged at its last record's arrival (the
    handler's clock when it ran, within its latency). Under `ledger` this is the only exact truth: a source
    duplicate is rejected only when its copy arrived in the same shard and second, which no generated
    timestamp can tell. The cut into events does not change it: every design judges a record by its
    position and its claim scope, not by its batch."""
    stores = in_memory_stores(config.exactly_once)
    processor = BatchProcessor(config, stores)
    for event in stream_events(kinesis, stream):
        now_ms = int(event["Records"][-1]["kinesis"]["approximateArrivalTimestamp"] * 1000)
        if processor.process(event, now_ms=now_ms).failed_sequence_numbers:
            raise CdrcapError("the in-memory reference run reported failures: the truth would be wrong")
    return truth_of_stores(stores)


def truth_of_events(events: Sequence[dict[str, Any]], config: PipelineConfig, now_ms: int) -> GroundTruth:
    """The truth of Kinesis events (in delivery order), each processed exactly once without faults, under
    the config's exactly-once design (its scope of source-duplicate detection: docs/pipeline.md)."""
    stores = in_memory_stores(config.exactly_once)
    processor = BatchProcessor(config, stores)
    for event in events:
        outcome = processor.process(event, now_ms=now_ms)
        if outcome.failed_sequence_numbers:
            raise CdrcapError("the in-memory reference run reported failures: the truth would be wrong")
    return truth_of_stores(stores)


class TruthBuilder:
    """Ground truth built batch by batch, for loads too long to keep every output line in memory."""

    def __init__(self, config: PipelineConfig, now_ms: int) -> None:
        self.stores = in_memory_stores(config.exactly_once)
        self.processor = BatchProcessor(config, self.stores)
        self.now_ms = now_ms
        self.valid_cdr_ids: set[str] = set()
        self.rejects: Counter[tuple[str, str]] = Counter()

    def add(self, event: dict[str, Any]) -> None:
        outcome = self.processor.process(event, now_ms=self.now_ms)
        if outcome.failed_sequence_numbers:
            raise CdrcapError("the in-memory reference run reported failures: the truth would be wrong")
        observed = observe_memory(self.stores)
        self.valid_cdr_ids.update(observed.output)
        self.rejects.update(reject_key(m) for m in observed.dlq)
        output, archive, dlq = self.stores.output, self.stores.archive, self.stores.dlq
        assert isinstance(output, InMemoryOutputStream) and isinstance(archive, InMemoryArchive)
        assert isinstance(dlq, InMemoryDeadLetterQueue)
        output.records.clear()
        archive.objects.clear()
        dlq.messages.clear()

    def result(self) -> GroundTruth:
        aggregates = observe_memory(self.stores).aggregates
        return GroundTruth(aggregates, frozenset(self.valid_cdr_ids), Counter(self.rejects))


def truth_of_stores(stores: Stores) -> GroundTruth:
    """What fault-free in-memory stores hold, read as ground truth."""
    observed = observe_memory(stores)
    return GroundTruth(
        observed.aggregates,
        frozenset(observed.output),
        Counter(reject_key(m) for m in observed.dlq),
    )


def reject_key(message: dict[str, Any]) -> tuple[str, str]:
    """(sha256 of the rejected payload, reason) of a DLQ message."""
    return payload_digest(base64.b64decode(message["payload_b64"])), str(message["reason"])


@dataclass(frozen=True)
class Observed:
    """What a target holds after a run drained: the same shapes whatever the target."""

    aggregates: Aggregates
    dlq: list[dict[str, Any]]  # DLQ message bodies (few: rejects only)
    archive: Counter[str]  # dedup_key (cdr_id) -> lines across every archive object
    output: Counter[str]  # dedup_key (cdr_id) -> records read from the output stream


def dedup_keys(body: bytes) -> list[str]:
    """The dedup_key of every enriched NDJSON line of an archive object (gzip or plain)."""
    text = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
    return [str(json.loads(line)["dedup_key"]) for line in text.splitlines() if line.strip()]


def observe_memory(stores: Stores) -> Observed:
    aggregates, archive, output, dlq = stores.aggregates, stores.archive, stores.output, stores.dlq
    assert isinstance(aggregates, InMemoryAggregateStore) and isinstance(archive, InMemoryArchive)
    assert isinstance(output, InMemoryOutputStream) and isinstance(dlq, InMemoryDeadLetterQueue)
    return Observed(
        {key: {c: item[c] for c in COUNTERS} for key, item in aggregates.snapshot().items()},
        [json.loads(m) for m in dlq.messages],
        Counter(key for body in archive.objects.values() for key in dedup_keys(body)),
        Counter(str(json.loads(data)["dedup_key"]) for _, data in output.records),
    )
