"""The batched (transactional) fraud state writes against the embedded emulator: same states, same alerts,
and nothing counted twice through the per-item fallback."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from cdrcap.fraud_loadgen_eval import canonical_day
from infra.local.emulator import EmulatorProcess
from loadgen.synth import FraudRates, SynthConfig
from pipeline.fraud.alerts import InMemoryAlertSink
from pipeline.fraud.dynamo_state import DynamoDBStateStore
from pipeline.fraud.engine import FraudEngine
from pipeline.fraud.rules import load_rules
from pipeline.fraud.state import ApplyRequest, Contribution, InMemoryStateStore, WindowKey, position
from pipeline.fraud.tokens import SubscriberTokenizer
from tests.support.emulator_pipeline import create_table
from tests.support.fraud_support import TEST_KEY

CAPS = {"r.b": 8}
EXPIRES_AT_S = 2_000_000_000
ITEMS = 130  # more than one transaction's 100 actions
DENSE_FRAUD = FraudRates(wangiri=0.04, velocity=0.04, simultaneous=0.01, sms_spam=0.06)


def _requests(first: int, last: int, items: int = ITEMS) -> list[ApplyRequest]:
    """Records `first`..`last` of lanes a and b, spread over `items` window items (each record touches 2)."""
    contributions: dict[WindowKey, list[Contribution]] = {}
    for seq in range(first, last + 1):
        for lane in ("shard-0/a", "shard-0/b"):
            for item in (seq % items, (seq * 7 + 3) % items):
                key = WindowKey(f"tok{item:03d}", 900, 0)
                contributions.setdefault(key, []).append(
                    Contribution(lane, position(seq), {"r.calls": 1}, {"r.b": (f"{lane}-{seq}",)})
                )
    return [ApplyRequest(key, c, CAPS, EXPIRES_AT_S) for key, c in sorted(contributions.items())]


def _counted(store: Any, counts: Counter[str]) -> Any:
    store._client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: counts.update([model.name])
    )
    return store


@pytest.fixture
def stores(emulator: EmulatorProcess, aws_session: Any) -> tuple[DynamoDBStateStore, DynamoDBStateStore]:
    """A transactional store and a per-item store, each with its own client (requests are counted per
    client) and table."""
    clients = [aws_session.client("dynamodb", endpoint_url=emulator.endpoint_url) for _ in range(2)]
    return (
        DynamoDBStateStore(clients[0], create_table(clients[0])),
        DynamoDBStateStore(clients[1], create_table(clients[1]), state_writes="item"),
    )


def _snapshot(states: list[Any]) -> list[tuple[dict[str, int], dict[str, int]]]:
    return [(dict(s.counters), {name: len(members) for name, members in s.sets.items()}) for s in states]


def test_batched_apply_returns_what_per_item_apply_returns(
    stores: tuple[DynamoDBStateStore, DynamoDBStateStore],
) -> None:
    transact, item = stores
    counts: Counter[str] = Counter()
    _counted(transact, counts)
    requests = _requests(1, 300)

    batched = transact.apply_many(requests)
    one_by_one = item.apply_many(requests)

    assert [dict(s.counters) for s in batched] == [dict(s.counters) for s in one_by_one]
    assert [dict(s.sets) for s in batched] == [dict(s.sets) for s in one_by_one]
    assert counts == {"TransactWriteItems": 2, "BatchGetItem": 2}
    assert (transact.writes, transact.item_writes, item.writes) == (2, ITEMS, ITEMS)


def test_redelivered_batch_applies_nothing_twice(
    stores: tuple[DynamoDBStateStore, DynamoDBStateStore],
) -> None:
    transact, _ = stores
    requests = _requests(1, 300)
    first = transact.apply_many(requests)
    counts: Counter[str] = Counter()
    _counted(transact, counts)

    again = transact.apply_many(requests)

    assert _snapshot(again) == _snapshot(first)
    assert sum(s.count("r.calls") for s in again) == 300 * 2 * 2  # records x lanes x items each touches
    assert counts == {"BatchGetItem": 2}  # every item was settled by the read: a re-delivery writes nothing


def test_partial_overlap_counts_each_record_once(
    stores: tuple[DynamoDBStateStore, DynamoDBStateStore],
) -> None:
    transact, item = stores
    for store in stores:
        store.apply_many(_requests(1, 200))

    batched = transact.apply_many(_requests(101, 300))  # records 101..200 re-delivered with 100 new ones
    one_by_one = item.apply_many(_requests(101, 300))

    assert _snapshot(batched) == _snapshot(one_by_one)
    assert sum(transact.read(r.key).count("r.calls") for r in _requests(1, 300)) == 300 * 2 * 2


def test_a_set_at_its_cap_stays_bounded_in_one_transaction(
    stores: tuple[DynamoDBStateStore, DynamoDBStateStore],
) -> None:
    # Given 3 items whose sets reached their cap of 8 (10 records x 2 lanes offered to each)
    transact, item = stores
    for store in stores:
        store.apply_many(_requests(1, 30, items=3))
    counts: Counter[str] = Counter()
    _counted(transact, counts)

    # When more records bring new members
    batched = transact.apply_many(_requests(31, 60, items=3))
    one_by_one = item.apply_many(_requests(31, 60, items=3))

    # Then the read told each set's size, so one transaction added the counters and no member past the cap,
    # and the sets stayed within [cap, 2 x cap], exactly as the per-item store did
    assert counts == {"BatchGetItem": 1, "TransactWriteItems": 1}
    assert _snapshot(batched) == _snapshot(one_by_one)
    assert sum(s.count("r.calls") for s in batched) == 60 * 2 * 2
    assert all(CAPS["r.b"] <= len(s.members("r.b")) <= 2 * CAPS["r.b"] for s in batched)


def test_engine_raises_the_same_alerts_with_batched_writes(dynamodb: Any) -> None:
    # Given a small load-generator day dense with fraud, in batches of 100, the last three re-delivered
    day = canonical_day(2_000, seed=3, config=SynthConfig(subscribers=2_000, fraud=DENSE_FRAUD))
    batches = [day.cdrs[i : i + 100] for i in range(0, len(day.cdrs), 100)]
    deliveries = [*enumerate(batches), *list(enumerate(batches))[-3:]]

    def run(state: Any) -> list[tuple[Any, ...]]:
        engine = FraudEngine(
            load_rules(),
            state,
            InMemoryAlertSink(),
            SubscriberTokenizer(TEST_KEY),
            home_region=day.home_region,
            write_concurrency=4,
        )
        results = []
        for index, batch in deliveries:
            sequences = [str(index * 1000 + i) for i in range(len(batch))]
            outcome = engine.evaluate(batch, f"b{index}", shard_id="shard-0", sequence_numbers=sequences)
            alerts = sorted((a.rule_id, a.subscriber_token, a.window_start_ms) for a in outcome.alerts)
            results.append((dict(outcome.matched_rules), alerts))
        return results

    # When the engine runs on DynamoDB with transactions and on the in-memory reference store
    batched = run(DynamoDBStateStore(dynamodb, create_table(dynamodb)))
    reference = run(InMemoryStateStore())

    # Then every batch matched the same rules on the same CDRs and raised the same alerts
    assert batched == reference
    assert any(alerts for _, alerts in reference)


def _mixed_windows(first: int, last: int) -> list[ApplyRequest]:
    """Records `first`..`last` of one lane, each touching a minute, its 15-min block and its hour, for 3
    subscribers, over minutes that cross a block boundary (minute windows share their block's item)."""
    contributions: dict[WindowKey, list[Contribution]] = {}
    for seq in range(first, last + 1):
        at_ms = (12 + seq % 6) * 60_000  # minutes 12-17: blocks 0 and 1
        for window_s in (60, 900, 3600):
            key = WindowKey(f"tok{seq % 3}", window_s, at_ms - at_ms % (window_s * 1000))
            contributions.setdefault(key, []).append(
                Contribution("shard-0/a", position(seq), {"r.calls": 1}, {"r.b": (f"m{seq % 11}",)})
            )
    return [ApplyRequest(key, c, CAPS, EXPIRES_AT_S) for key, c in sorted(contributions.items())]


def test_windows_sharing_an_item_count_as_the_reference_store_does(dynamodb: Any) -> None:
    # Given batches over minute, 15-min and hour windows (minutes kept in their block's item), one of them
    # re-delivered with new records, and sets that reach their cap
    store, reference = DynamoDBStateStore(dynamodb, create_table(dynamodb)), InMemoryStateStore()
    deliveries = [(0, 29), (30, 59), (20, 79), (80, 99)]
    for first, last in deliveries:
        requests = _mixed_windows(first, last)
        # When each batch is applied to DynamoDB and to the in-memory reference
        applied = store.apply_many(requests)
        expected = reference.apply_many(requests)
        # Then every window's state after the batch is the same
        assert _snapshot(applied) == _snapshot(expected)
    keys = [request.key for request in _mixed_windows(0, 99)]
    assert _snapshot(store.read_many(keys)) == _snapshot(reference.read_many(keys))
    assert sum(s.count("r.calls") for s in store.read_many(keys)) == 100 * 3
