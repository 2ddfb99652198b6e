"""The fraud engine: one call per batch turns CDRs into window updates, rule decisions and alerts.

Cost per batch: one state write per (subscriber, window) item touched (packed by the store: 100 per
DynamoDB transaction), one alert claim per new detection, one PutEvents call per 10 new alerts.
Re-delivered records change nothing (see state.py) and re-fire nothing (alert claims are conditional puts).
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import phonenumbers

from pipeline.constants import ENV_HOME_REGION
from pipeline.fraud.alerts import Alert, AlertDeliveryError, AlertSink
from pipeline.fraud.detectors import Detection, Detector, build_detectors
from pipeline.fraud.errors import RulesConfigError
from pipeline.fraud.rules import RuleSet
from pipeline.fraud.state import (
    AlertClaim,
    ApplyRequest,
    Contribution,
    FraudStateStore,
    WindowKey,
    WindowState,
    combined,
    position,
)
from pipeline.fraud.tokens import SubscriberTokenizer
from pipeline.schema import CanonicalCDR, RecordType

KNOWN_CLAIMS_MAX = 50_000  # alert markers remembered per engine: ~16 MB at most (tracemalloc, 24-hex tokens)


def _previous(key: WindowKey) -> WindowKey:
    return WindowKey(key.subscriber_token, key.window_s, key.window_start_ms - key.window_s * 1000)


@dataclass(frozen=True, slots=True)
class FraudOutcome:
    matched_rules: Mapping[str, tuple[str, ...]]  # cdr_id -> rule ids, only for CDRs that matched a rule
    alerts: tuple[Alert, ...]  # newly emitted by this batch (already delivered to the sink)
    state_writes: int  # item writes requested from the state store by this batch (claims included)
    state_requests: int = 0  # write requests that carried them (a transaction of 100 items is one)


@dataclass(slots=True)
class _Group:
    """Everything a batch adds to one window item, and which CDRs each rule would tag there."""

    contributions: list[Contribution]
    tagged_cdr_ids: dict[str, list[str]]  # rule id -> cdr ids
    detectors: dict[str, Detector]


def home_prefix(home_region: str) -> str:
    """ "+44" for "GB": numbers outside it are international for the Wangiri rule."""
    calling_code = phonenumbers.country_code_for_region(home_region.upper())
    if not calling_code:
        raise RulesConfigError(
            f"home region {home_region!r} is not an ISO 3166 alpha-2 code known to libphonenumber; "
            f"set {ENV_HOME_REGION} to one such as GB or US"
        )
    return f"+{calling_code}"


class FraudEngine:
    def __init__(
        self,
        rules: RuleSet,
        state: FraudStateStore,
        alerts: AlertSink,
        tokenizer: SubscriberTokenizer,
        *,
        home_region: str = "US",
        write_concurrency: int = 1,
    ) -> None:
        """`write_concurrency` > 1 applies distinct window items (or the store's chunks of them) in
        parallel threads (round trips dominate a batch; items are independent, boto3 clients are
        thread-safe)."""
        self.rules = rules
        self._state = state
        self._sink = alerts
        self._tokenizer = tokenizer
        self._detectors = build_detectors(
            rules.rules,
            home_prefix=home_prefix(home_region),
            member=tokenizer.member,
            distinct_cap=rules.distinct_cap,
        )
        self._set_caps = {name: cap for d in self._detectors for name, cap in d.set_caps.items()}
        self._detectors_by_type = {
            record_type: [d for d in self._detectors if record_type in d.record_types]
            for record_type in RecordType
        }
        self._pool = ThreadPoolExecutor(write_concurrency) if write_concurrency > 1 else None
        self._known_claims: dict[
            tuple[WindowKey, str], None
        ] = {}  # alert markers known to exist, oldest first

    def evaluate(
        self,
        cdrs: Sequence[CanonicalCDR],
        batch_id: str,
        *,
        shard_id: str | None = None,
        sequence_numbers: Sequence[str] | None = None,
        partition_keys: Sequence[str] | None = None,
    ) -> FraudOutcome:
        """Apply a batch; return the matched rule ids per CDR and the alerts it raised.

        Pass the Kinesis `shard_id`, and per CDR its `sequence_numbers` and `partition_keys`: any re-delivery
        (same batch, bisected half, suffix after a partial failure, any parallelization factor) is then
        skipped record by record. Without partition keys the shard is one lane (exact with PF = 1). Without
        sequence numbers the whole batch is deduplicated by `batch_id` (an identical re-delivery only).
        """
        # A batch allocates a few containers per CDR, all freed by reference counting; the cyclic collector
        # would run every ~700 of them and its older generations walk the whole heap, which holds every
        # window item in the in-memory store (the benchmarks, fraud-eval's 1M-CDR day): paused per batch,
        # as BatchProcessor.process does for the handler (where this already runs with it paused).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._evaluate(cdrs, batch_id, shard_id, sequence_numbers, partition_keys)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _evaluate(
        self,
        cdrs: Sequence[CanonicalCDR],
        batch_id: str,
        shard_id: str | None,
        sequence_numbers: Sequence[str] | None,
        partition_keys: Sequence[str] | None,
    ) -> FraudOutcome:
        sources = self._sources(len(cdrs), batch_id, shard_id, sequence_numbers, partition_keys)
        if sequence_numbers is not None:
            positions = [position(s) for s in sequence_numbers]
        else:
            positions = [position(i) for i in range(len(cdrs))]
        writes_before, requests_before = self._state.item_writes, self._state.writes
        groups = self._group(cdrs, sources, positions)
        observed_at_ms = max((cdr.release_utc_ms for cdr in cdrs), default=0)
        matched: dict[str, list[str]] = {}
        new_alerts: list[Alert] = []
        claimed: list[tuple[WindowKey, str]] = []
        ttl_s = self.rules.alert_ttl_s
        requests = [
            ApplyRequest(key, group.contributions, self._set_caps, key.window_end_ms // 1000 + ttl_s)
            for key, group in groups.items()
        ]
        states = self._state.apply_many(requests, self._pool)
        detections = self._judge(requests, groups, states)
        for key, rule_id, _, _ in detections:
            for cdr_id in groups[key].tagged_cdr_ids.get(rule_id, ()):
                matched.setdefault(cdr_id, []).append(rule_id)
        # A marker this engine saw claimed (by itself or anyone: the conditional put failed) exists: asking
        # again would only fail again, one request per window and rule for every later batch that touches it
        unknown = [
            AlertClaim(key, rule_id, expires_at_s)
            for key, rule_id, expires_at_s, _ in detections
            if (key, rule_id) not in self._known_claims
        ]
        granted = dict(zip(unknown, self._state.claim_alerts(unknown, self._pool), strict=True))
        for claim in unknown:
            self._remember_claim((claim.key, claim.rule_id))
        for key, rule_id, expires_at_s, detection in detections:
            if granted.get(AlertClaim(key, rule_id, expires_at_s)):
                claimed.append((key, rule_id))
                new_alerts.append(
                    Alert(
                        rule_id=rule_id,
                        rules_version=self.rules.version,
                        score=detection.score,
                        subscriber_token=key.subscriber_token,
                        window_s=key.window_s,
                        window_start_ms=key.window_start_ms,
                        window_end_ms=key.window_end_ms,
                        observed_at_ms=observed_at_ms,
                        batch_id=batch_id,
                        evidence=detection.evidence,
                    )
                )
        self._deliver(new_alerts, claimed)
        return FraudOutcome(
            matched_rules={cdr_id: tuple(sorted(set(ids))) for cdr_id, ids in matched.items()},
            alerts=tuple(new_alerts),
            state_writes=self._state.item_writes - writes_before,
            state_requests=self._state.writes - requests_before,
        )

    def _judge(
        self,
        requests: Sequence[ApplyRequest],
        groups: Mapping[WindowKey, _Group],
        states: Sequence[WindowState],
    ) -> list[tuple[WindowKey, str, int, Detection]]:
        """Each (item, rule) whose window holds, in request order: alone, or with the previous window for
        a rule that asks (all those previous windows in one read_many)."""
        judged: list[tuple[WindowKey, str, int, Detection | None]] = []
        wants_previous: list[tuple[int, Detector, WindowState]] = []
        for (key, _, _, expires_at_s), state in zip(requests, states, strict=True):
            for rule_id, detector in groups[key].detectors.items():
                detection = detector.detect(state, key)
                if detection is None and detector.wants_previous_window(state):
                    wants_previous.append((len(judged), detector, state))
                judged.append((key, rule_id, expires_at_s, detection))
        if wants_previous:
            previous_keys = [_previous(judged[slot][0]) for slot, _, _ in wants_previous]
            previous_states = self._state.read_many(previous_keys, self._pool)
            for (slot, detector, state), previous in zip(wants_previous, previous_states, strict=True):
                key, rule_id, expires_at_s, _ = judged[slot]
                detection = detector.detect(combined(state, previous), key)
                if detection is not None:
                    detection = Detection(detection.score, {**detection.evidence, "windows": 2})
                    judged[slot] = (key, rule_id, expires_at_s, detection)
        return [(key, rule_id, exp, found) for key, rule_id, exp, found in judged if found is not None]

    def _remember_claim(self, marker: tuple[WindowKey, str]) -> None:
        known = self._known_claims
        known[marker] = None
        if len(known) > KNOWN_CLAIMS_MAX:
            del known[next(iter(known))]  # the oldest: dicts keep insertion order

    def _sources(
        self,
        count: int,
        batch_id: str,
        shard_id: str | None,
        sequence_numbers: Sequence[str] | None,
        partition_keys: Sequence[str] | None,
    ) -> list[str]:
        """Per record, the in-order lane it belongs to; partition keys are hashed (they may be MSISDNs)."""
        if sequence_numbers is None:
            return [f"batch:{batch_id}"] * count
        if shard_id is None or len(sequence_numbers) != count:
            raise ValueError("sequence_numbers needs shard_id and one sequence number per CDR")
        if partition_keys is None:
            return [shard_id] * count
        if len(partition_keys) != count:
            raise ValueError("partition_keys needs one partition key per CDR")
        token = self._tokenizer.token
        return [f"{shard_id}/{token(key)[:16]}" for key in partition_keys]

    def _group(
        self, cdrs: Sequence[CanonicalCDR], sources: Sequence[str], positions: Sequence[str]
    ) -> dict[WindowKey, _Group]:
        groups: dict[WindowKey, _Group] = {}
        token = self._tokenizer.token
        by_type = self._detectors_by_type
        new = tuple.__new__  # WindowKey / Contribution without their Python-level __new__ (hot: ~3 per CDR)
        for cdr, source, record_position in zip(cdrs, sources, positions, strict=True):
            for detector in by_type[cdr.record_type]:
                touches = detector.touches(cdr)
                if not touches:
                    continue
                rule_id, window_s = detector.rule_id, detector.window_s
                for subscriber, start_ms, counters, members, tags_cdr in touches:
                    key = new(WindowKey, (token(subscriber), window_s, start_ms))
                    group = groups.get(key)
                    if group is None:
                        group = groups[key] = _Group([], {}, {})
                    group.contributions.append(
                        new(Contribution, (source, record_position, counters, members))
                    )
                    group.detectors[rule_id] = detector
                    if tags_cdr:
                        group.tagged_cdr_ids.setdefault(rule_id, []).append(cdr.cdr_id)
        return groups

    def _deliver(self, alerts: list[Alert], claimed: list[tuple[WindowKey, str]]) -> None:
        if not alerts:
            return
        try:
            self._sink.put(alerts)
        except AlertDeliveryError as error:
            # Give the claims back so the retried batch (whose state is already applied, hence unchanged)
            # detects again and re-claims: the alert is late, not lost, and still sent once.
            undelivered = {
                (a.rule_id, a.subscriber_token, a.window_s, a.window_start_ms) for a in error.undelivered
            }
            for key, rule_id in claimed:
                if (rule_id, key.subscriber_token, key.window_s, key.window_start_ms) in undelivered:
                    self._state.release_alert(key, rule_id)
                    self._known_claims.pop((key, rule_id), None)  # the retry must claim it again
            raise
