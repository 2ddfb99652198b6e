"""IRSF and SIM-box on hand-built sequences: points and ratios at their thresholds, the look-alikes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.fraud.rules import SimboxRule, parse_rules
from pipeline.schema import CanonicalCDR, Cell, NumberKind, RecordType
from tests.support.fraud_support import HOME_SUBSCRIBER, Harness, cdr, home_number

RULES_JSON = Path(__file__).parents[2] / "pipeline" / "fraud" / "rules.json"
HOT = "+88216000001"  # in the default hot list (+882)
LONG_S, SHORT_S = 900, 120  # around the default long_call_s = 600


def _irsf_call(at_s: float, *, long: bool, roaming: bool, premium: bool = False) -> CanonicalCDR:
    b_number, kind = ("+449012345678", NumberKind.PREMIUM_RATE) if premium else (HOT, NumberKind.E164)
    return cdr(HOME_SUBSCRIBER, b_number, at_s, LONG_S if long else SHORT_S, b_kind=kind, roaming=roaming)


# default points: hot 2, long +2, roaming +1; min_calls 3, min_score 10
@pytest.mark.parametrize(
    ("calls", "expected_alerts"),
    [
        ([(True, True), (False, False), (False, False)], 0),  # 5 + 2 + 2 = 9
        ([(True, True), (False, True), (False, False)], 1),  # 5 + 3 + 2 = 10
        ([(True, True), (True, True), (False, False)], 1),  # 5 + 5 + 2 = 12
    ],
)
def test_irsf_fires_at_the_score_threshold(calls: list[tuple[bool, bool]], expected_alerts: int) -> None:
    harness = Harness()

    harness.feed(
        [_irsf_call(i * 1000, long=long, roaming=roaming) for i, (long, roaming) in enumerate(calls)]
    )

    assert len(harness.alerts("irsf")) == expected_alerts


def test_irsf_needs_the_minimum_number_of_calls() -> None:
    harness = Harness()

    harness.feed([_irsf_call(0, long=True, roaming=True), _irsf_call(1000, long=True, roaming=True)])

    assert harness.alerts("irsf") == []


def test_irsf_counts_premium_rate_numbers_outside_the_hot_list() -> None:
    harness = Harness()

    harness.feed([_irsf_call(i * 1000, long=True, roaming=True, premium=True) for i in range(3)])

    assert harness.alerts("irsf") == [harness.token(HOME_SUBSCRIBER)]


def test_irsf_ignores_ordinary_international_calls() -> None:
    harness = Harness()

    harness.feed([cdr(HOME_SUBSCRIBER, "+33612345678", i * 1000, LONG_S, roaming=True) for i in range(10)])

    assert harness.alerts("irsf") == []


def _box_calls(count: int, *, cells: int = 1, start_s: float = 0) -> list:
    return [
        cdr(HOME_SUBSCRIBER, home_number(i), start_s + i * 200, 90, cell=Cell("234", "15", 1, 1 + i % cells))
        for i in range(count)
    ]


def _simbox_rule(harness: Harness) -> SimboxRule:
    rule = harness.config(SimboxRule)
    return rule


@pytest.mark.parametrize(("offset", "expected_alerts"), [(-1, 0), (0, 1), (1, 1)])
def test_simbox_fires_at_the_call_threshold(offset: int, expected_alerts: int) -> None:
    harness = Harness()

    harness.feed(_box_calls(_simbox_rule(harness).min_calls + offset))

    assert len(harness.alerts("simbox")) == expected_alerts


def test_simbox_incoming_traffic_clears_the_suspect() -> None:
    # Given enough outgoing calls, and incoming calls just above the allowed ratio
    harness = Harness()
    rule = _simbox_rule(harness)
    incoming = int(rule.max_incoming_ratio * rule.min_calls) + 1
    calls_in = [
        cdr(home_number(900 + i), HOME_SUBSCRIBER, i * 10, 30, record_type=RecordType.MTC)
        for i in range(incoming)
    ]

    harness.feed(calls_in + _box_calls(rule.min_calls, start_s=100))

    assert harness.alerts("simbox") == []


def test_simbox_many_cells_is_a_mobile_user_not_a_box() -> None:
    harness = Harness()
    rule = _simbox_rule(harness)

    harness.feed(_box_calls(rule.min_calls + 5, cells=rule.max_distinct_cells + 1))

    assert harness.alerts("simbox") == []


def test_simbox_ignores_unanswered_attempts() -> None:
    harness = Harness()
    rule = _simbox_rule(harness)
    attempts = [
        cdr(HOME_SUBSCRIBER, home_number(i), i * 60, 20, answered=False) for i in range(rule.min_calls * 2)
    ]

    harness.feed(attempts)

    assert harness.alerts("simbox") == []


def test_simbox_incoming_calls_are_not_tagged_as_matches() -> None:
    harness = Harness()
    rule = _simbox_rule(harness)
    incoming = cdr(home_number(999), HOME_SUBSCRIBER, 5, 30, record_type=RecordType.MTC)
    outgoing = _box_calls(rule.min_calls)

    outcome = harness.feed([incoming, *outgoing])

    assert incoming.cdr_id not in outcome.matched_rules
    assert outcome.matched_rules[outgoing[-1].cdr_id] == ("simbox",)


def test_simbox_spanning_a_window_boundary_is_judged_with_the_previous_window() -> None:
    # Given a box whose calls straddle a window boundary, neither window reaching the threshold alone
    harness = Harness()
    rule = _simbox_rule(harness)
    half = rule.min_calls // 2 + 1
    calls = _box_calls(half, start_s=rule.window_s - half * 200) + [
        cdr(HOME_SUBSCRIBER, home_number(500 + i), rule.window_s + 10 + i * 200, 90) for i in range(half)
    ]

    outcome = harness.feed(calls)

    assert [alert.evidence["windows"] for alert in outcome.alerts] == [2]


def test_simbox_without_lookback_waits_for_one_window_to_hold_the_threshold() -> None:
    document = json.loads(RULES_JSON.read_text())
    document["rules"]["simbox"]["include_previous_window"] = False
    harness = Harness(rules=parse_rules(document))
    rule = _simbox_rule(harness)
    half = rule.min_calls // 2 + 1
    calls = _box_calls(half, start_s=rule.window_s - half * 200) + [
        cdr(HOME_SUBSCRIBER, home_number(500 + i), rule.window_s + 10 + i * 200, 90) for i in range(half)
    ]

    harness.feed(calls)

    assert harness.alerts("simbox") == []
