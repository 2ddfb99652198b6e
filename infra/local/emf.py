"""CloudWatch's reading of an embedded-metric-format (EMF) log line, for the local stack.

CloudWatch Logs turns each EMF document into metrics: for every `_aws.CloudWatchMetrics` directive, every
dimension set (names whose values are root keys of the document) and every metric named there, one datum
whose value is the root key of that name (a number, or an array of numbers), at `_aws.Timestamp`. A
directive naming a dimension or metric the document lacks is skipped, as CloudWatch rejects it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from capacity.emf import parse_emf as parse_emf  # re-exported: the runtime's one EMF recogniser
from pipeline.aws_limits import EMF_MAX_VALUES_PER_METRIC


@dataclass(frozen=True)
class EmfMetric:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    values: tuple[float, ...]
    unit: str
    timestamp_ms: int


def _numbers(value: Any) -> tuple[float, ...] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return (float(value),)
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        return tuple(float(v) for v in value[:EMF_MAX_VALUES_PER_METRIC])
    return None


def emf_metrics(document: dict[str, Any]) -> list[EmfMetric]:
    """The metrics CloudWatch extracts from one EMF document."""
    meta = document["_aws"]
    timestamp_ms = int(meta.get("Timestamp", 0))
    result: list[EmfMetric] = []
    for directive in meta.get("CloudWatchMetrics", []):
        namespace = str(directive.get("Namespace", ""))
        dimension_sets = directive.get("Dimensions") or [[]]
        for dimension_names in dimension_sets:
            if any(not isinstance(document.get(name), str) for name in dimension_names):
                continue
            dimensions = tuple((name, str(document[name])) for name in dimension_names)
            for metric in directive.get("Metrics", []):
                name = str(metric.get("Name", ""))
                values = _numbers(document.get(name))
                if not name or values is None:
                    continue
                unit = str(metric.get("Unit", "None"))
                result.append(EmfMetric(namespace, name, dimensions, values, unit, timestamp_ms))
    return result
