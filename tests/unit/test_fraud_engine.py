"""Engine guarantees: re-deliveries never double count, one alert per window, no clear MSISDN leaves."""

from __future__ import annotations

import gc
import json
from collections.abc import Sequence
from concurrent.futures import Executor

import pytest

from pipeline.fraud.alerts import Alert, AlertDeliveryError, InMemoryAlertSink
from pipeline.fraud.engine import FraudEngine
from pipeline.fraud.errors import RulesConfigError
from pipeline.fraud.rules import WangiriRule, load_rules
from pipeline.fraud.state import AlertClaim, InMemoryStateStore, WindowKey, WindowState
from pipeline.fraud.tokens import SubscriberTokenizer
from pipeline.schema import RecordType
from tests.support.fraud_support import DAY0_MS, FOREIGN_LURE, TEST_KEY, Harness, cdr, home_number, lure_calls


def _threshold(harness: Harness) -> int:
    rule = harness.config(WangiriRule)
    return max(rule.min_calls, rule.min_distinct_b)


def _calls_counted(harness: Harness) -> int:
    """The lure's Wangiri call counter in the first window (an empty apply is a read)."""
    key = WindowKey(harness.token(FOREIGN_LURE), 900, DAY0_MS)
    return harness.state.apply(key, [], {}, 0).count("wangiri.calls")


def test_same_batch_redelivered_is_not_counted_twice() -> None:
    harness = Harness()
    batch = lure_calls(_threshold(harness) - 5)

    harness.redeliver(batch, first_sequence=1)
    harness.redeliver(batch, first_sequence=1)

    assert _calls_counted(harness) == len(batch)
    assert harness.alerts("wangiri") == []


def test_overlapping_suffix_after_partial_failure_counts_only_new_records() -> None:
    # Given records 1..15 applied, then Lambda re-delivers from record 10 with 5 new ones behind it
    harness = Harness()
    records = lure_calls(_threshold(harness) - 1)

    harness.redeliver(records[:15], first_sequence=1)
    harness.redeliver(records[9:], first_sequence=10)

    assert _calls_counted(harness) == len(records)
    assert harness.alerts("wangiri") == []


def test_lanes_of_one_shard_interleave_without_losing_records() -> None:
    # Given PF > 1: lane "x" applies sequence 20..29, then lane "y" presents lower sequence numbers 1..9
    harness = Harness()
    records = lure_calls(19)
    lane_x, lane_y = records[:10], records[10:]

    harness.engine.evaluate(
        lane_x,
        "x",
        shard_id="s0",
        sequence_numbers=[str(20 + i) for i in range(10)],
        partition_keys=["x"] * 10,
    )
    harness.engine.evaluate(
        lane_y, "y", shard_id="s0", sequence_numbers=[str(1 + i) for i in range(9)], partition_keys=["y"] * 9
    )

    assert _calls_counted(harness) == 19


def test_ledger_mode_redelivery_by_batch_id_is_not_counted_twice() -> None:
    harness = Harness()
    batch = lure_calls(_threshold(harness) - 5)

    harness.engine.evaluate(batch, "shard-0:100:200")
    harness.engine.evaluate(batch, "shard-0:100:200")

    assert _calls_counted(harness) == len(batch)


def test_threshold_crossed_across_two_batches_alerts_once() -> None:
    harness = Harness()
    records = lure_calls(_threshold(harness) * 2)
    half = len(records) // 4

    outcomes = [
        harness.feed(records[:half]),
        harness.feed(records[half:]),
        harness.feed(lure_calls(3, first=500, start_s=300)),
    ]

    assert [len(o.alerts) for o in outcomes] == [0, 1, 0]


def test_redelivered_firing_batch_does_not_alert_again() -> None:
    harness = Harness()
    batch = lure_calls(_threshold(harness))

    first = harness.redeliver(batch, first_sequence=1)
    again = harness.redeliver(batch, first_sequence=1)

    assert (len(first.alerts), len(again.alerts)) == (1, 0)
    assert again.matched_rules == first.matched_rules  # re-emitted CDRs still carry their rule ids


def test_two_shards_over_threshold_emit_one_alert() -> None:
    # Given two engines (two shards) sharing the state store, each seeing the full lure burst
    state = InMemoryStateStore()
    shard_a, shard_b = Harness(state=state), Harness(state=state)
    batch = lure_calls(_threshold(shard_a) + 5)

    shard_a.engine.evaluate(
        batch, "a", shard_id="shard-a", sequence_numbers=[str(i) for i in range(len(batch))]
    )
    shard_b.engine.evaluate(
        batch, "b", shard_id="shard-b", sequence_numbers=[str(i) for i in range(len(batch))]
    )

    assert len(shard_a.sink.alerts) + len(shard_b.sink.alerts) == 1


def test_alert_carries_a_token_never_the_msisdn() -> None:
    harness = Harness()
    batch = lure_calls(_threshold(harness))

    outcome = harness.feed(batch)

    detail = json.dumps([alert.detail() for alert in outcome.alerts])
    assert outcome.alerts and outcome.alerts[0].subscriber_token == harness.token(FOREIGN_LURE)
    for record in batch:
        assert record.a_number.lstrip("+") not in detail
        assert record.b_number.lstrip("+") not in detail


def test_alert_detail_has_rule_window_score_and_evidence() -> None:
    harness = Harness()
    threshold = _threshold(harness)

    (alert,) = harness.feed(lure_calls(threshold)).alerts

    detail = alert.detail()
    assert detail["rule_id"] == "wangiri"
    assert detail["window_end_ms"] - detail["window_start_ms"] == 900_000
    assert detail["score"] >= 1.0
    assert detail["evidence"] == {"calls": threshold, "distinct_b": threshold}


def test_only_cdrs_of_a_firing_window_are_tagged() -> None:
    harness = Harness()
    innocent = cdr("+33612345678", home_number(1), 1, 40, record_type=RecordType.MTC)
    lures = lure_calls(_threshold(harness))

    outcome = harness.feed([innocent, *lures])

    assert innocent.cdr_id not in outcome.matched_rules
    assert all(outcome.matched_rules[r.cdr_id] == ("wangiri",) for r in lures)


class _FailingOnceSink(InMemoryAlertSink):
    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 1

    def put(self, alerts: Sequence[Alert]) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise AlertDeliveryError("bus unavailable", alerts)
        super().put(alerts)


def test_undelivered_alert_is_sent_once_when_the_batch_is_retried() -> None:
    sink = _FailingOnceSink()
    engine = FraudEngine(
        load_rules(), InMemoryStateStore(), sink, SubscriberTokenizer(TEST_KEY), home_region="GB"
    )
    batch = lure_calls(40)
    sequences = [str(i) for i in range(len(batch))]

    with pytest.raises(AlertDeliveryError):
        engine.evaluate(batch, "b1", shard_id="s", sequence_numbers=sequences)
    engine.evaluate(batch, "b1", shard_id="s", sequence_numbers=sequences)
    engine.evaluate(batch, "b1", shard_id="s", sequence_numbers=sequences)

    assert [alert.rule_id for alert in sink.alerts] == ["wangiri"]


def test_unknown_home_region_is_a_config_error() -> None:
    with pytest.raises(RulesConfigError, match="CDRCAP_HOME_REGION"):
        FraudEngine(
            load_rules(),
            InMemoryStateStore(),
            InMemoryAlertSink(),
            SubscriberTokenizer(TEST_KEY),
            home_region="XX",
        )


def test_empty_batch_changes_nothing() -> None:
    harness = Harness()

    outcome = harness.feed([])

    assert (outcome.alerts, dict(outcome.matched_rules), outcome.state_writes) == ((), {}, 0)


def test_evaluation_pauses_the_garbage_collector_and_restores_it_even_on_failure() -> None:
    # Given an engine whose state store fails on the batch, and the collector on
    harness = Harness()
    seen: list[bool] = []

    def failing_apply_many(*args: object, **kwargs: object) -> list[object]:
        seen.append(gc.isenabled())
        raise RuntimeError("state store down")

    harness.state.apply_many = failing_apply_many  # type: ignore[method-assign]
    assert gc.isenabled()
    # When a batch is evaluated and fails
    with pytest.raises(RuntimeError):
        harness.feed(lure_calls(3))
    # Then the collector was paused while it ran and is on again after it
    assert seen == [False] and gc.isenabled()


class _CountingStore(InMemoryStateStore):
    """The fake, counting the claims and previous-window reads the engine asks for."""

    def __init__(self) -> None:
        super().__init__()
        self.claims_asked: list[int] = []
        self.reads_asked: list[int] = []

    def claim_alerts(self, claims: Sequence[AlertClaim], executor: Executor | None = None) -> list[bool]:
        self.claims_asked.append(len(claims))
        return super().claim_alerts(claims, executor)

    def read_many(self, keys: Sequence[WindowKey], executor: Executor | None = None) -> list[WindowState]:
        self.reads_asked.append(len(keys))
        return super().read_many(keys, executor)


def test_a_window_whose_alert_is_claimed_is_not_claimed_again_by_later_batches() -> None:
    # Given a lure whose window fired in the first batch
    store = _CountingStore()
    harness = Harness(state=store)
    lures = lure_calls(_threshold(harness) + 10)
    harness.feed(lures[: _threshold(harness)])

    # When later batches touch the same window (it still holds)
    later = [harness.feed([lure]) for lure in lures[_threshold(harness) :]]

    # Then they tag their CDRs but ask for no claim: the marker is known to exist
    assert all(outcome.matched_rules for outcome in later)
    assert store.claims_asked == [1] + [0] * 10
    assert harness.alerts("wangiri") == [harness.token(FOREIGN_LURE)]


def test_previous_windows_of_a_batch_are_read_in_one_request() -> None:
    # Given two subscribers a third of the way to the velocity threshold in one minute
    store = _CountingStore()
    harness = Harness(state=store)
    calls = [
        cdr(home_number(subscriber), home_number(100 + k), 61 + k) for subscriber in (1, 2) for k in range(4)
    ]

    harness.feed(calls)

    assert store.reads_asked == [2]
