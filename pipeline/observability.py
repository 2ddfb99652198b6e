"""Structured JSON logs with PII masked, and one CloudWatch EMF metrics line per invocation."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from pipeline.aws_limits import EMF_MAX_VALUES_PER_METRIC

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
# Runs of 6+ digits (optionally after "+") in free text may be an MSISDN/IMSI/IMEI: keep only the edges.
_DIGIT_RUN = re.compile(r"\+?\d{6,}")
_PII_KEYS = frozenset({"a_number", "b_number", "msisdn", "calling_number", "called_number", "imsi", "imei"})


def mask(value: str) -> str:
    """Keep the first 3 and last 2 characters: enough to correlate, not enough to identify."""
    if len(value) <= 5:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 5) + value[-2:]


def scrub(text: str) -> str:
    """Mask every digit run that could be a subscriber identifier inside free text."""
    return _DIGIT_RUN.sub(lambda m: mask(m.group(0)), text)


def _safe(fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key in _PII_KEYS and isinstance(value, str):
            out[key] = mask(value)
        elif isinstance(value, str):
            out[key] = scrub(value)
        else:
            out[key] = value
    return out


class JsonLogger:
    """One JSON object per line on stdout (Lambda ships stdout to CloudWatch Logs)."""

    def __init__(self, level: str = "INFO", stream: Any = None) -> None:
        self.threshold = _LEVELS.get(level, 20)
        self.stream = stream

    def log(self, level: str, message: str, **fields: Any) -> None:
        if _LEVELS[level] < self.threshold:
            return
        line = {"ts_ms": int(time.time() * 1000), "level": level, "message": scrub(message), **_safe(fields)}
        out = self.stream or sys.stdout
        out.write(orjson.dumps(line).decode() + "\n")


def quantile_sample(values: Sequence[float], limit: int = EMF_MAX_VALUES_PER_METRIC) -> list[float]:
    """At most `limit` order statistics spread evenly over `values`: percentiles survive the cut."""
    ordered = sorted(values)
    if len(ordered) <= limit:
        return ordered
    step = (len(ordered) - 1) / (limit - 1)
    return [ordered[round(i * step)] for i in range(limit)]


def emf_line(
    namespace: str,
    counts: Mapping[str, int | float],
    latencies_ms: Sequence[float],
    timestamp_ms: int,
    properties: Mapping[str, Any] | None = None,
) -> bytes:
    """One EMF document: every count as a metric, end-to-end latency as a sampled values array."""
    metrics: list[dict[str, str]] = [
        {"Name": name, "Unit": "Milliseconds" if name.endswith("Ms") else "Count"} for name in counts
    ]
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": [[]], "Metrics": metrics}],
        },
        **(properties or {}),
        **counts,
    }
    if latencies_ms:
        metrics.append({"Name": "EndToEndLatencyMs", "Unit": "Milliseconds"})
        document["EndToEndLatencyMs"] = quantile_sample(latencies_ms)
    return orjson.dumps(document)
