"""Measure the fraud rules on the load generator's synthetic day, through the handler's own decode/validate.

The day comes from `loadgen.synth.CdrSynthesizer.day_slices` at its default fraud rates (an episode of every
rule's scenario, labelled out of band, and the legitimate look-alikes the rules must not fire on) and goes
as wire payloads, in arrival order, through `pipeline.processor.BatchProcessor` with in-memory stores and a
real `FraudEngine` (in-memory state and alert sink): the rules see exactly the canonical CDRs the handler
would give them, defects included. Nothing is kept per CDR but the labelled fraud records, so memory stays
flat over the day. `canonical_day` keeps the day's canonical CDRs instead, for what drives the engine
directly (the fraud benchmark, the state-store tests).
"""

from __future__ import annotations

import base64
import gc
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cdrcap.fraud_eval.evaluation import EVAL_TOKEN_KEY, Episode, RuleQuality, score_rule
from loadgen.synth import CdrSynthesizer, Label, SynthConfig
from loadgen.synth.fraud import EPISODE_RECORDS
from pipeline.config import PipelineConfig, load_config
from pipeline.fraud.alerts import InMemoryAlertSink
from pipeline.fraud.engine import FraudEngine, FraudOutcome
from pipeline.fraud.rules import RULE_IDS, RuleSet, load_rules
from pipeline.fraud.simbox import DEVICE_PREFIX
from pipeline.fraud.state import InMemoryStateStore
from pipeline.fraud.tokens import SubscriberTokenizer
from pipeline.processor import BatchProcessor
from pipeline.schema import CanonicalCDR
from pipeline.stores import InMemoryAggregateStore, Stores

DAY_START_UTC_S = 1_767_225_600  # 2026-01-01T00:00:00Z
SHARD_ID = "shardId-000000000000"
ARRIVAL_DELAY_MS = 1_000  # a record reaches the stream about a second after its CDR is released


@dataclass(frozen=True, slots=True)
class LoadgenEvaluation:
    cdrs: int
    batches: int
    accepted: int  # CDRs the pipeline accepted (the rest were the generator's defects)
    rejected: int
    rules_version: str
    wall_s: float
    cpu_s: float
    quality: tuple[RuleQuality, ...]
    alerts_by_rule: dict[str, int]

    def to_dict(self) -> dict[str, object]:
        return {
            "source": "loadgen.synth",
            "alerts_by_rule": self.alerts_by_rule,
            "cdrs": self.cdrs,
            "batches": self.batches,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rules_version": self.rules_version,
            "wall_s": round(self.wall_s, 1),
            "cpu_s": round(self.cpu_s, 1),
            "rules": [q.to_dict() for q in self.quality],
        }


class _DiscardArchive:
    def put(self, key: str, body: bytes) -> None:
        return None


class _DiscardStream:
    def put(self, records: Sequence[tuple[str, bytes]]) -> list[int]:
        return []

    def send(self, bodies: Sequence[bytes]) -> list[int]:
        return []


class _RecordingEngine(FraudEngine):
    """The real engine, noting the canonical fields of the labelled fraud CDRs it is handed."""

    fraud_ids: set[str]
    fraud_cdrs: dict[str, tuple[int, str, str | None]]  # cdr_id -> (release ms, a_number, imei)

    def evaluate(self, cdrs: Sequence[CanonicalCDR], batch_id: str, **kwargs: Any) -> FraudOutcome:
        for cdr in cdrs:
            if cdr.cdr_id in self.fraud_ids:
                self.fraud_cdrs[cdr.cdr_id] = (cdr.release_utc_ms, cdr.a_number, cdr.imei)
        return super().evaluate(cdrs, batch_id, **kwargs)


def pipeline_config(home_region: str) -> PipelineConfig:
    return load_config(
        {
            "CDRCAP_OUTPUT_STREAM": "fraud-eval-out",
            "CDRCAP_AGGREGATES_TABLE": "fraud-eval-aggregates",
            "CDRCAP_ARCHIVE_BUCKET": "fraud-eval-archive",
            "CDRCAP_DLQ_URL": "http://127.0.0.1/fraud-eval-dlq",
            "CDRCAP_HOME_REGION": home_region,
        }
    )


def kinesis_event(
    payloads: Sequence[bytes], keys: Sequence[str], first_seq: int, arrival_ms: int
) -> dict[str, Any]:
    arrival_s = arrival_ms / 1000
    return {
        "Records": [
            {
                "kinesis": {
                    "data": base64.b64encode(payload).decode("ascii"),
                    "sequenceNumber": str(first_seq + i),
                    "partitionKey": key,
                    "approximateArrivalTimestamp": arrival_s,
                },
                "eventID": f"{SHARD_ID}:{first_seq + i}",
            }
            for i, (payload, key) in enumerate(zip(payloads, keys, strict=True))
        ]
    }


@dataclass(frozen=True, slots=True)
class CanonicalDay:
    cdrs: list[CanonicalCDR]  # what the validator accepted, in arrival order
    labels: list[Label]  # the fraud labels
    home_region: str


class _CollectingEngine(FraudEngine):
    """Keeps the canonical CDRs the processor hands the rules, and runs none."""

    cdrs: list[CanonicalCDR]

    def evaluate(self, cdrs: Sequence[CanonicalCDR], batch_id: str, **kwargs: Any) -> FraudOutcome:
        self.cdrs.extend(cdrs)
        return FraudOutcome({}, (), 0)


@dataclass
class _Delivery:
    cdrs: int = 0
    batches: int = 0
    accepted: int = 0
    rejected: int = 0


def _deliver(
    synth: CdrSynthesizer,
    engine: FraudEngine,
    cdrs: int,
    batch_size: int,
    on_labels: Callable[[list[Label]], None],
) -> _Delivery:
    """The day, slice by slice, in `batch_size` Kinesis batches through the handler's processor; each
    slice's fraud labels to `on_labels` before the slice is delivered."""
    stores = Stores(InMemoryAggregateStore(), _DiscardArchive(), _DiscardStream(), _DiscardStream())
    processor = BatchProcessor(pipeline_config(synth.config.home_region), stores, engine)
    # "Now" for the validator's clock checks: just after the day, as if the day were replayed then.
    now_ms = (DAY_START_UTC_S + 2 * 86_400) * 1000
    done = _Delivery()
    gc.collect()
    gc.freeze()  # the population and phonenumbers' metadata: long-lived, never worth a cyclic GC pass
    try:
        for piece in synth.day_slices(cdrs, DAY_START_UTC_S):
            on_labels([label for label in piece.labels if label.kind == "fraud"])
            for start in range(0, len(piece.payloads), batch_size):
                payloads = piece.payloads[start : start + batch_size]
                keys = piece.partition_keys[start : start + batch_size]
                outcome = processor.process(kinesis_event(payloads, keys, done.cdrs, now_ms), now_ms=now_ms)
                done.cdrs += len(payloads)
                done.batches += 1
                done.accepted += outcome.applied + outcome.replayed
                done.rejected += sum(outcome.rejected.values())
    finally:
        gc.unfreeze()
    return done


def canonical_day(cdrs: int, seed: int, *, config: SynthConfig | None = None) -> CanonicalDay:
    """The load generator's day as the handler's canonical CDRs (defects rejected on the way)."""
    synth = CdrSynthesizer(config or SynthConfig(), seed)
    engine = _CollectingEngine(
        load_rules(), InMemoryStateStore(), InMemoryAlertSink(), SubscriberTokenizer(EVAL_TOKEN_KEY)
    )
    engine.cdrs = []
    labels: list[Label] = []
    _deliver(synth, engine, cdrs, 500, labels.extend)
    return CanonicalDay(engine.cdrs, labels, synth.config.home_region)


def evaluate_loadgen_day(
    rules: RuleSet, *, cdrs: int, seed: int, batch_size: int = 100, config: SynthConfig | None = None
) -> LoadgenEvaluation:
    """Generate the day slice by slice, deliver it in `batch_size` Kinesis batches, score per rule."""
    synth = CdrSynthesizer(config or SynthConfig(), seed)
    tokenizer = SubscriberTokenizer(EVAL_TOKEN_KEY)
    sink = InMemoryAlertSink()
    engine = _RecordingEngine(
        rules, InMemoryStateStore(), sink, tokenizer, home_region=synth.config.home_region
    )
    engine.fraud_ids, engine.fraud_cdrs = set(), {}
    labels: list[Label] = []

    def note(fraud: list[Label]) -> None:
        labels.extend(fraud)
        engine.fraud_ids.update(label.cdr_id for label in fraud)

    wall, cpu = time.perf_counter(), time.process_time()
    done = _deliver(synth, engine, cdrs, batch_size, note)
    episodes = episodes_of(labels, engine.fraud_cdrs, tokenizer)
    return LoadgenEvaluation(
        cdrs=done.cdrs,
        batches=done.batches,
        accepted=done.accepted,
        rejected=done.rejected,
        rules_version=rules.version,
        wall_s=time.perf_counter() - wall,
        cpu_s=time.process_time() - cpu,
        quality=tuple(score_rule(rule_id, episodes, sink.alerts) for rule_id in RULE_IDS),
        alerts_by_rule=dict(Counter(alert.rule_id for alert in sink.alerts)),
    )


def episodes_of(
    labels: Iterable[Label],
    fraud_cdrs: dict[str, tuple[int, str, str | None]],
    tokenizer: SubscriberTokenizer,
) -> list[Episode]:
    """Group labelled records by episode; an episode's subjects are what its rule would key an alert on; one
    with fewer records than its scenario's whole episode was cut off by the end of the day."""
    grouped: dict[str, list[Label]] = defaultdict(list)
    for label in labels:
        grouped[label.episode].append(label)
    episodes = []
    for episode_id, members in grouped.items():
        scenario = members[0].scenario
        seen = [fraud_cdrs[label.cdr_id] for label in members if label.cdr_id in fraud_cdrs]
        if not seen:
            continue  # cannot happen with the generator's episodes (never defects); kept honest by tests
        subjects = {a_number for _, a_number, _ in seen}
        if scenario == "simbox":  # the box is one device: its IMEI is a subject of the device trigger
            subjects |= {DEVICE_PREFIX + imei for _, _, imei in seen if imei}
        episodes.append(
            Episode(
                scenario=scenario,
                episode_id=episode_id,
                records=len(seen),
                first_release_ms=min(release_ms for release_ms, _, _ in seen),
                subject_tokens=frozenset(tokenizer.token(subject) for subject in subjects),
                complete=len(members) >= EPISODE_RECORDS.get(scenario, 0),
            )
        )
    return episodes
