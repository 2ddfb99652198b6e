"""Score the rules against injected ground truth: per rule precision, recall and detection latency.

Latency is in event time: alert (newest release time of its batch) minus the release time of the episode's
first fraudulent CDR. The day and its delivery are cdrcap/fraud_loadgen_eval.py's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.fraud.alerts import Alert

RECALL_TARGET = 0.95
PRECISION_TARGET = 0.90
EVAL_TOKEN_KEY = b"cdrcap-fraud-eval-key-not-a-secret"  # in-process only: nothing leaves the evaluation


@dataclass(frozen=True, slots=True)
class RuleQuality:
    rule_id: str
    instances: int
    detected: int
    alerts: int
    true_alerts: int  # alerts on a subscriber injected with this rule's scenario
    other_fraud_alerts: int  # alerts on a subscriber of another scenario (wrong label, still fraud)
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_max_s: float | None
    cut_off: int = 0  # episodes the end of the day cut short: no instances; their actors still count as fraud

    @property
    def recall(self) -> float:
        return self.detected / self.instances if self.instances else 1.0

    @property
    def precision(self) -> float:
        return self.true_alerts / self.alerts if self.alerts else 1.0

    @property
    def meets_targets(self) -> bool:
        return self.recall >= RECALL_TARGET and self.precision >= PRECISION_TARGET

    def to_dict(self) -> dict[str, object]:
        return {
            "rule_id": self.rule_id,
            "instances": self.instances,
            "cut_off": self.cut_off,
            "detected": self.detected,
            "recall": round(self.recall, 4),
            "alerts": self.alerts,
            "true_alerts": self.true_alerts,
            "other_fraud_alerts": self.other_fraud_alerts,
            "precision": round(self.precision, 4),
            "latency_p50_s": self.latency_p50_s,
            "latency_p95_s": self.latency_p95_s,
            "latency_max_s": self.latency_max_s,
            "meets_targets": self.meets_targets,
        }


def percentile_s(values_ms: list[int], fraction: float) -> float | None:
    if not values_ms:
        return None
    ordered = sorted(values_ms)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1000, 1)


@dataclass(frozen=True, slots=True)
class Episode:
    """One injected fraud instance: its scenario, when its first CDR existed, and whom an alert may name."""

    scenario: str
    episode_id: str
    records: int
    first_release_ms: int
    subject_tokens: frozenset[str]  # tokens of the actor's number(s) (a SIM-box: its SIMs and its IMEI)
    complete: bool = True  # False: cut short by the end of the day: no instance (its alerts still true)


def score_rule(rule_id: str, episodes: Sequence[Episode], alerts: Sequence[Alert]) -> RuleQuality:
    """Recall over the rule's complete episodes, precision over the rule's alerts (an alert on the actor of
    any of its scenario's episodes, cut off or not, is true), latency from first release."""
    scenarios_of: dict[str, set[str]] = defaultdict(set)
    for episode in episodes:
        for token in episode.subject_tokens:
            scenarios_of[token].add(episode.scenario)
    rule_alerts = [a for a in alerts if a.rule_id == rule_id]
    true_alerts = sum(1 for a in rule_alerts if rule_id in scenarios_of.get(a.subscriber_token, ()))
    other_fraud = sum(1 for a in rule_alerts if scenarios_of.get(a.subscriber_token, {rule_id}) - {rule_id})
    latencies_ms = []
    mine = [episode for episode in episodes if episode.scenario == rule_id]
    instances = [episode for episode in mine if episode.complete]
    for episode in instances:
        hits = [
            a.observed_at_ms
            for a in rule_alerts
            if a.subscriber_token in episode.subject_tokens and a.observed_at_ms >= episode.first_release_ms
        ]
        if hits:
            latencies_ms.append(min(hits) - episode.first_release_ms)
    return RuleQuality(
        rule_id=rule_id,
        instances=len(instances),
        detected=len(latencies_ms),
        alerts=len(rule_alerts),
        true_alerts=true_alerts,
        other_fraud_alerts=other_fraud,
        latency_p50_s=percentile_s(latencies_ms, 0.5),
        latency_p95_s=percentile_s(latencies_ms, 0.95),
        latency_max_s=percentile_s(latencies_ms, 1.0),
        cut_off=len(mine) - len(instances),
    )
