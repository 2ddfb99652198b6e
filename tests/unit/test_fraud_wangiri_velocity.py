"""Wangiri and velocity on hand-built sequences: below / at / above threshold and window boundaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.fraud.rules import VelocityRule, WangiriRule, parse_rules
from pipeline.schema import RecordType
from tests.support.fraud_support import (
    FOREIGN_LURE,
    HOME_SUBSCRIBER,
    Harness,
    cdr,
    home_number,
    lure_calls,
)

RULES_JSON = Path(__file__).parents[2] / "pipeline" / "fraud" / "rules.json"
AROUND = [(-1, 0), (0, 1), (1, 1)]  # offset from the threshold -> alerts expected


@pytest.mark.parametrize(("offset", "expected_alerts"), AROUND)
def test_wangiri_fires_at_the_threshold(offset: int, expected_alerts: int) -> None:
    harness = Harness()
    rule = harness.config(WangiriRule)

    harness.feed(lure_calls(max(rule.min_calls, rule.min_distinct_b) + offset))

    assert harness.alerts("wangiri") == [harness.token(FOREIGN_LURE)] * expected_alerts


def test_wangiri_window_boundary_splits_the_count() -> None:
    # Given threshold-1 lures at the end of one 15-minute window and one more just after it
    harness = Harness()
    rule = harness.config(WangiriRule)
    before = lure_calls(rule.min_calls - 1, start_s=rule.window_s - 200, step_s=5)
    after = lure_calls(1, start_s=rule.window_s + 1)

    harness.feed(before + after)

    assert harness.alerts("wangiri") == []


def test_wangiri_ignores_home_callers() -> None:
    harness = Harness()

    harness.feed(lure_calls(60, a_number=HOME_SUBSCRIBER))

    assert harness.alerts("wangiri") == []


def test_wangiri_ignores_conversations() -> None:
    harness = Harness()
    answered = [
        cdr(FOREIGN_LURE, home_number(i), i * 5, 45, record_type=RecordType.MTC, answered=True)
        for i in range(60)
    ]

    harness.feed(answered)

    assert harness.alerts("wangiri") == []


def test_wangiri_needs_distinct_victims() -> None:
    harness = Harness()
    same_five = [
        cdr(FOREIGN_LURE, home_number(i % 5), i * 5, 2, record_type=RecordType.MTC, answered=False)
        for i in range(60)
    ]

    harness.feed(same_five)

    assert harness.alerts("wangiri") == []


def _dialler(count: int, *, start_s: float = 0, step_s: float = 2) -> list:
    return [
        cdr(HOME_SUBSCRIBER, home_number(i), start_s + i * step_s, 1, answered=False) for i in range(count)
    ]


@pytest.mark.parametrize(("offset", "expected_alerts"), AROUND)
def test_velocity_fires_at_the_threshold(offset: int, expected_alerts: int) -> None:
    harness = Harness()
    rule = harness.config(VelocityRule)

    harness.feed(_dialler(rule.min_calls + offset, step_s=rule.window_s / (rule.min_calls + 2)))

    assert harness.alerts("velocity") == [harness.token(HOME_SUBSCRIBER)] * expected_alerts


def test_velocity_burst_split_by_a_minute_boundary_is_judged_with_the_previous_minute() -> None:
    # Given a dialler whose calls straddle a minute boundary, neither minute reaching the threshold alone
    harness = Harness()
    rule = harness.config(VelocityRule)
    last_seconds_of_minute = _dialler(rule.min_calls - 1, start_s=rule.window_s - 20, step_s=2)
    first_seconds_of_next = _dialler(rule.min_calls - 1, start_s=rule.window_s + 1, step_s=2)
    # When both are fed
    outcome = harness.feed(last_seconds_of_minute + first_seconds_of_next)
    # Then one alert, judged over both minutes
    assert [alert.evidence["windows"] for alert in outcome.alerts if alert.rule_id == "velocity"] == [2]


def test_velocity_without_lookback_splits_the_count_at_the_boundary() -> None:
    document = json.loads(RULES_JSON.read_text())
    document["rules"]["velocity"]["include_previous_window"] = False
    harness = Harness(rules=parse_rules(document))
    rule = harness.config(VelocityRule)
    last_seconds_of_minute = _dialler(rule.min_calls - 1, start_s=rule.window_s - 20, step_s=2)
    first_seconds_of_next = _dialler(rule.min_calls - 1, start_s=rule.window_s + 1, step_s=2)

    harness.feed(last_seconds_of_minute + first_seconds_of_next)

    assert harness.alerts("velocity") == []


def test_a_redial_loop_at_a_human_pace_does_not_fire_with_the_lookback() -> None:
    # Given a caller redialling every 20 s for five minutes (ring, give up, redial): 3 attempts a minute
    harness = Harness()
    rule = harness.config(VelocityRule)
    redials = _dialler(15, start_s=0, step_s=rule.window_s / 3)
    # When fed, Then any two consecutive minutes hold 6 attempts: below the threshold of 10

    harness.feed(redials)

    assert harness.alerts("velocity") == []


def test_velocity_counts_across_two_batches() -> None:
    harness = Harness()
    rule = harness.config(VelocityRule)
    calls = _dialler(rule.min_calls, step_s=1)

    first = harness.feed(calls[:-1])
    second = harness.feed(calls[-1:])

    assert (len(first.alerts), len(second.alerts)) == (0, 1)
