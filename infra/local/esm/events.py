"""Kinesis records and the events Lambda builds from them: the invocation event and the on-failure record."""

from __future__ import annotations

import base64
import datetime as dt
import time
import uuid
from dataclasses import dataclass
from typing import Any, TypedDict

import orjson

from infra.local.esm.config import EsmConfig

EVENT_PREFIX = b'{"Records":['
EVENT_SUFFIX = b"]}"
EVENT_FRAME_BYTES = len(EVENT_PREFIX) + len(EVENT_SUFFIX)


@dataclass(slots=True)
class StreamRecord:
    """One record read from a shard, with its Lambda event entry already serialised (sized once)."""

    shard_id: str
    sequence_number: str
    sequence_int: int
    partition_key: str
    arrival_epoch_s: float
    data_bytes: int
    event_json: bytes

    @property
    def arrival_epoch_ms(self) -> float:
        return self.arrival_epoch_s * 1000.0


class KinesisEventRecord(TypedDict):
    kinesis: dict[str, Any]
    eventSource: str
    eventVersion: str
    eventID: str
    eventName: str
    invokeIdentityArn: str
    awsRegion: str
    eventSourceARN: str


def _base64_data(data: bytes | str) -> tuple[str, int]:
    """A record's data as the event's base64 text, and its size in bytes. GetRecords answers decoded by the
    prepared path (pipeline.prepared_requests.decode_answers) hold the wire's base64 text already: it is
    passed on as it is, not decoded and encoded again."""
    if isinstance(data, str):
        return data, len(data) * 3 // 4 - data[-2:].count("=")
    return base64.b64encode(data).decode("ascii"), len(data)


def to_stream_record(shard_id: str, raw: dict[str, Any], config: EsmConfig) -> StreamRecord:
    """From a GetRecords entry (Data as bytes from botocore's parser or base64 text from the prepared one,
    arrival a datetime or epoch seconds) to Lambda's event entry."""
    data, data_bytes = _base64_data(raw["Data"])
    arrival = raw["ApproximateArrivalTimestamp"]
    arrival_s = arrival.timestamp() if isinstance(arrival, dt.datetime) else float(arrival)
    sequence_number = str(raw["SequenceNumber"])
    entry: KinesisEventRecord = {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": raw["PartitionKey"],
            "sequenceNumber": sequence_number,
            "data": data,
            "approximateArrivalTimestamp": arrival_s,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": config.role_arn,
        "awsRegion": config.region,
        "eventSourceARN": config.stream_arn,
    }
    return StreamRecord(
        shard_id=shard_id,
        sequence_number=sequence_number,
        sequence_int=int(sequence_number),
        partition_key=raw["PartitionKey"],
        arrival_epoch_s=arrival_s,
        data_bytes=data_bytes,
        event_json=orjson.dumps(entry),
    )


def payload_bytes(records: list[StreamRecord]) -> int:
    """Bytes of the invocation event `{"Records":[...]}` these records make."""
    return EVENT_FRAME_BYTES + sum(len(r.event_json) for r in records) + max(0, len(records) - 1)


def event_json(records: list[StreamRecord]) -> bytes:
    return EVENT_PREFIX + b",".join(r.event_json for r in records) + EVENT_SUFFIX


def iso_ms(epoch_s: float) -> str:
    stamp = dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def on_failure_record(
    records: list[StreamRecord],
    config: EsmConfig,
    *,
    condition: str,
    invoke_count: int,
    function_error: str | None,
) -> dict[str, Any]:
    """Lambda's on-failure destination document for Kinesis: metadata of the batch, never its payload."""
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if function_error:
        response_context["functionError"] = function_error
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": config.function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": iso_ms(dt.datetime.now(dt.UTC).timestamp()),
        "KinesisBatchInfo": {
            "shardId": records[0].shard_id,
            "startSequenceNumber": records[0].sequence_number,
            "endSequenceNumber": records[-1].sequence_number,
            "approximateArrivalOfFirstRecord": iso_ms(records[0].arrival_epoch_s),
            "approximateArrivalOfLastRecord": iso_ms(records[-1].arrival_epoch_s),
            "batchSize": len(records),
            "streamArn": config.stream_arn,
        },
    }


def kinesis_event(
    payloads: list[bytes],
    partition_keys: list[str],
    config: EsmConfig,
    *,
    first_sequence: int,
    shard_id: str = "shardId-000000000000",
    arrival_epoch_s: float | None = None,
) -> bytes:
    """The invocation event Lambda would build for these records read from one shard (a replayed batch)."""
    arrival_s = time.time() if arrival_epoch_s is None else arrival_epoch_s
    records = [
        to_stream_record(
            shard_id,
            {
                "Data": payload,
                "PartitionKey": key,
                "SequenceNumber": str(first_sequence + index),
                "ApproximateArrivalTimestamp": arrival_s,
            },
            config,
        )
        for index, (payload, key) in enumerate(zip(payloads, partition_keys, strict=True))
    ]
    return event_json(records)
