"""What the local runtime publishes to the emulator's CloudWatch, as Lambda does on AWS: the AWS/Lambda
metrics by FunctionName, the function's log group (START/END/REPORT around the handler's lines), and the
metrics CloudWatch extracts from the handler's EMF lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.local.cloudwatch_sink import CloudWatchSink
from infra.local.emf import emf_metrics, parse_emf
from infra.local.esm.lambda_logs import invocation_events
from infra.local.esm.worker import InvokeResult

LAMBDA_NAMESPACE = "AWS/Lambda"
# The runtime's metric names that AWS/Lambda publishes per function, with their units.
LAMBDA_METRIC_UNITS = {
    "Invocations": "Count",
    "Errors": "Count",
    "Throttles": "Count",
    "Duration": "Milliseconds",
    "IteratorAge": "Milliseconds",
    "ConcurrentExecutions": "Count",
}


@dataclass(frozen=True)
class LambdaPublisher:
    sink: CloudWatchSink
    function_name: str
    memory_mb: int

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def metric(self, name: str, value: float) -> None:
        unit = LAMBDA_METRIC_UNITS.get(name)
        if unit is not None:
            self.sink.metric(LAMBDA_NAMESPACE, name, value, (("FunctionName", self.function_name),), unit)

    def invocation(self, result: InvokeResult) -> None:
        """The invocation's log lines, and the EMF metrics in them."""
        # The local pool queues instead of throttling, so every invocation counts zero throttles.
        self.metric("Throttles", 0)
        if result.error is None:
            self.metric("Errors", 0)  # AWS publishes the zeros too; an error's 1 comes from the lane
        if result.log is None:
            return
        events = invocation_events(
            result.request_id,
            result.start_epoch_ms,
            result.end_epoch_ms,
            self.memory_mb,
            result.log,
            result.timed_out,
        )
        for timestamp_ms, line in events:
            self.sink.log(self.log_group, result.log.log_stream, timestamp_ms, line)
            document = parse_emf(line)
            if document is not None:
                self._emf(document)

    def _emf(self, document: dict[str, Any]) -> None:
        for metric in emf_metrics(document):
            for value in metric.values:
                self.sink.metric(
                    metric.namespace,
                    metric.name,
                    value,
                    metric.dimensions,
                    metric.unit,
                    epoch_s=metric.timestamp_ms / 1000.0 if metric.timestamp_ms else None,
                )
