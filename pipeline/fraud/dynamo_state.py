"""The DynamoDB FraudStateStore: read a batch's window items, fold, write them back 100 to a transaction.

Item layout (in the aggregates table, under its own key prefix so it never collides with aggregates):
  pk = "fraud#<subscriber token>", sk = "win#<window_s>#<window start ms>"
  "st"       B  the item's whole state, one value (dynamo_items.encode): counters "<rule>.<name>", capped
                distinct sets of keyed member hashes / call intervals, and per source the highest record
                position applied from it ("<shard>/<partition key hash>": one in-order lane of records)
  "v"        N  version: 1 for the first write, + 1 for each write
  expires_at N  TTL
Windows shorter than 15 min that divide it (velocity's minutes) live in their 15-min block's item, their
names tagged "60@<start ms>/<rule>.<name>" (dynamo_items.storage): one item write per call, not two.
Alert markers: sk = "alert#<rule>#<window_s>#<window start ms>", put only if absent.

Idempotency argument (docs/fraud.md has the long form): the records of one (shard, partition key) reach
the function in sequence order, whatever the parallelization factor, and a re-delivery re-sends a suffix of
them. The batch's items are read with one strongly consistent BatchGetItem per 100; for each, only the
records above its watermarks are folded in, the watermarks move to the highest position folded, and the
whole state is put with the condition `v = <version read>` (`attribute_not_exists(v)` for a new item): an
optimistic lock, so the write happens only if nobody wrote the item since the read, and no record is ever
applied twice. A refused write (another writer got there first) is read again and re-folded; an item whose
records were all applied before (a re-delivery) is not written at all.

Batched writes (the default "transact" mode): up to 100 of those conditional puts in one
TransactWriteItems. A transaction is all-or-nothing: committed, every item holds exactly the state this batch
folded (which the rules then judge: no read-back); cancelled, NOTHING of it was written, so an item whose own
condition failed is read again and re-folded, and one cancelled only because of another goes again with the
state it had. A lost response retried by botocore carries the same ClientRequestToken, so DynamoDB answers
success without applying twice; were it applied again its conditions would fail, and the re-read finds the
records applied. "item" mode writes the same puts one PutItem each.
"""

from __future__ import annotations

import random
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
    StoredState,
    alert_key,
    applied,
    decode,
    in_items,
    item_key,
    put_request,
    storage,
    window_state,
)
from pipeline.fraud.errors import FraudStateError
from pipeline.fraud.state import (
    AlertClaim,
    ApplyRequest,
    Contribution,
    WindowKey,
    WindowState,
    require_distinct_keys,
)
from pipeline.prepared_requests import PreparedClient

MAX_ATTEMPTS = 4  # write rounds; beyond this the batch fails and Lambda retries it: contention, not data
CONFLICT_BACKOFF_S = 0.02  # before a round after a lost race, doubled per round

_T = TypeVar("_T")
_R = TypeVar("_R")


def _is_conditional_failure(error: Exception) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


def _must_reread(error: Exception) -> bool:
    """The write did not happen and a consistent read + re-fold is the way on: a failed condition, or
    another lane's transaction holding the item (`TransactionConflictException`: a PutItem meeting a
    transaction in flight; botocore does not retry it)."""
    return error_code(error) in ("ConditionalCheckFailedException", "TransactionConflictException")


def _run(executor: Executor | None, function: Callable[[_T], _R], inputs: Iterable[_T]) -> list[_R]:
    return list(executor.map(function, inputs)) if executor else [function(i) for i in inputs]


class DynamoDBStateStore:
    def __init__(self, dynamodb_client: Any, table_name: str, *, state_writes: str = "transact") -> None:
        """`state_writes`: "transact" packs the batch's conditional puts in transactions, "item" sends one
        PutItem per item (half the write units, ~50-100x the requests: docs/fraud.md)."""
        if state_writes not in FRAUD_STATE_WRITE_MODES:
            raise ValueError(
                f"state_writes={state_writes!r}: use one of {', '.join(FRAUD_STATE_WRITE_MODES)}"
            )
        # the prepared request path (pipeline/prepared_requests.py), installed on first use: a lazily built
        # client is then built with the first batch, as before, not at cold start
        self._client = PreparedClient(dynamodb_client)
        self._table_name = table_name
        self._transactional = state_writes == "transact"
        # the items the last apply_many wrote or found applied, as they were then: read_many answers from
        # them (an eventually consistent read may return any recent state; this one is the newest we know)
        self._last_applied: dict[WindowKey, StoredState] = {}
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
        """`apply` for each request (distinct keys): one consistent read and one conditional put per item,
        both 100 to a request. Windows that share an item (dynamo_items.storage) are written together."""
        require_distinct_keys(requests)
        merged, where = in_items(requests)
        items = self._apply_items(merged, executor)
        self._last_applied = {request.key: item for request, item in zip(merged, items, strict=True)}
        return [window_state(items[slot], tag) for slot, tag in where]

    def _read_states(self, keys: Sequence[WindowKey], executor: Executor | None) -> list[StoredState]:
        found = read_items(self._client, self._table_name, keys, item_key, executor)
        return [decode(found.get(key, {})) for key in keys]

    def _apply_items(self, requests: Sequence[ApplyRequest], executor: Executor | None) -> list[StoredState]:
        """Each item's request (one per item) folded into the item as read and written under the
        optimistic lock, re-read and re-folded when refused; the items afterwards."""
        current = self._read_states([request.key for request in requests], executor)
        after: list[StoredState | None] = [None] * len(requests)
        pending = list(range(len(requests)))
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                time.sleep(CONFLICT_BACKOFF_S * 2**attempt * random.uniform(0.5, 1.0))  # let them finish
            folded: dict[int, StoredState] = {}
            for i in pending:
                new = applied(current[i], requests[i].contributions, requests[i].set_caps)
                if new is None:
                    after[i] = current[i]  # every record here was applied before: nothing to write
                else:
                    folded[i] = new
            verdicts = self._put_all(requests, folded, executor)
            for i, verdict in verdicts.items():
                if verdict == WRITTEN:
                    after[i] = folded[i]
            pending = [i for i, verdict in verdicts.items() if verdict != WRITTEN]
            reread = [i for i in pending if verdicts[i] != RETRY_TRANSACTION]
            if reread:
                states = self._read_states([requests[i].key for i in reread], executor)
                for i, state in zip(reread, states, strict=True):
                    current[i] = state
            if not pending:
                assert None not in after, "every item was written or found applied"
                return after  # type: ignore[return-value]
        raise FraudStateError(
            f"{len(pending)} window items kept changing under {MAX_ATTEMPTS} attempts; retry the batch"
        )

    def _put_all(
        self, requests: Sequence[ApplyRequest], folded: Mapping[int, StoredState], executor: Executor | None
    ) -> dict[int, Verdict]:
        """Each folded state's conditional put: WRITTEN, READ_FIRST (refused: read again), or
        RETRY_TRANSACTION (cancelled by another item of its transaction: its read still stands)."""
        order = list(folded)
        puts = [put_request(requests[i].key, folded[i], requests[i].expires_at_s) for i in order]
        if not self._transactional or len(order) < 2:
            written = _run(executor, self._put, puts)
            return {i: WRITTEN if ok else READ_FIRST for i, ok in zip(order, written, strict=True)}
        actions = [{"Put": {"TableName": self._table_name, **put}} for put in puts]
        verdicts: dict[int, Verdict] = {}
        for chunk_verdicts in _run(executor, lambda c: self._transact(c, actions, True), pack(actions)):
            for slot, verdict in chunk_verdicts.items():
                # a conflict or throttling inside the transaction: read again too (the item may change)
                verdicts[order[slot]] = verdict if verdict in (WRITTEN, RETRY_TRANSACTION) else READ_FIRST
        return verdicts

    def _put(self, put: Mapping[str, Any]) -> bool:
        """One conditional PutItem; False when refused (the item changed since it was read)."""
        self._count_write()
        try:
            self._client.put_item(TableName=self._table_name, **put)
        except Exception as error:
            if not _must_reread(error):
                raise
            return False
        return True

    def _transact(
        self, chunk: Sequence[int], actions: Sequence[dict[str, Any]], may_retry: bool
    ) -> dict[int, Verdict]:
        self._count_write(len(chunk))
        try:
            self._client.transact_write_items(TransactItems=[actions[i] for i in chunk])
        except Exception as error:
            verdicts = cancellation_verdicts(error, len(chunk), may_retry)
            if verdicts is None:
                raise  # not a cancellation (throttling, validation, network): as for a PutItem
            return dict(zip(chunk, verdicts, strict=True))
        return dict.fromkeys(chunk, WRITTEN)

    def read(self, key: WindowKey) -> WindowState:
        stored, tag = storage(key)
        response = self._client.get_item(TableName=self._table_name, Key=item_key(stored))
        return window_state(decode(response.get("Item", {})), tag)

    def read_many(self, keys: Sequence[WindowKey], executor: Executor | None = None) -> list[WindowState]:
        """`read` of each key: from the items the last `apply_many` left (a velocity minute's previous minute
        is mostly in the same 15-minute item), the others by eventually consistent BatchGetItem (100 items
        per request)."""
        stored = [storage(key) for key in keys]
        known = self._last_applied
        states = {item: known[item] for item, _ in stored if item in known}
        missing = list(dict.fromkeys(item for item, _ in stored if item not in states))  # no key twice
        if missing:
            items = read_items(self._client, self._table_name, missing, item_key, executor, consistent=False)
            states.update((item, decode(items.get(item, {}))) for item in missing)
        return [window_state(states[item], tag) for item, tag in stored]

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
