"""Fraud alerts: the event shape, the sink protocol, EventBridge delivery and an in-memory fake.

An alert names the subscriber only by its HMAC token; the evidence is counters, never numbers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypedDict

from pipeline.aws_limits import PUT_EVENTS_MAX_ENTRIES
from pipeline.fraud.errors import FraudError

ALERT_SOURCE = "cdrcap.fraud"
ALERT_DETAIL_TYPE = "FraudAlert"
ALERT_SCHEMA = "cdrcap.fraud-alert/1"


class AlertDetail(TypedDict):
    schema: str
    rule_id: str
    rules_version: str
    score: float
    subscriber_token: str
    window_s: int
    window_start: str  # ISO-8601 UTC
    window_end: str
    window_start_ms: int
    window_end_ms: int
    observed_at_ms: int  # event time: the newest CDR release time in the batch that fired the alert
    batch_id: str
    evidence: dict[str, int]


@dataclass(frozen=True, slots=True)
class Alert:
    rule_id: str
    rules_version: str
    score: float
    subscriber_token: str
    window_s: int
    window_start_ms: int
    window_end_ms: int
    observed_at_ms: int
    batch_id: str
    evidence: Mapping[str, int]

    def detail(self) -> AlertDetail:
        return {
            "schema": ALERT_SCHEMA,
            "rule_id": self.rule_id,
            "rules_version": self.rules_version,
            "score": self.score,
            "subscriber_token": self.subscriber_token,
            "window_s": self.window_s,
            "window_start": _iso(self.window_start_ms),
            "window_end": _iso(self.window_end_ms),
            "window_start_ms": self.window_start_ms,
            "window_end_ms": self.window_end_ms,
            "observed_at_ms": self.observed_at_ms,
            "batch_id": self.batch_id,
            "evidence": dict(self.evidence),
        }


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


class AlertDeliveryError(FraudError):
    """EventBridge refused some alerts; the engine releases their claims and the batch is retried."""

    def __init__(self, message: str, undelivered: Sequence[Alert]) -> None:
        super().__init__(message)
        self.undelivered = tuple(undelivered)


class AlertSink(Protocol):
    def put(self, alerts: Sequence[Alert]) -> None:
        """Deliver every alert or raise AlertDeliveryError (all-or-error, so claims can be released)."""
        ...


class InMemoryAlertSink:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def put(self, alerts: Sequence[Alert]) -> None:
        self.alerts.extend(alerts)


class EventBridgeAlertSink:
    """PutEvents to one bus, 10 entries per call, failed entries retried once."""

    def __init__(self, events_client: Any, bus_name: str) -> None:
        self._client = events_client
        self._bus_name = bus_name

    def _entry(self, alert: Alert) -> dict[str, Any]:
        return {
            "Source": ALERT_SOURCE,
            "DetailType": ALERT_DETAIL_TYPE,
            "Detail": json.dumps(alert.detail(), separators=(",", ":")),
            "EventBusName": self._bus_name,
            "Time": datetime.fromtimestamp(alert.observed_at_ms / 1000, tz=UTC),
        }

    def put(self, alerts: Sequence[Alert]) -> None:
        undelivered: list[Alert] = []
        codes: set[str] = set()
        for start in range(0, len(alerts), PUT_EVENTS_MAX_ENTRIES):
            pending = list(alerts[start : start + PUT_EVENTS_MAX_ENTRIES])
            for _attempt in range(2):
                response = self._client.put_events(Entries=[self._entry(alert) for alert in pending])
                if not response.get("FailedEntryCount"):
                    pending = []
                    break
                results = response.get("Entries", [])
                failed = [(a, r) for a, r in zip(pending, results, strict=False) if r.get("ErrorCode")]
                codes.update(str(r["ErrorCode"]) for _, r in failed)
                pending = [a for a, _ in failed]
            undelivered.extend(pending)
        if undelivered:
            raise AlertDeliveryError(
                f"EventBridge rejected {len(undelivered)} alert(s) on {self._bus_name}: {sorted(codes)}",
                undelivered,
            )
