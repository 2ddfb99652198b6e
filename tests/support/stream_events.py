"""A stream's records read back from the emulator, and the event Lambda's mapping would build of them."""

from __future__ import annotations

import base64
from typing import Any


def stream_records(kinesis: Any, stream: str) -> dict[str, list[dict[str, Any]]]:
    """Every record of the stream by shard, in order (read from the emulator directly)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        shard_id = shard["ShardId"]
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records: list[dict[str, Any]] = []
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            records += page["Records"]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
        out[shard_id] = records
    return out


def mapping_event(shard_id: str, records: list[dict[str, Any]], stream: str) -> dict[str, Any]:
    """The event Lambda's event source mapping would build from these stream records."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode(),
                    "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventID": f"{shard_id}:{r['SequenceNumber']}",
                "eventSourceARN": f"arn:aws:kinesis:us-east-1:000000000000:stream/{stream}",
            }
            for r in records
        ]
    }
