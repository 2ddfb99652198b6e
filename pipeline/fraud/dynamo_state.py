"""The DynamoDB FraudStateStore: a batch's window items in 100-item transactions, one by one on conflict.

Item layout (in the aggregates table, under its own key prefix so it never collides with aggregates):
  pk = "fraud#<subscriber token>", sk = "win#<window_s>#<window start ms>"
  "c#<rule>.<name>" N   counters (ADD)
  "s#<rule>.<name>" SS  capped distinct sets of keyed member hashes / call intervals (ADD = set union)
  "wm#<source>"     S   highest record position applied from that source: "<shard>/<partition key hash>",
                        one in-order lane of records (zero-padded sequence number)
  expires_at        N   TTL
Windows shorter than 15 min that divide it (velocity's minutes) live in their 15-min block's item, their
attributes tagged "c#60@<start ms>/<rule>.<name>" (dynamo_items.storage): one item write per call, not two.
Alert markers: sk = "alert#<rule>#<window_s>#<window start ms>", put only if absent.

Idempotency argument (docs/fraud.md has the long form): the records of one (shard, partition key) reach
the function in sequence order, whatever the parallelization factor, and a re-delivery re-sends a suffix of
them. The first attempt writes with, per source, `wm < lowest position this batch brings`, so it succeeds
exactly when none of them was applied before. When it fails (a re-delivery, or a set at its cap), one
consistent read gives the watermarks and set sizes; the records above them are re-folded and written with
`wm = <value read>`, an optimistic lock, so no record is ever applied twice.

Batched first attempts (`apply_many`, the default "transact" mode): the first-attempt updates of up to 100
items, with exactly the conditions above, go in one TransactWriteItems. A transaction is all-or-nothing: if
any condition fails (or another writer conflicts), it is cancelled and NOTHING of it was written, so every
item of it is exactly where it was before, and continuing with the per-item path above (from a consistent
read for the items whose condition failed, from the first attempt for the others) is the same sequence of
states as if the per-item path had run alone. A committed transaction applied each item's first attempt,
which is what the per-item path would have done; the states are then read back with a consistent
BatchGetItem (transactions return no ALL_NEW). A lost response retried by botocore carries the same
ClientRequestToken (botocore fills it), so DynamoDB answers success without applying twice; were it
applied again it would fail its conditions and land in the per-item path, which finds the records applied.
A per-item UpdateItem that meets another lane's transaction (TransactionConflictException) re-reads and
re-folds like a failed condition.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any, TypeVar

from pipeline.constants import FRAUD_STATE_WRITE_MODES, TABLE_PARTITION_KEY, TABLE_TTL_ATTRIBUTE
from pipeline.fraud.dynamo_batch import (
    READ_FIRST,
    RETRY_TRANSACTION,
    WRITTEN,
    Verdict,
    cancellation_verdicts,
    error_code,
    pack,
    read_items,
)
from pipeline.fraud.dynamo_items import (
    Item,
    alert_key,
    first_attempt,
    in_items,
    item_key,
    set_sizes_from_item,
    state_from_item,
    storage,
    update_request,
    watermarks_from_item,
)
from pipeline.fraud.errors import FraudStateError
from pipeline.fraud.state import (
    AlertClaim,
    ApplyRequest,
    Contribution,
    WindowKey,
    WindowState,
    capped,
    fold,
    require_distinct_keys,
)

MAX_ATTEMPTS = 4  # beyond this the batch fails and Lambda retries it: contention, not data, is the problem
CONFLICT_BACKOFF_S = 0.02  # before a re-read after a lost race, doubled per attempt

_T = TypeVar("_T")
_R = TypeVar("_R")


def _is_conditional_failure(error: Exception) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


def _must_reread(error: Exception) -> bool:
    """The write did not happen and a consistent read + re-fold is the way on: a failed condition, or
    another lane's transaction holding the item (`TransactionConflictException`: an UpdateItem meeting a
    transaction in flight; botocore does not retry it)."""
    return error_code(error) in ("ConditionalCheckFailedException", "TransactionConflictException")


def _run(executor: Executor | None, function: Callable[[_T], _R], inputs: Iterable[_T]) -> list[_R]:
    return list(executor.map(function, inputs)) if executor else [function(i) for i in inputs]


class DynamoDBStateStore:
    def __init__(self, dynamodb_client: Any, table_name: str, *, state_writes: str = "transact") -> None:
        """`state_writes`: "transact" packs the batch's first attempts in transactions, "item" writes one
        UpdateItem per item (half the write units, ~50-100x the requests: docs/fraud.md)."""
        if state_writes not in FRAUD_STATE_WRITE_MODES:
            raise ValueError(
                f"state_writes={state_writes!r}: use one of {', '.join(FRAUD_STATE_WRITE_MODES)}"
            )
        self._client = dynamodb_client
        self._table_name = table_name
        self._transactional = state_writes == "transact"
        self._writes_lock = threading.Lock()  # the engine may apply items from several threads
        self.writes = 0  # write requests (a transaction is one)
        self.item_writes = 0  # item writes requested (a transaction counts its items), failed ones included

    def _count_write(self, items: int = 1) -> None:
        with self._writes_lock:
            self.writes += 1
            self.item_writes += items

    def apply(
        self,
        key: WindowKey,
        contributions: Sequence[Contribution],
        set_caps: Mapping[str, int],
        expires_at_s: int,
    ) -> WindowState:
        return self.apply_many([ApplyRequest(key, contributions, set_caps, expires_at_s)])[0]

    def apply_many(
        self, requests: Sequence[ApplyRequest], executor: Executor | None = None
    ) -> list[WindowState]:
        """`apply` for each request (distinct keys), packed in transactions; chunks run on `executor`.
        Windows that share an item (dynamo_items.storage) are written together, as one item."""
        require_distinct_keys(requests)
        merged, where = in_items(requests)
        items = self._apply_items(merged, executor)
        return [state_from_item(items[slot], tag) for slot, tag in where]

    def _apply_items(self, requests: Sequence[ApplyRequest], executor: Executor | None) -> list[Item]:
        """Each item's request (one per item), applied; the items afterwards."""
        if not self._transactional or len(requests) < 2:  # one item: UpdateItem ALL_NEW is 1 request, not 2
            return _run(executor, self._settle, requests)
        actions = [self._first_action(request) for request in requests]
        verdicts: dict[int, Verdict] = {}
        for chunk_verdicts in _run(executor, lambda c: self._transact(c, actions, True), pack(actions)):
            verdicts.update(chunk_verdicts)
        retry = [i for i, verdict in verdicts.items() if verdict == RETRY_TRANSACTION]
        if retry:  # innocent bystanders of a cancelled transaction: one more try together, then per item
            for chunk_verdicts in _run(
                executor, lambda c: self._transact(c, actions, False), pack(actions, retry)
            ):
                verdicts.update(chunk_verdicts)
        need_read = [requests[i].key for i, verdict in verdicts.items() if verdict in (WRITTEN, READ_FIRST)]
        items = read_items(self._client, self._table_name, need_read, item_key, executor) if need_read else {}
        states: list[Item | None] = [None] * len(requests)
        pending: list[tuple[int, Item | None]] = []
        for i, verdict in verdicts.items():
            if verdict == WRITTEN:
                states[i] = items.get(requests[i].key, {})
            else:  # READ_FIRST: continue from the read; ITEM_PATH: the item's own first attempt
                pending.append((i, items.get(requests[i].key, {}) if verdict == READ_FIRST else None))
        settled = _run(executor, lambda p: self._settle(requests[p[0]], p[1]), pending)
        for (i, _), state in zip(pending, settled, strict=True):
            states[i] = state
        assert None not in states, "every request got a verdict"
        return states  # type: ignore[return-value]

    def _first_action(self, request: ApplyRequest) -> dict[str, Any]:
        change, guards = first_attempt(request.contributions)
        update = update_request(request.key, change, guards, request.set_caps, {}, request.expires_at_s)
        return {"Update": {"TableName": self._table_name, **update}}

    def _transact(
        self, chunk: Sequence[int], actions: Sequence[dict[str, Any]], may_retry: bool
    ) -> dict[int, Verdict]:
        self._count_write(len(chunk))
        try:
            self._client.transact_write_items(TransactItems=[actions[i] for i in chunk])
        except Exception as error:
            verdicts = cancellation_verdicts(error, len(chunk), may_retry)
            if verdicts is None:
                raise  # not a cancellation (throttling, validation, network): as for an UpdateItem
            return dict(zip(chunk, verdicts, strict=True))
        return dict.fromkeys(chunk, WRITTEN)

    def _settle(self, request: ApplyRequest, item: Item | None = None) -> Item:
        """The per-item path: first attempt (unless `item`, a consistent read after it failed, is given),
        then read, re-fold and write under the optimistic lock until it holds; the item afterwards."""
        key, contributions, set_caps, expires_at_s = request
        if item is None:
            change, guards = first_attempt(contributions)
            try:
                return self._write(update_request(key, change, guards, set_caps, {}, expires_at_s))
            except Exception as error:
                if not _must_reread(error):
                    raise
        for attempt in range(MAX_ATTEMPTS - 1):
            if item is None:
                if attempt:
                    time.sleep(CONFLICT_BACKOFF_S * 2**attempt)  # let the conflicting writer finish
                item = self._read_consistent(key)
            watermarks = watermarks_from_item(item)
            change = fold(contributions, watermarks)
            if change.empty:
                return item  # everything in this batch was applied before: a re-delivery
            set_sizes = set_sizes_from_item(item)
            change.members = {
                name: kept
                for name, members in change.members.items()
                if (kept := capped(members, set_sizes.get(name, 0), set_caps[name]))
            }
            guards = {source: ("equals", watermarks.get(source)) for source in change.max_positions}
            try:
                return self._write(update_request(key, change, guards, set_caps, set_sizes, expires_at_s))
            except Exception as error:
                if not _must_reread(error):
                    raise
            item = None
        raise FraudStateError(
            f"window item {key} kept changing under {MAX_ATTEMPTS} attempts; retry the batch"
        )

    def _read_consistent(self, key: WindowKey) -> Item:
        response = self._client.get_item(TableName=self._table_name, Key=item_key(key), ConsistentRead=True)
        item: Item = response.get("Item", {})
        return item

    def _write(self, request: Mapping[str, Any]) -> Item:
        """One UpdateItem of `update_request(...)`, returning the item after it."""
        self._count_write()
        response = self._client.update_item(TableName=self._table_name, **request, ReturnValues="ALL_NEW")
        item: Item = response.get("Attributes", {})
        return item

    def read(self, key: WindowKey) -> WindowState:
        stored, tag = storage(key)
        response = self._client.get_item(TableName=self._table_name, Key=item_key(stored))
        return state_from_item(response.get("Item", {}), tag)

    def read_many(self, keys: Sequence[WindowKey], executor: Executor | None = None) -> list[WindowState]:
        """`read` of each key by eventually consistent BatchGetItem (100 items per request)."""
        stored = [storage(key) for key in keys]
        distinct = list(dict.fromkeys(item for item, _ in stored))  # BatchGetItem refuses a key twice
        items = read_items(self._client, self._table_name, distinct, item_key, executor, consistent=False)
        return [state_from_item(items.get(item, {}), tag) for item, tag in stored]

    def _claim_put(self, claim: AlertClaim) -> dict[str, Any]:
        key, rule_id, expires_at_s = claim
        return {
            "TableName": self._table_name,
            "Item": {**alert_key(key, rule_id), TABLE_TTL_ATTRIBUTE: {"N": str(expires_at_s)}},
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": TABLE_PARTITION_KEY},
        }

    def claim_alerts(self, claims: Sequence[AlertClaim], executor: Executor | None = None) -> list[bool]:
        """`claim_alert` for each claim, the conditional puts packed in transactions (transact mode).

        A committed transaction granted every claim in it. A cancelled one wrote nothing: a claim whose
        own condition failed is held by someone else (False); one cancelled only because of another goes
        once more in a transaction, then alone; anything else is claimed alone, as `claim_alert` would."""
        if not self._transactional or len(claims) < 2:
            return _run(executor, lambda claim: self.claim_alert(*claim), claims)
        actions = [{"Put": self._claim_put(claim)} for claim in claims]
        verdicts: dict[int, Verdict] = {}
        for chunk_verdicts in _run(executor, lambda c: self._transact(c, actions, True), pack(actions)):
            verdicts.update(chunk_verdicts)
        retry = [i for i, verdict in verdicts.items() if verdict == RETRY_TRANSACTION]
        if retry:
            for chunk_verdicts in _run(
                executor, lambda c: self._transact(c, actions, False), pack(actions, retry)
            ):
                verdicts.update(chunk_verdicts)
        granted = [verdicts[i] == WRITTEN for i in range(len(claims))]
        alone = [i for i in range(len(claims)) if verdicts[i] not in (WRITTEN, READ_FIRST)]
        for i, won in zip(alone, _run(executor, lambda i: self.claim_alert(*claims[i]), alone), strict=True):
            granted[i] = won
        return granted

    def claim_alert(self, key: WindowKey, rule_id: str, expires_at_s: int) -> bool:
        self._count_write()
        try:
            self._client.put_item(**self._claim_put(AlertClaim(key, rule_id, expires_at_s)))
        except Exception as error:
            if _is_conditional_failure(error):
                return False
            raise
        return True

    def release_alert(self, key: WindowKey, rule_id: str) -> None:
        self._count_write()
        self._client.delete_item(TableName=self._table_name, Key=alert_key(key, rule_id))
