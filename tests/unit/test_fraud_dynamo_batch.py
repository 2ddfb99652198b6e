"""Packing, cancellation verdicts, consistent re-reads and the write-mode switch of the batched fraud store,
with a fake DynamoDB client (the emulator tests check the same store end to end)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

import pipeline.fraud.dynamo_batch as batch_module
from pipeline import constants as c
from pipeline.config import ConfigError, load_config
from pipeline.fraud.dynamo_batch import (
    ITEM_PATH,
    READ_FIRST,
    RETRY_TRANSACTION,
    TRANSACT_BYTES_BUDGET,
    cancellation_verdicts,
    pack,
    read_items,
)
from pipeline.fraud.dynamo_items import (
    STATE_ATTRIBUTE,
    VERSION_ATTRIBUTE,
    StoredState,
    applied,
    decode,
    encode,
    in_items,
    item_key,
    put_request,
    storage,
    window_state,
)
from pipeline.fraud.dynamo_state import DynamoDBStateStore
from pipeline.fraud.errors import FraudStateError
from pipeline.fraud.state import AlertClaim, ApplyRequest, Contribution, WindowKey, position
from tests.support.pipeline_events import PIPELINE_ENV


def _cancelled(*codes: str) -> ClientError:
    response: Any = {
        "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
        "CancellationReasons": [{"Code": code} for code in codes],
    }
    return ClientError(response, "TransactWriteItems")


def _request(token: str, window_s: int = 900, start_ms: int = 0) -> ApplyRequest:
    contribution = Contribution("shard-0/a", position(7), {"r.calls": 1}, {})
    return ApplyRequest(WindowKey(token, window_s, start_ms), [contribution], {}, 2_000_000_000)


class FakeDynamoDB:
    """Cancels the first transaction with `reasons`, commits the rest; every item reads as absent."""

    def __init__(
        self, reasons: tuple[str, ...] = (), unprocessed_rounds: int = 0, taken: frozenset[str] = frozenset()
    ) -> None:
        self.reasons = reasons
        self.unprocessed_rounds = unprocessed_rounds
        self.taken = taken  # partition keys whose alert marker exists (put_item refuses them)
        self.calls: list[tuple[str, Any]] = []
        self.consistent_reads: list[bool] = []
        self.conditions: list[str] = []

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(("transact", [_action_pk(a) for a in TransactItems]))
        if self.reasons:
            reasons, self.reasons = self.reasons, ()
            raise _cancelled(*reasons)
        return {}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((table, request),) = RequestItems.items()
        self.calls.append(("batch_get", len(request["Keys"])))
        self.consistent_reads.append(request["ConsistentRead"])
        if self.unprocessed_rounds:
            self.unprocessed_rounds -= 1
            return {"Responses": {table: []}, "UnprocessedKeys": RequestItems}
        return {"Responses": {table: [dict(key) for key in request["Keys"]]}}

    def get_item(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("get", request["Key"]["pk"]["S"]))
        return {}

    def put_item(self, **request: Any) -> dict[str, Any]:
        pk = request["Item"]["pk"]["S"]
        self.calls.append(("put", pk))
        self.conditions.append(request["ConditionExpression"])
        if pk in self.taken:
            error: Any = {"Error": {"Code": "ConditionalCheckFailedException", "Message": "exists"}}
            raise ClientError(error, "PutItem")
        return {}


def _action_pk(action: dict[str, Any]) -> str:
    ((_, body),) = action.items()
    return str((body.get("Key") or body["Item"])["pk"]["S"])


KEY_A = WindowKey("a", 900, 0)


def _claim(token: str) -> AlertClaim:
    return AlertClaim(WindowKey(token, 60, 0), "r", 2_000_000_000)


def test_pack_splits_at_100_actions() -> None:
    actions = [{"Update": {"n": i}} for i in range(250)]

    assert [len(chunk) for chunk in pack(actions)] == [100, 100, 50]


def test_pack_splits_under_the_byte_budget() -> None:
    big = {"Update": {"members": "x" * (TRANSACT_BYTES_BUDGET // 3)}}

    assert pack([big] * 5) == [[0, 1], [2, 3], [4]]


def test_cancellation_sends_each_item_where_its_reason_says() -> None:
    verdicts = cancellation_verdicts(
        _cancelled("None", "ConditionalCheckFailed", "TransactionConflict"), 3, True
    )

    assert verdicts == [RETRY_TRANSACTION, READ_FIRST, ITEM_PATH]


def test_a_second_cancellation_sends_bystanders_to_the_per_item_path() -> None:
    assert cancellation_verdicts(_cancelled("None", "ConditionalCheckFailed"), 2, False) == [
        ITEM_PATH,
        READ_FIRST,
    ]


def test_missing_reasons_send_everything_to_the_per_item_path() -> None:
    assert cancellation_verdicts(_cancelled(), 2, True) == [ITEM_PATH, ITEM_PATH]


def test_other_errors_are_not_cancellations() -> None:
    throttled = ClientError({"Error": {"Code": "ThrottlingException"}}, "TransactWriteItems")

    assert cancellation_verdicts(throttled, 1, True) is None


def test_unprocessed_keys_are_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_module, "_backoff", lambda attempt: None)
    client = FakeDynamoDB(unprocessed_rounds=2)
    keys = [WindowKey(f"t{i}", 60, 0) for i in range(150)]

    found = read_items(client, "table", keys, item_key)

    assert set(found) == set(keys)
    assert [count for name, count in client.calls] == [100, 100, 100, 50]


def test_unprocessed_keys_are_read_again_consistently_even_if_not_echoed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a service that hands back unprocessed keys without the ConsistentRead flag
    monkeypatch.setattr(batch_module, "_backoff", lambda attempt: None)
    client = FakeDynamoDB()
    answers = iter([True, False])

    def batch_get_item(RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((table, request),) = RequestItems.items()
        assert request["ConsistentRead"] is True  # the fake's own check, on every round
        if next(answers):
            return {"Responses": {table: []}, "UnprocessedKeys": {table: {"Keys": request["Keys"]}}}
        return {"Responses": {table: [dict(key) for key in request["Keys"]]}}

    client.batch_get_item = batch_get_item  # type: ignore[method-assign]
    keys = [WindowKey("t", 60, 0)]
    # When read, then Then the second round is strongly consistent too and finds the item
    assert set(read_items(client, "table", keys, item_key)) == set(keys)


def test_a_put_meeting_another_lanes_transaction_rereads_and_writes_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a first PutItem refused with TransactionConflictException (another lane's transaction on it)
    monkeypatch.setattr("pipeline.fraud.dynamo_state.time.sleep", lambda s: None)
    client = FakeDynamoDB()
    refused = {"n": 0}
    original_put = client.put_item

    def put_item(**request: Any) -> dict[str, Any]:
        if not refused["n"]:
            refused["n"] += 1
            client.calls.append(("put", "conflict"))
            error: Any = {"Error": {"Code": "TransactionConflictException", "Message": "in flight"}}
            raise ClientError(error, "PutItem")
        return original_put(**request)

    client.put_item = put_item  # type: ignore[method-assign]
    store = DynamoDBStateStore(client, "table", state_writes="item")
    # When the item is applied
    state = store.apply_many([_request("a")])
    # Then it was read consistently again and written once under the optimistic lock, not raised
    assert [name for name, _ in client.calls] == ["batch_get", "put", "batch_get", "put"]
    assert client.consistent_reads == [True, True]
    assert state[0].count("r.calls") == 1


def test_keys_still_unprocessed_fail_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_module, "_backoff", lambda attempt: None)

    with pytest.raises(FraudStateError, match="retry the batch"):
        read_items(FakeDynamoDB(unprocessed_rounds=99), "table", [WindowKey("t", 60, 0)], item_key)


def test_a_cancelled_transaction_rereads_the_refused_items_and_goes_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a transaction cancelled by b's condition and a conflict on c
    monkeypatch.setattr("pipeline.fraud.dynamo_state.time.sleep", lambda s: None)
    client = FakeDynamoDB(reasons=("None", "ConditionalCheckFailed", "TransactionConflict"))
    store = DynamoDBStateStore(client, "table")

    # When a, b, c are applied together
    states = store.apply_many([_request("a"), _request("b"), _request("c")])

    # Then b and c are read again (consistently), a keeps its read, and all three go in one more transaction
    assert [s.count("r.calls") for s in states] == [1, 1, 1]
    assert client.calls == [
        ("batch_get", 3),
        ("transact", ["fraud#a", "fraud#b", "fraud#c"]),
        ("batch_get", 2),
        ("transact", ["fraud#a", "fraud#b", "fraud#c"]),
    ]
    assert client.consistent_reads == [True, True]
    assert (store.writes, store.item_writes) == (2, 6)


def test_items_that_keep_changing_fail_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a store whose every conditional put is refused (another writer always got there first)
    monkeypatch.setattr("pipeline.fraud.dynamo_state.time.sleep", lambda s: None)
    client = FakeDynamoDB(taken=frozenset({"fraud#a"}))
    store = DynamoDBStateStore(client, "table", state_writes="item")

    # When applied, then the batch fails (to be retried) after a bounded number of rounds
    with pytest.raises(FraudStateError, match="retry the batch"):
        store.apply_many([_request("a")])
    assert [name for name, _ in client.calls].count("put") == 4


def test_duplicate_keys_are_refused() -> None:
    store = DynamoDBStateStore(FakeDynamoDB(), "table")

    with pytest.raises(ValueError, match="distinct window keys"):
        store.apply_many([_request("a"), _request("a")])


def test_state_write_mode_defaults_to_transact() -> None:
    assert load_config(PIPELINE_ENV).fraud_state_writes == "transact"


def test_state_write_mode_item_is_accepted() -> None:
    assert load_config({**PIPELINE_ENV, c.ENV_FRAUD_STATE_WRITES: " Item "}).fraud_state_writes == "item"


def test_bad_state_write_mode_is_named_with_the_fix() -> None:
    with pytest.raises(ConfigError, match=f"{c.ENV_FRAUD_STATE_WRITES}='batch'.*set transact or item"):
        load_config({**PIPELINE_ENV, c.ENV_FRAUD_STATE_WRITES: "batch"})


def test_alert_claims_go_in_one_transaction_and_a_taken_marker_is_refused() -> None:
    # Given a transaction cancelled by b's condition (b's marker exists)
    client = FakeDynamoDB(reasons=("None", "ConditionalCheckFailed", "None"))
    store = DynamoDBStateStore(client, "table")

    # When a, b, c are claimed together
    granted = store.claim_alerts([_claim("a"), _claim("b"), _claim("c")])

    # Then a and c are granted by a second transaction without b, and b is refused without a put
    assert granted == [True, False, True]
    assert client.calls == [
        ("transact", ["fraud#a", "fraud#b", "fraud#c"]),
        ("transact", ["fraud#a", "fraud#c"]),
    ]
    assert (store.writes, store.item_writes) == (2, 5)


def test_an_alert_claim_cancelled_by_a_conflict_is_claimed_alone() -> None:
    client = FakeDynamoDB(reasons=("TransactionConflict", "None"), taken=frozenset({"fraud#a"}))
    store = DynamoDBStateStore(client, "table")

    granted = store.claim_alerts([_claim("a"), _claim("b")])

    assert granted == [False, True]
    assert client.calls == [
        ("transact", ["fraud#a", "fraud#b"]),
        ("transact", ["fraud#b"]),
        ("put", "fraud#a"),
    ]


def test_item_mode_claims_alerts_one_put_each() -> None:
    client = FakeDynamoDB(taken=frozenset({"fraud#b"}))
    store = DynamoDBStateStore(client, "table", state_writes="item")

    assert store.claim_alerts([_claim("a"), _claim("b")]) == [True, False]
    assert client.calls == [("put", "fraud#a"), ("put", "fraud#b")]


def test_read_many_is_one_eventually_consistent_batch_get_of_distinct_keys() -> None:
    client = FakeDynamoDB()
    store = DynamoDBStateStore(client, "table")
    first, second = WindowKey("a", 60, 0), WindowKey("b", 60, 0)

    states = store.read_many([first, second, first])

    assert len(states) == 3
    assert client.calls == [("batch_get", 2)]
    assert client.consistent_reads == [False]


def test_a_minute_window_is_written_in_its_15_minute_blocks_item() -> None:
    # Given one subscriber's 900-s window and a 60-s window inside it, and another subscriber's minute
    client = FakeDynamoDB()
    store = DynamoDBStateStore(client, "table")
    minute_start = 2 * 60_000
    requests = [_request("a"), _request("a", 60, minute_start), _request("b", 60, minute_start)]

    # When applied together
    store.apply_many(requests)

    # Then the two windows of "a" are one action on the block's item, their names told apart by a tag
    ((_, reads), (_, pks)) = client.calls
    assert (reads, pks, store.item_writes) == (2, ["fraud#a", "fraud#b"], 2)
    assert storage(WindowKey("a", 60, minute_start)) == (WindowKey("a", 900, 0), f"60@{minute_start}/")
    assert storage(WindowKey("a", 3600, 0)) == (WindowKey("a", 3600, 0), "")


def test_windows_sharing_an_item_are_merged_into_one_conditional_put() -> None:
    key, tag = storage(WindowKey("a", 60, 60_000))
    merged, where = in_items([_request("a"), _request("a", 60, 60_000)])

    state = applied(StoredState(), merged[0].contributions, merged[0].set_caps)
    assert state is not None
    put = put_request(key, state, merged[0].expires_at_s)

    assert where == [(0, ""), (0, tag)]
    # the minute [60 s, 120 s) ends 780 s before its block: its expiry moves with it to the block's end
    assert merged[0].expires_at_s == 2_000_000_000 + 780
    assert sorted(state.counters) == [f"{tag}r.calls", "r.calls"]
    assert sorted(state.watermarks) == ["shard-0/a"]  # one watermark per lane for the whole item
    assert put["Item"]["expires_at"] == {"N": str(2_000_000_000 + 780)}
    assert decode(put["Item"]).counters == state.counters


def test_each_window_reads_only_its_own_names_from_a_shared_item() -> None:
    stored = StoredState(
        {"r.calls": 3, "60@60000/r.calls": 2, "60@120000/r.calls": 5},
        {"60@60000/r.b": {"x"}},
        {"shard-0/a": position(7)},
        version=4,
    )
    item = {STATE_ATTRIBUTE: {"B": encode(stored)}, VERSION_ATTRIBUTE: {"N": "4"}}

    block = window_state(decode(item))
    minute = window_state(decode(item), "60@60000/")

    assert (block.counters, block.sets) == ({"r.calls": 3}, {})
    assert (minute.counters, minute.sets) == ({"r.calls": 2}, {"r.b": {"x"}})
    assert decode(item) == stored  # the watermark's zero padding comes back


def test_an_item_without_the_state_attribute_reads_as_new() -> None:
    # Given an item of the previous layout (typed attributes, no state blob or version)
    old_layout = {"c#r.calls": {"N": "3"}, "wm#shard-0/a": {"S": position(7)}}

    assert decode(old_layout) == StoredState()
    assert decode({}) == StoredState()


def test_a_new_item_is_put_only_if_absent_and_an_existing_one_only_at_the_version_read() -> None:
    contributions = [Contribution("shard-0/a", position(7), {"r.calls": 1}, {})]
    first = applied(StoredState(), contributions, {})
    assert first is not None
    later = applied(StoredState({"r.calls": 1}, {}, {"shard-0/a": position(3)}, version=5), contributions, {})
    assert later is not None

    new, existing = put_request(KEY_A, first, 1), put_request(KEY_A, later, 1)

    assert (new["ConditionExpression"], new["Item"]["v"]) == ("attribute_not_exists(#v)", {"N": "1"})
    assert (existing["ConditionExpression"], existing["ExpressionAttributeValues"]) == (
        "#v = :v",
        {":v": {"N": "5"}},
    )
    assert (existing["Item"]["v"], later.counters) == ({"N": "6"}, {"r.calls": 2})


def test_records_at_or_below_the_watermark_fold_to_nothing() -> None:
    stored = StoredState({"r.calls": 2}, {}, {"shard-0/a": position(7)}, version=1)
    redelivered = [Contribution("shard-0/a", position(i), {"r.calls": 1}, {}) for i in (6, 7)]

    assert applied(stored, redelivered, {}) is None


def test_a_set_at_its_cap_takes_no_more_members_and_a_smaller_one_at_most_cap() -> None:
    caps = {"r.b": 2}
    full = StoredState({}, {"r.b": {"p", "q"}}, {}, version=1)
    short = StoredState({}, {"r.b": {"p"}}, {}, version=1)
    more = [Contribution("shard-0/a", position(1), {}, {"r.b": ("x", "y", "z")})]

    after_full, after_short = applied(full, more, caps), applied(short, more, caps)

    assert after_full is not None and after_full.sets["r.b"] == {"p", "q"}
    assert after_short is not None and after_short.sets["r.b"] == {"p", "x", "y"}
    assert short.sets["r.b"] == {"p"}  # the state read is left as it was (a refused write re-folds it)


def test_minute_windows_of_one_block_are_read_as_one_item() -> None:
    client = FakeDynamoDB()
    store = DynamoDBStateStore(client, "table")

    states = store.read_many([WindowKey("a", 60, 0), WindowKey("a", 60, 60_000), WindowKey("a", 900, 0)])

    assert len(states) == 3
    assert client.calls == [("batch_get", 1)]


def test_previous_windows_in_items_the_batch_just_applied_are_not_read_again() -> None:
    # Given a batch that applied subscriber a's minute [60 s, 120 s) (kept in the 15-minute block's item)
    client = FakeDynamoDB()
    store = DynamoDBStateStore(client, "table")
    store.apply_many([_request("a", 60, 60_000)])
    client.calls.clear()

    # When the previous minutes of a and of b are read
    previous_a, previous_b = store.read_many([WindowKey("a", 60, 0), WindowKey("b", 60, 0)])

    # Then only b's item is asked for: a's minute 0 is in the block item the batch just wrote
    assert client.calls == [("batch_get", 1)]
    assert (previous_a.counters, previous_b.counters) == ({}, {})
    assert store.read_many([WindowKey("a", 60, 60_000)])[0].count("r.calls") == 1
