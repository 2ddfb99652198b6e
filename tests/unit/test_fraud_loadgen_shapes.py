"""The rules on episode shapes loadgen.synth injects (loadgen/synth/fraud.py, SCENARIOS).

loadgen's SIM-box rotates 8 SIMs sharing one IMEI, so no single SIM has a SIM-box profile; its IRSF makes
6 long calls to high-risk ranges on 3 lines at once; its velocity floods mostly SMS within about a minute.
"""

from __future__ import annotations

import random

import pytest

from pipeline.fraud.rules import SimboxRule, VelocityRule
from pipeline.schema import CanonicalCDR, RecordType
from tests.support.fraud_support import HOME_SUBSCRIBER, Harness, cdr, home_number

BOX_IMEI = "356938035643809"


def _box(calls: int, sims: int, *, imei: str | None = BOX_IMEI) -> list[CanonicalCDR]:
    rng = random.Random(4)
    return [
        cdr(
            home_number(100 + i % sims),
            home_number(5000 + i),
            rng.uniform(0, 60),
            rng.randint(30, 200),
            imei=imei,
        )
        for i in range(calls)
    ]


def test_loadgen_simbox_episode_is_caught_by_its_shared_imei() -> None:
    harness = Harness()

    outcome = harness.feed(_box(40, 8))

    (alert,) = [a for a in outcome.alerts if a.rule_id == "simbox"]  # its SIMs also overlap: simultaneous
    assert alert.subscriber_token == harness.token("imei:" + BOX_IMEI)
    assert alert.evidence["sims"] == 8


@pytest.mark.parametrize(("offset", "expected_alerts"), [(-1, 0), (0, 1), (1, 1)])
def test_device_trigger_fires_at_the_sim_threshold(offset: int, expected_alerts: int) -> None:
    harness = Harness()
    rule = harness.config(SimboxRule)

    harness.feed(_box(rule.min_device_calls, rule.min_sims_per_device + offset))

    assert len(harness.alerts("simbox")) == expected_alerts


def test_device_trigger_needs_the_minimum_number_of_calls() -> None:
    harness = Harness()
    rule = harness.config(SimboxRule)

    harness.feed(_box(rule.min_device_calls - 1, 8))

    assert harness.alerts("simbox") == []


def test_records_without_imei_have_no_device_trigger() -> None:
    harness = Harness()

    harness.feed(_box(40, 8, imei=None))

    assert harness.alerts("simbox") == []


def test_loadgen_velocity_episode_of_mostly_sms_fires() -> None:
    harness = Harness()
    rng = random.Random(9)
    burst = [
        cdr(HOME_SUBSCRIBER, home_number(i), rng.uniform(0, 10), 0 if i < 28 else 3,
            record_type=RecordType.SMS_MO if i < 28 else RecordType.MOC, answered=i < 28)
        for i in range(40)
    ]  # fmt: skip

    harness.feed(sorted(burst, key=lambda r: r.release_utc_ms))

    assert harness.alerts("velocity") == [harness.token(HOME_SUBSCRIBER)]


@pytest.mark.parametrize(("offset", "expected_alerts"), [(-1, 0), (0, 1), (1, 1)])
def test_velocity_fires_at_the_sms_threshold(offset: int, expected_alerts: int) -> None:
    harness = Harness()
    count = harness.config(VelocityRule).min_sms + offset
    sms = [
        cdr(HOME_SUBSCRIBER, home_number(i), i * 1.5, 0, record_type=RecordType.SMS_MO) for i in range(count)
    ]

    harness.feed(sms)

    assert len(harness.alerts("velocity")) == expected_alerts


def test_loadgen_irsf_episode_of_long_calls_on_three_lines_fires_irsf_not_simultaneous() -> None:
    harness = Harness()
    rng = random.Random(2)
    calls = [
        cdr(
            HOME_SUBSCRIBER,
            f"+3712{rng.randint(0, 1)}{rng.randrange(10**6):06d}",
            line * 20 + second * 1300,
            1200,
        )
        for second in range(2)
        for line in range(3)
    ]

    harness.feed(sorted(calls, key=lambda r: r.release_utc_ms))

    assert harness.alerts("irsf") == [harness.token(HOME_SUBSCRIBER)]
    assert harness.alerts("simultaneous") == []
