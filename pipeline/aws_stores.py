"""The AWS implementations of the stores: DynamoDB (transactions), S3, Kinesis PutRecords, SQS batches.

Plain boto3 clients: they honour AWS_ENDPOINT_URL, which points them at the emulator in local runs. Each is
built on its first call (`LazyClient`): building boto3 and four or five clients at cold start cost ~500 ms
in `configure()`, most of it for clients a batch may never need (the DLQ, the alert bus).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline import ledger
from pipeline.aggregate import COUNTERS, Claim, ItemKey, folded_claim
from pipeline.aws_limits import (
    DLQ_MAX_MESSAGE_BYTES,
    PUT_RECORDS_MAX_BYTES,
    PUT_RECORDS_MAX_RECORDS,
    SQS_SEND_MESSAGE_BATCH_MAX_ENTRIES,
)
from pipeline.config import PipelineConfig
from pipeline.constants import ENV_AGGREGATES_TABLE, TABLE_PARTITION_KEY, TABLE_SORT_KEY, TABLE_TTL_ATTRIBUTE
from pipeline.errors import ConfigError, TransientStoreError
from pipeline.metering import METER
from pipeline.prepared_requests import PreparedClient, as_bytes
from pipeline.stores import ApplyResult, LedgerApply, LedgerCommitConflict, Stores, ledger_item_bytes

if TYPE_CHECKING:
    from pipeline.fraud.engine import FraudEngine

SINK_ATTEMPTS = 4  # our own retries of a failed subset, on top of botocore's per-call retries
CLAIM_SORT_KEY = "claim"
CLAIM_PREFIX = "cdr#"
_TRANSIENT_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
_UPDATE_EXPRESSION = (
    "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(COUNTERS))) + " SET #ttl = :ttl, #dim = :dim"
)
_UPDATE_NAMES = {
    **{f"#c{i}": name for i, name in enumerate(COUNTERS)},
    "#ttl": TABLE_TTL_ATTRIBUTE,
    "#dim": "dim",
}


def _backoff(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 1.0) * random.uniform(0.5, 1.0))


def missing_table(table: str) -> ConfigError:
    """Detected on first use (no DescribeTable at cold start: see docs/reliability.md, "Configuration")."""
    return ConfigError(
        f"{ENV_AGGREGATES_TABLE}={table!r} names no DynamoDB table in this account and region: set it to "
        "the stack output AggregatesTableName (or deploy the stack)."
    )


# Window items of the fraud state are independent: apply them (or their transactions) in parallel threads.
FRAUD_WRITE_CONCURRENCY = 8


def build_client(service: str) -> Any:
    """A metered boto3 client for `service` (imports boto3 on first use)."""
    import boto3
    from botocore.config import Config

    # parameter_validation off: the stores build every request themselves, and botocore's validation of a
    # 100-item transaction cost ~25% of a 500-record batch's wall time against the emulator (profiled).
    config = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=3,
        read_timeout=10,
        parameter_validation=False,
    )
    # Every client is metered: the handler reports what the batch consumed in AWS's billing units.
    return METER.attach(boto3.client(service, config=config))  # type: ignore[call-overload]


# boto3's default session is not thread-safe to build clients from; the fraud stage calls from threads.
_BUILD_LOCK = threading.Lock()


class LazyClient:
    """Stands for the boto3 client of `service`, built (and metered) on the first attribute access.

    A batch that never writes to the DLQ or the alert bus never builds those clients; the ones it uses
    cost their construction once, on the first batch instead of in `configure()` (docs/benchmarks.md)."""

    __slots__ = ("_client", "service")

    def __init__(self, service: str) -> None:
        self.service = service
        self._client: Any = None

    @property
    def built(self) -> bool:
        return self._client is not None

    def __getattr__(self, name: str) -> Any:
        client = self._client
        if client is None:
            with _BUILD_LOCK:
                client = self._client
                if client is None:
                    client = self._client = build_client(self.service)
        return getattr(client, name)


def client(service: str) -> Any:
    return LazyClient(service)


class DynamoAggregateStore:
    """One TransactWriteItems per chunk: conditional claim puts + ADD updates of the aggregate items.

    The client takes the prepared request path (pipeline/prepared_requests.py) for its TransactWriteItems
    and BatchGetItem: botocore's own serializer was most of the handler's CPU per CDR (docs/pipeline.md)."""

    design = "per_record"

    def __init__(self, table: str, dynamodb: Any) -> None:
        self.table = table
        self.dynamodb = PreparedClient(dynamodb)

    def apply(
        self, claims: Sequence[Claim], deltas: Mapping[ItemKey, list[int]], expires_at: Mapping[ItemKey, int]
    ) -> ApplyResult:
        items = self._transaction(claims, deltas, expires_at)
        outcome = self._transact(items)
        if isinstance(outcome, int):
            return ApplyResult(True, (), outcome, len(items))
        # Only claims carry conditions, so a failed condition names at least one claim.
        return ApplyResult(False, self._conflicts(claims, deltas, outcome))

    def _transact(self, items: list[dict[str, Any]]) -> int | list[str]:
        """One TransactWriteItems with our retries, for every design: the write units it consumed, or the
        cancellation reasons (one code per item, in order) when a condition failed, for the design to read.
        Throttling, a transient cancellation (a conflict with another transaction, throttling) and a
        connection error back off and retry; TransientStoreError after SINK_ATTEMPTS tries."""
        for attempt in range(SINK_ATTEMPTS):
            try:
                response = self.dynamodb.transact_write_items(
                    TransactItems=items, ReturnConsumedCapacity="TOTAL"
                )
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "ResourceNotFoundException":
                    raise missing_table(self.table) from exc
                if code != "TransactionCanceledException":
                    if code in ("ThrottlingException", "ProvisionedThroughputExceededException"):
                        _backoff(attempt)
                        continue
                    raise
                reasons = [
                    reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])
                ]
                if "ConditionalCheckFailed" in reasons:
                    return reasons
                if reasons and not _TRANSIENT_REASONS.intersection(reasons):
                    raise
                _backoff(attempt)
                continue
            except BotoCoreError:
                _backoff(attempt)
                continue
            consumed = sum(c.get("WriteCapacityUnits", 0) for c in response.get("ConsumedCapacity") or [])
            return int(consumed) or 2 * len(items)
        raise TransientStoreError(
            f"TransactWriteItems on {self.table} still failing after {SINK_ATTEMPTS} tries"
        )

    def _transaction(
        self, claims: Sequence[Claim], deltas: Mapping[ItemKey, list[int]], expires_at: Mapping[ItemKey, int]
    ) -> list[dict[str, Any]]:
        items = [self._claim_put(claim, max(expires_at.values())) for claim in claims]
        return items + [self._update(key, vector, expires_at[key]) for key, vector in deltas.items()]

    def _conflicts(
        self, claims: Sequence[Claim], deltas: Mapping[ItemKey, list[int]], codes: list[str]
    ) -> tuple[int, ...]:
        """The claims whose condition failed, from the transaction's cancellation reasons."""
        return tuple(i for i, code in enumerate(codes[: len(claims)]) if code == "ConditionalCheckFailed")

    def _claim_put(self, claim: Claim, expires_at: int) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": {
                    TABLE_PARTITION_KEY: {"S": CLAIM_PREFIX + claim.cdr_id},
                    TABLE_SORT_KEY: {"S": CLAIM_SORT_KEY},
                    "owner": {"S": claim.position},
                    TABLE_TTL_ATTRIBUTE: {"N": str(expires_at)},
                },
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": TABLE_PARTITION_KEY},
            }
        }

    def _update(self, key: ItemKey, vector: list[int], expires_at: int) -> dict[str, Any]:
        values = {f":c{i}": {"N": str(v)} for i, v in enumerate(vector)}
        values[":ttl"] = {"N": str(expires_at)}
        values[":dim"] = {"S": key[0].split("#", 1)[0]}
        return {
            "Update": {
                "TableName": self.table,
                "Key": {TABLE_PARTITION_KEY: {"S": key[0]}, TABLE_SORT_KEY: {"S": key[1]}},
                "UpdateExpression": _UPDATE_EXPRESSION,
                "ExpressionAttributeNames": _UPDATE_NAMES,
                "ExpressionAttributeValues": values,
            }
        }

    def claim_owners(self, claims: Sequence[Claim]) -> dict[str, str]:
        unique = dict.fromkeys(claim.cdr_id for claim in claims)
        items = self._read_items([(CLAIM_PREFIX + cdr_id, CLAIM_SORT_KEY) for cdr_id in unique])
        return {item[TABLE_PARTITION_KEY]["S"][len(CLAIM_PREFIX) :]: item["owner"]["S"] for item in items}

    def _read_items(self, keys: Sequence[ItemKey]) -> list[dict[str, Any]]:
        """The items at `keys` that exist: strongly consistent BatchGetItem, 100 keys a request."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [
                        {TABLE_PARTITION_KEY: {"S": pk}, TABLE_SORT_KEY: {"S": sk}}
                        for pk, sk in keys[start : start + 100]
                    ],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(SINK_ATTEMPTS):
                try:
                    response = self.dynamodb.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    raise TransientStoreError(f"BatchGetItem on {self.table} failed: {exc}") from exc
                found += response.get("Responses", {}).get(self.table, [])
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                _backoff(attempt)
        return found


class FoldedDynamoAggregateStore(DynamoAggregateStore):
    """CDRCAP_EXACTLY_ONCE=folded: each claim is an attribute of the CDR's A-number minute item, set in the
    same update that adds the counters, under `attribute_not_exists` (docs/pipeline.md, "folded")."""

    design = "folded"

    def _transaction(
        self, claims: Sequence[Claim], deltas: Mapping[ItemKey, list[int]], expires_at: Mapping[ItemKey, int]
    ) -> list[dict[str, Any]]:
        by_item: dict[ItemKey, list[Claim]] = {}
        for claim in claims:
            by_item.setdefault(claim.item, []).append(claim)
        items = []
        for key, vector in deltas.items():
            update = self._update(key, vector, expires_at[key])
            held = by_item.get(key)
            if held:
                body = update["Update"]
                names, values = (
                    dict(body["ExpressionAttributeNames"]),
                    dict(body["ExpressionAttributeValues"]),
                )
                sets, conditions = [], []
                for j, claim in enumerate(held):
                    name, value = folded_claim(claim)
                    names[f"#k{j}"], values[f":k{j}"] = name, {"S": value}
                    sets.append(f"#k{j} = :k{j}")
                    conditions.append(f"attribute_not_exists(#k{j})")
                body["UpdateExpression"] += ", " + ", ".join(sets)
                body["ConditionExpression"] = " AND ".join(conditions)
                body["ExpressionAttributeNames"], body["ExpressionAttributeValues"] = names, values
            items.append(update)
        return items

    def _conflicts(
        self, claims: Sequence[Claim], deltas: Mapping[ItemKey, list[int]], codes: list[str]
    ) -> tuple[int, ...]:
        # A failed item names no attribute: every claim it holds may be taken (claim_owners says which).
        failed = {key for key, code in zip(deltas, codes, strict=False) if code == "ConditionalCheckFailed"}
        return tuple(i for i, claim in enumerate(claims) if claim.item in failed)

    def claim_owners(self, claims: Sequence[Claim]) -> dict[str, str]:
        """cdr_id -> owner for the claims present on their items: the claim's own position when the stored
        hash is this position's, else a description of the other position (a source duplicate)."""
        by_item: dict[ItemKey, list[Claim]] = {}
        for claim in claims:
            by_item.setdefault(claim.item, []).append(claim)
        owners: dict[str, str] = {}
        for item in self._read_items(list(by_item)):
            for claim in by_item.get((item[TABLE_PARTITION_KEY]["S"], item[TABLE_SORT_KEY]["S"]), []):
                name, mine = folded_claim(claim)
                stored = item.get(name, {}).get("S")
                if stored is not None:
                    owners[claim.cdr_id] = (
                        claim.position if stored == mine else f"another record (position hash {stored})"
                    )
        return owners


class LedgerDynamoAggregateStore(LedgerApply, DynamoAggregateStore):
    """CDRCAP_EXACTLY_ONCE=ledger (pipeline/ledger.py): a consistent BatchGetItem of the chunk's claims
    items, then one TransactWriteItems: a Put of each claims item conditioned on the version read (absent
    when new) + a Put of the chunk's delta item (absent)."""

    design = "ledger"

    def _read_buckets(self, keys: Sequence[ItemKey]) -> dict[ItemKey, ledger.ClaimSet]:
        found: dict[ItemKey, ledger.ClaimSet] = {}
        try:
            items = self._read_items(keys)
        except TransientStoreError as exc:
            if "ResourceNotFoundException" in str(exc):
                raise missing_table(self.table) from exc
            raise
        for item in items:
            key = (item[TABLE_PARTITION_KEY]["S"], item[TABLE_SORT_KEY]["S"])
            blob = as_bytes(item[ledger.CLAIMS_ATTRIBUTE]["B"])  # base64 text from the prepared parser
            found[key] = ledger.ClaimSet(
                int(item[ledger.VERSION_ATTRIBUTE]["N"]),
                ledger.decode_claims(blob),
                ledger_item_bytes(key, blob),
                int(item.get(TABLE_TTL_ATTRIBUTE, {}).get("N", 0)),
            )
        return found

    def _commit(
        self, after: Mapping[ItemKey, ledger.ClaimSet], delta_key: ItemKey, delta: bytes, expires_at: int
    ) -> int:
        items = [self._claims_put(key, state) for key, state in after.items()]
        items.append(
            self._put(
                delta_key,
                {ledger.DELTA_ATTRIBUTE: {"B": delta}, TABLE_TTL_ATTRIBUTE: {"N": str(expires_at)}},
                "attribute_not_exists(#pk)",
                {},
            )
        )
        outcome = self._transact(items)
        if isinstance(outcome, list):
            raise LedgerCommitConflict(str(outcome))
        return outcome

    def _pause(self, attempt: int) -> None:
        _backoff(attempt)

    def _claims_put(self, key: ItemKey, state: ledger.ClaimSet) -> dict[str, Any]:
        attributes = {
            ledger.VERSION_ATTRIBUTE: {"N": str(state.version)},
            ledger.CLAIMS_ATTRIBUTE: {"B": ledger.encode_claims(state.units)},
            TABLE_TTL_ATTRIBUTE: {"N": str(state.expires_at)},
        }
        if state.version == 1:
            return self._put(key, attributes, "attribute_not_exists(#pk)", {})
        return self._put(key, attributes, "#v = :v", {":v": {"N": str(state.version - 1)}})

    def _put(
        self, key: ItemKey, attributes: dict[str, Any], condition: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": {TABLE_PARTITION_KEY: {"S": key[0]}, TABLE_SORT_KEY: {"S": key[1]}, **attributes},
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#pk": TABLE_PARTITION_KEY}
            if "#pk" in condition
            else {"#v": ledger.VERSION_ATTRIBUTE},
        }
        if values:
            put["ExpressionAttributeValues"] = values
        return {"Put": put}


def _retry_subset(send: Callable[[list[int]], list[int]], count: int) -> list[int]:
    """Call `send(indices)` (returns the failed ones) on the failed subset until none fail or we give up."""
    pending = list(range(count))
    for attempt in range(SINK_ATTEMPTS):
        # A whole call that fails leaves every pending index pending: all of them are retried.
        with contextlib.suppress(ClientError, BotoCoreError):
            pending = send(pending)
        if not pending:
            return []
        _backoff(attempt)
    return pending


class KinesisOutputStream:
    """PutRecords of the batch's output lines, failed records retried. The client takes the prepared request
    path (pipeline/prepared_requests.py): with botocore's serializer a call cost ~2.3x the CPU."""

    def __init__(self, stream_name: str, kinesis: Any) -> None:
        self.stream_name = stream_name
        self.kinesis = PreparedClient(kinesis)

    def put(self, records: Sequence[tuple[str, bytes]]) -> list[int]:
        def send(indices: list[int]) -> list[int]:
            failed: list[int] = []
            for group in size_groups(
                indices,
                [len(records[i][1]) + 256 for i in indices],
                PUT_RECORDS_MAX_RECORDS,
                PUT_RECORDS_MAX_BYTES,
            ):
                entries = [{"PartitionKey": records[i][0] or "-", "Data": records[i][1]} for i in group]
                response = self.kinesis.put_records(StreamName=self.stream_name, Records=entries)
                failed += [i for i, r in zip(group, response["Records"], strict=True) if r.get("ErrorCode")]
            return failed

        return _retry_subset(send, len(records))


class SqsDeadLetterQueue:
    def __init__(self, queue_url: str, sqs: Any) -> None:
        self.queue_url = queue_url
        self.sqs = sqs

    def send(self, bodies: Sequence[bytes]) -> list[int]:
        def send(indices: list[int]) -> list[int]:
            failed: list[int] = []
            for group in size_groups(
                indices,
                [len(bodies[i]) for i in indices],
                SQS_SEND_MESSAGE_BATCH_MAX_ENTRIES,
                DLQ_MAX_MESSAGE_BYTES,  # the batch's sum too: see pipeline/aws_limits.py
            ):
                entries = [{"Id": str(i), "MessageBody": bodies[i].decode()} for i in group]
                response = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
                failed += [int(f["Id"]) for f in response.get("Failed") or []]
            return sorted(failed)

        return _retry_subset(send, len(bodies))


def size_groups(indices: list[int], sizes: list[int], max_count: int, max_bytes: int) -> list[list[int]]:
    """Consecutive groups of `indices`, each at most `max_count` long and `max_bytes` by `sizes`."""
    groups: list[list[int]] = []
    group: list[int] = []
    group_bytes = 0
    for index, size in zip(indices, sizes, strict=True):
        if group and (len(group) == max_count or group_bytes + size > max_bytes):
            groups.append(group)
            group, group_bytes = [], 0
        group.append(index)
        group_bytes += size
    if group:
        groups.append(group)
    return groups


class S3Archive:
    def __init__(self, bucket: str, s3: Any) -> None:
        self.bucket = bucket
        self.s3 = s3

    def put(self, key: str, body: bytes) -> None:
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/x-ndjson",
                ContentEncoding="gzip",
            )
        except (ClientError, BotoCoreError) as exc:
            raise TransientStoreError(f"archive put s3://{self.bucket}/{key} failed: {exc}") from exc


_AGGREGATE_STORES: dict[str, type[DynamoAggregateStore]] = {
    "per_record": DynamoAggregateStore,
    "folded": FoldedDynamoAggregateStore,
    "ledger": LedgerDynamoAggregateStore,
}


def aws_stores(config: PipelineConfig) -> Stores:
    return Stores(
        aggregates=_AGGREGATE_STORES[config.exactly_once](config.aggregates_table, client("dynamodb")),
        archive=S3Archive(config.archive_bucket, client("s3")),
        output=KinesisOutputStream(config.output_stream, client("kinesis")),
        dlq=SqsDeadLetterQueue(config.dlq_url, client("sqs")),
    )


def aws_fraud_engine(config: PipelineConfig) -> FraudEngine | None:
    """The fraud rules against DynamoDB (windowed state beside the aggregates) and EventBridge, or None
    when no alert bus is configured. Bad rules or a missing token key fail here, at cold start."""
    if not config.alert_bus:
        return None
    from pipeline.fraud.alerts import EventBridgeAlertSink
    from pipeline.fraud.dynamo_state import DynamoDBStateStore
    from pipeline.fraud.engine import FraudEngine
    from pipeline.fraud.rules import load_rules
    from pipeline.fraud.tokens import SubscriberTokenizer

    return FraudEngine(
        load_rules(config.fraud_rules_path),
        DynamoDBStateStore(
            client("dynamodb"), config.aggregates_table, state_writes=config.fraud_state_writes
        ),
        EventBridgeAlertSink(client("events"), config.alert_bus),
        SubscriberTokenizer.from_env(),
        home_region=config.home_region,
        write_concurrency=FRAUD_WRITE_CONCURRENCY,
    )
