"""What the function asks of AWS, counted per invocation in the units AWS bills.

Every boto3 client the stores build is attached to one process-wide `RequestMeter` (botocore events, so no
store has to count for itself and a new store design is metered the same way). DynamoDB calls are asked for
`ReturnConsumedCapacity=TOTAL` and the meter adds up what the service says it consumed; Kinesis, S3, SQS and
EventBridge requests are counted with their billed payload units from the request itself. The handler emits
`take()` in its EMF line after each batch, and the harness prices those numbers (capacity/resource_use.py).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any, Final

from pipeline.aws_limits import EVENTBRIDGE_BILLED_CHUNK_BYTES, PUT_PAYLOAD_UNIT_BYTES, SQS_BILLED_CHUNK_BYTES

# The EMF metric names, always all present (zeros included) so a CloudWatch Sum over a run sees every one.
METRICS: Final = (
    "AwsDynamoDBRequests",
    "AwsDynamoDBWriteUnits",
    "AwsDynamoDBReadUnits",
    "AwsDynamoDBUnmeteredRequests",  # answered without ConsumedCapacity: its units are not in the sums
    "AwsKinesisPutRequests",
    "AwsKinesisPutRecords",
    "AwsKinesisPutBytes",
    "AwsKinesisPutPayloadUnits",
    "AwsS3PutRequests",
    "AwsS3PutBytes",
    "AwsSqsRequests",
    "AwsSqsBilledRequests",
    "AwsSqsMessages",
    "AwsEventBridgeRequests",
    "AwsEventBridgeEntries",
    "AwsEventBridgeBilledEvents",
)
_DDB_WRITES: Final = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
)  # fmt: skip
_DDB_READS: Final = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})


def _size(value: Any) -> int:
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    if isinstance(value, str):
        return len(value.encode())
    return 0


def _chunks(size: int, chunk: int) -> int:
    return max(1, math.ceil(size / chunk))


def _consumed_units(consumed: Any, key: str) -> float:
    """Units from a ConsumedCapacity answer: one dict, or a list of them (transactions, batches)."""
    entries = consumed if isinstance(consumed, list) else [consumed]
    total = 0.0
    for entry in entries:
        if isinstance(entry, Mapping):
            total += float(entry.get(key) or entry.get("CapacityUnits") or 0.0)
    return total


class RequestMeter:
    """Thread-safe per-process counters (the fraud stage writes from several threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, float] = dict.fromkeys(METRICS, 0.0)

    def attach(self, client: Any) -> Any:
        """Count this client's calls from now on; returns the client."""
        service = client.meta.service_model.service_id.hyphenize()
        events = client.meta.events
        events.register(f"provide-client-params.{service}", self._before)
        events.register(f"after-call.{service}", self._after)
        return client

    def take(self) -> dict[str, float]:
        """The counts since the last take, every metric present; resets them."""
        with self._lock:
            counts, self._counts = self._counts, dict.fromkeys(METRICS, 0.0)
        return counts

    def _add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                self._counts[name] += amount

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        operation = model.name
        service = model.service_model.service_id.hyphenize()
        if service == "dynamodb":
            if "ReturnConsumedCapacity" in model.input_shape.members:
                params.setdefault("ReturnConsumedCapacity", "TOTAL")
        elif service == "kinesis" and operation in ("PutRecords", "PutRecord"):
            records = params.get("Records") or [params]
            sizes = [_size(r.get("Data")) + _size(r.get("PartitionKey")) for r in records]
            self._add(
                AwsKinesisPutRequests=1,
                AwsKinesisPutRecords=len(sizes),
                AwsKinesisPutBytes=sum(sizes),
                AwsKinesisPutPayloadUnits=sum(_chunks(size, PUT_PAYLOAD_UNIT_BYTES) for size in sizes),
            )
        elif service == "s3" and operation == "PutObject":
            self._add(AwsS3PutRequests=1, AwsS3PutBytes=_size(params.get("Body")))
        elif service == "sqs" and operation in ("SendMessageBatch", "SendMessage"):
            entries = params.get("Entries") or [params]
            payload = sum(_size(entry.get("MessageBody")) for entry in entries)
            self._add(
                AwsSqsRequests=1,
                AwsSqsBilledRequests=_chunks(payload, SQS_BILLED_CHUNK_BYTES),
                AwsSqsMessages=len(entries),
            )
        elif service == "eventbridge" and operation == "PutEvents":
            entries = params.get("Entries") or []
            self._add(
                AwsEventBridgeRequests=1,
                AwsEventBridgeEntries=len(entries),
                AwsEventBridgeBilledEvents=sum(
                    _chunks(_size(entry.get("Detail")), EVENTBRIDGE_BILLED_CHUNK_BYTES) for entry in entries
                ),
            )

    def _after(self, parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
        if model.service_model.service_id.hyphenize() != "dynamodb":
            return
        operation = model.name
        consumed = parsed.get("ConsumedCapacity") if isinstance(parsed, Mapping) else None
        if consumed is None:
            if operation in _DDB_WRITES or operation in _DDB_READS:
                self._add(AwsDynamoDBRequests=1, AwsDynamoDBUnmeteredRequests=1)
            return
        if operation in _DDB_WRITES:
            self._add(
                AwsDynamoDBRequests=1, AwsDynamoDBWriteUnits=_consumed_units(consumed, "WriteCapacityUnits")
            )
        elif operation in _DDB_READS:
            self._add(
                AwsDynamoDBRequests=1, AwsDynamoDBReadUnits=_consumed_units(consumed, "ReadCapacityUnits")
            )


METER: Final = RequestMeter()
