"""Measure the rules against injected ground truth: per rule precision, recall and detection latency.

Runs the real engine in process with the in-memory state store and alert sink, feeding the day in arrival
order in Kinesis-sized batches from one simulated shard with subscriber partition keys, so windows,
batching and idempotency are the production code paths. Latency is in event time: alert (newest release
time of its batch) minus the release time of the scenario's first fraudulent CDR.
"""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from cdrcap.fraud_eval.data import SCENARIOS, SyntheticDay
from pipeline.fraud.alerts import Alert, InMemoryAlertSink
from pipeline.fraud.engine import FraudEngine
from pipeline.fraud.rules import RuleSet
from pipeline.fraud.state import InMemoryStateStore
from pipeline.fraud.tokens import SubscriberTokenizer
from pipeline.schema import CanonicalCDR, RecordType

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


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    cdrs: int
    batches: int
    rules_version: str
    engine_cpu_s: float  # CPU time of the engine loop: the wall time on a shared machine says little
    state_writes: int
    quality: tuple[RuleQuality, ...]

    @property
    def meets_targets(self) -> bool:
        return all(q.meets_targets for q in self.quality)

    def to_dict(self) -> dict[str, object]:
        return {
            "cdrs": self.cdrs,
            "batches": self.batches,
            "rules_version": self.rules_version,
            "engine_cpu_s": round(self.engine_cpu_s, 2),
            "cdrs_per_cpu_s": round(self.cdrs / self.engine_cpu_s) if self.engine_cpu_s else None,
            "state_writes_per_cdr": round(self.state_writes / self.cdrs, 3) if self.cdrs else None,
            "targets": {"recall": RECALL_TARGET, "precision": PRECISION_TARGET},
            "meets_targets": self.meets_targets,
            "rules": [q.to_dict() for q in self.quality],
        }


def percentile_s(values_ms: list[int], fraction: float) -> float | None:
    if not values_ms:
        return None
    ordered = sorted(values_ms)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1000, 1)


def served_subscriber(cdr: CanonicalCDR) -> str:
    """The partition key of loadgen's default "subscriber" strategy: the served party of the record."""
    return cdr.b_number if cdr.record_type in (RecordType.MTC, RecordType.SMS_MT) else cdr.a_number


def evaluate_day(day: SyntheticDay, rules: RuleSet, *, batch_size: int = 500) -> EvaluationResult:
    tokenizer = SubscriberTokenizer(EVAL_TOKEN_KEY)
    state, sink = InMemoryStateStore(), InMemoryAlertSink()
    engine = FraudEngine(rules, state, sink, tokenizer, home_region=day.home_region)
    # A million live CDR objects make every cyclic-GC pass slow; the loop itself creates no cycles worth
    # collecting, so the collector is parked for its duration.
    gc.collect()
    gc.freeze()
    gc.disable()
    started = time.process_time()
    batches = 0
    try:
        for start in range(0, len(day.cdrs), batch_size):
            batch = day.cdrs[start : start + batch_size]
            engine.evaluate(
                batch,
                f"eval-{batches}",
                shard_id="shardId-000000000000",
                sequence_numbers=[str(start + offset) for offset in range(len(batch))],
                partition_keys=[served_subscriber(cdr) for cdr in batch],
            )
            batches += 1
    finally:
        engine_cpu_s = time.process_time() - started
        gc.enable()
        gc.unfreeze()
    return EvaluationResult(
        cdrs=len(day.cdrs),
        batches=batches,
        rules_version=rules.version,
        engine_cpu_s=engine_cpu_s,
        state_writes=state.writes,
        quality=tuple(_quality(rule_id, day, sink.alerts, tokenizer) for rule_id in SCENARIOS),
    )


def _quality(
    rule_id: str, day: SyntheticDay, alerts: list[Alert], tokenizer: SubscriberTokenizer
) -> RuleQuality:
    episodes = [
        Episode(
            scenario=label.scenario,
            episode_id=str(index),
            records=0,
            first_release_ms=label.first_release_ms,
            subject_tokens=frozenset(tokenizer.token(s) for s in (label.subscriber, *label.also)),
        )
        for index, label in enumerate(day.labels)
    ]
    return score_rule(rule_id, episodes, alerts)


@dataclass(frozen=True, slots=True)
class Episode:
    """One injected fraud instance: its scenario, when its first CDR existed, and whom an alert may name."""

    scenario: str
    episode_id: str
    records: int
    first_release_ms: int
    subject_tokens: frozenset[str]  # tokens of the actor's number(s) (a SIM-box: its SIMs and its IMEI)


def score_rule(rule_id: str, episodes: Sequence[Episode], alerts: Sequence[Alert]) -> RuleQuality:
    """Recall over the rule's episodes, precision over the rule's alerts, latency from first release."""
    scenarios_of: dict[str, set[str]] = defaultdict(set)
    for episode in episodes:
        for token in episode.subject_tokens:
            scenarios_of[token].add(episode.scenario)
    rule_alerts = [a for a in alerts if a.rule_id == rule_id]
    true_alerts = sum(1 for a in rule_alerts if rule_id in scenarios_of.get(a.subscriber_token, ()))
    other_fraud = sum(1 for a in rule_alerts if scenarios_of.get(a.subscriber_token, {rule_id}) - {rule_id})
    latencies_ms = []
    instances = [episode for episode in episodes if episode.scenario == rule_id]
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
    )
