"""Simultaneous calls and SMS spam on hand-built sequences: thresholds, overlaps across windows, A2P."""

from __future__ import annotations

import pytest

from pipeline.fraud.detectors import max_overlap
from pipeline.fraud.rules import SimultaneousRule, SmsSpamRule
from pipeline.schema import NumberKind, RecordType
from tests.support.fraud_support import HOME_SUBSCRIBER, Harness, cdr, home_number


def _min_concurrent(harness: Harness) -> int:
    rule = harness.config(SimultaneousRule)
    return rule.min_concurrent


@pytest.mark.parametrize(("offset", "expected_alerts"), [(-1, 0), (0, 1), (1, 1)])
def test_simultaneous_fires_at_the_concurrency_threshold(offset: int, expected_alerts: int) -> None:
    harness = Harness()
    overlapping = [
        cdr(HOME_SUBSCRIBER, home_number(i), 10 + i, 300) for i in range(_min_concurrent(harness) + offset)
    ]

    harness.feed(overlapping)

    assert len(harness.alerts("simultaneous")) == expected_alerts


def test_back_to_back_calls_do_not_overlap() -> None:
    harness = Harness()
    sequential = [cdr(HOME_SUBSCRIBER, home_number(i), i * 60, 60) for i in range(10)]

    harness.feed(sequential)

    assert harness.alerts("simultaneous") == []


def test_overlap_after_a_window_boundary_is_seen() -> None:
    # Given two long calls seized late in window 0 and two seized early in window 1, all active at 910 s
    harness = Harness()
    rule = harness.config(SimultaneousRule)
    assert rule.min_concurrent == 4
    edge_s = rule.window_s
    calls = [cdr(HOME_SUBSCRIBER, home_number(i), edge_s - 50 + i, 300) for i in range(2)]
    calls += [cdr(HOME_SUBSCRIBER, home_number(10 + i), edge_s + 10 + i, 100) for i in range(2)]

    harness.feed(calls[:2])
    harness.feed(calls[2:])

    assert harness.alerts("simultaneous") == [harness.token(HOME_SUBSCRIBER)]


def test_max_overlap_counts_the_peak_inside_the_window_only() -> None:
    intervals = frozenset({"0:100:a", "50:150:b", "60:70:c", "200:300:d"})

    assert max_overlap(intervals, 0, 1000) == 3
    assert max_overlap(intervals, 100, 1000) == 1


def _spam(recipients: int, *, total: int | None = None, a_kind: NumberKind = NumberKind.E164) -> list:
    sender = HOME_SUBSCRIBER if a_kind is NumberKind.E164 else "PROMO"
    return [
        cdr(sender, home_number(i % recipients), i * 5, 0, record_type=RecordType.SMS_MO, a_kind=a_kind)
        for i in range(total or recipients)
    ]


def _min_recipients(harness: Harness) -> int:
    rule = harness.config(SmsSpamRule)
    return rule.min_distinct_recipients


@pytest.mark.parametrize(("offset", "expected_alerts"), [(-1, 0), (0, 1), (1, 1)])
def test_sms_spam_fires_at_the_recipient_threshold(offset: int, expected_alerts: int) -> None:
    harness = Harness()

    harness.feed(_spam(_min_recipients(harness) + offset))

    assert len(harness.alerts("sms_spam")) == expected_alerts


def test_sms_spam_counts_recipients_not_messages() -> None:
    harness = Harness()

    harness.feed(_spam(10, total=_min_recipients(harness) * 5))

    assert harness.alerts("sms_spam") == []


def test_sms_spam_ignores_a2p_senders() -> None:
    harness = Harness()

    harness.feed(_spam(_min_recipients(harness) * 3, a_kind=NumberKind.ALPHANUMERIC))

    assert harness.alerts("sms_spam") == []


def test_sms_spam_recipients_add_up_across_batches() -> None:
    harness = Harness()
    messages = _spam(_min_recipients(harness))
    half = len(messages) // 2

    first, second = harness.feed(messages[:half]), harness.feed(messages[half:])

    assert (len(first.alerts), len(second.alerts)) == (0, 1)
