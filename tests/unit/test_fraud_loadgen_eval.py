"""`cdrcap fraud-eval` on the load generator's day: scoring, the day's shape, a small end-to-end day."""

from __future__ import annotations

import dataclasses

import numpy as np

from cdrcap.fraud_eval.evaluation import Episode, score_rule
from cdrcap.fraud_loadgen_eval import episodes_of, evaluate_loadgen_day
from loadgen.options import scaled
from loadgen.synth import CdrSynthesizer, DefectRates, FraudRates, Label, SynthConfig
from pipeline.decode import decode_payload
from pipeline.fraud.alerts import Alert
from pipeline.fraud.rules import load_rules
from pipeline.fraud.simbox import DEVICE_PREFIX
from pipeline.fraud.tokens import SubscriberTokenizer
from pipeline.validate import Limits, to_canonical

TOKENS = SubscriberTokenizer(b"t" * 32)
DAY_START_S = 1_767_225_600
NO_DEFECTS = DefectRates(**dict.fromkeys(DefectRates().as_dict(), 0.0))


def alert(rule_id: str, token: str, observed_at_ms: int) -> Alert:
    return Alert(rule_id, "v", 1.0, token, 60, 0, 60_000, observed_at_ms, "b", {})


def episode(scenario: str, subject: str, first_release_ms: int = 1_000) -> Episode:
    return Episode(scenario, f"e-{subject}", 40, first_release_ms, frozenset({subject}))


def test_recall_precision_and_latency_per_rule() -> None:
    # Given two velocity episodes (one alerted 30 s after its first CDR), one IRSF episode
    episodes = [episode("velocity", "a"), episode("velocity", "b"), episode("irsf", "c")]
    alerts = [
        alert("velocity", "a", 31_000),
        alert("velocity", "c", 5_000),  # the IRSF actor: other fraud, still wrong for this rule
        alert("velocity", "x", 5_000),  # background: a false positive
        alert("irsf", "a", 5_000),
    ]
    # When velocity is scored
    quality = score_rule("velocity", episodes, alerts)
    # Then recall 1/2, precision 1/3, one other-fraud alert, latency 30 s
    assert (quality.instances, quality.detected, quality.alerts, quality.true_alerts) == (2, 1, 3, 1)
    assert quality.other_fraud_alerts == 1
    assert quality.latency_p50_s == 30.0


def test_an_alert_before_the_episode_does_not_detect_it() -> None:
    quality = score_rule("velocity", [episode("velocity", "a", 100_000)], [alert("velocity", "a", 99_000)])

    assert quality.detected == 0 and quality.true_alerts == 1


def test_an_episode_cut_off_by_the_end_of_the_day_is_no_instance_but_its_alerts_are_true() -> None:
    # Given a whole velocity episode and one of 3 records (the day ended), each with its actor's CDRs seen
    labels = [Label(f"w{i}", "fraud", "velocity", "1", "whole", 0, 0, "") for i in range(40)]
    labels += [Label(f"c{i}", "fraud", "velocity", "2", "cut", 0, 0, "") for i in range(3)]
    seen = {label.cdr_id: (1_000, "+1201555000" + label.subscriber, None) for label in labels}
    episodes = episodes_of(labels, seen, TOKENS)
    # When velocity is scored with an alert on each actor
    alerts = [alert("velocity", TOKENS.token("+1201555000" + n), 2_000) for n in "12"]
    quality = score_rule("velocity", episodes, alerts)
    # Then recall is over the whole episode, and both alerts are true
    assert (quality.instances, quality.cut_off, quality.detected) == (1, 1, 1)
    assert quality.precision == 1.0


def test_a_simbox_episode_is_named_by_its_sims_and_its_imei() -> None:
    # Given a SIM-box episode of two SIMs on one IMEI
    labels = [Label(f"c{i}", "fraud", "simbox", "1", "e1", 0, 0, "") for i in range(2)]
    seen = {"c0": (5_000, "+12015550001", "35000000001"), "c1": (4_000, "+12015550002", "35000000001")}
    # When grouped into episodes
    (box,) = episodes_of(labels, seen, TOKENS)
    # Then the IMEI's device token and both SIMs' tokens are subjects; the first release is the earliest
    expected = {TOKENS.token(s) for s in ("+12015550001", "+12015550002", DEVICE_PREFIX + "35000000001")}
    assert box.subject_tokens == expected and box.first_release_ms == 4_000 and box.records == 2


def test_a_day_spreads_its_episodes_and_keeps_arrival_order() -> None:
    # Given a day with fraud and no defects (about one episode per scenario per 10,000 records)
    config = SynthConfig(subscribers=20_000, defects=NO_DEFECTS, fraud=scaled(FraudRates(), 4))
    labels: list[Label] = []
    for piece in CdrSynthesizer(config, seed=4).day_slices(40_000, DAY_START_S):
        labels += piece.labels
    # Then episodes fall across the day, not only in its last minute
    firsts = sorted({label.first_utc_s for label in labels})
    assert firsts[-1] - firsts[0] > 12 * 3600
    assert len({label.episode for label in labels}) >= 8


def test_a_day_in_arrival_order_never_delivers_a_cdr_before_its_release() -> None:
    # Given a clean day with fraud episodes, decoded by the pipeline
    config = SynthConfig(subscribers=20_000, defects=NO_DEFECTS, fraud=scaled(FraudRates(), 4))
    synth = CdrSynthesizer(config, seed=5)
    limits = Limits("US", (DAY_START_S + 2 * 86_400) * 1000, 300_000, 30 * 86_400_000)
    day = synth.day(5_000, DAY_START_S)
    release_ms = [
        to_canonical(*reversed(decode_payload(p, 65_536)), limits).release_utc_ms for p in day.payloads
    ]
    # Then release times never go backwards along the file
    assert bool(np.all(np.diff(release_ms) >= 0))


def test_the_default_rules_detect_every_loadgen_scenario_on_a_small_day() -> None:
    # Given a 30,000-CDR day with the default fraud rates (look-alikes too) raised so each scenario occurs a
    # few times (SMS spam, 120 records an episode, ~7 times: at x6 it is ~2, and 0 on some seeds)
    fraud = dataclasses.replace(scaled(FraudRates(), 6), sms_spam=0.03)
    config = SynthConfig(subscribers=20_000, fraud=fraud)
    # When it runs through the processor and the rules
    result = evaluate_loadgen_day(load_rules(), cdrs=30_000, seed=4, config=config)
    # Then every scenario is injected and detected, and every alert of those rules is on an injected actor
    for quality in result.quality:
        assert quality.instances >= 2, quality
        assert quality.recall == 1.0 and quality.precision == 1.0, quality
    assert result.rejected > 0  # the generator's defects reached the validator
