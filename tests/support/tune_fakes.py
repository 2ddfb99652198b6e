"""A fake deployed function for the power-tuning sweep's unit tests: it writes Lambda's log lines (START,
the handler's EMF line, END, REPORT, in the local runtime's exact format) for a duration that is an I/O wait
plus CPU work divided by the CPU share the memory buys."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from infra.local.cpu_limit import cpu_share
from infra.local.esm.config import EsmConfig
from infra.local.esm.lambda_logs import InvocationLog, invocation_events
from infra.power_tuning import Configured, config_key
from pipeline.observability import emf_line

IO_MS = 300.0
CPU_MS = 100.0  # at one full core
INIT_MS = 500.0


class FakeFunction:
    measured_on = "fake (tests)"

    def __init__(self, architectures: tuple[str, ...] = ("x86_64",)) -> None:
        self.name = "cdrcap-cdr-processor"
        self.event_config = EsmConfig(
            stream_name="cdrcap-cdr-in",
            stream_arn="arn:aws:kinesis:us-east-1:000000000000:stream/cdrcap-cdr-in",
            function_name=self.name,
            kinesis_endpoint_url="",
            endpoint_url="",
            state_dir=Path("."),
        )
        self._architectures = architectures
        self._memory_mb: dict[str, int] = {}
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._streams: dict[str, str] = {}
        self.invoked: list[tuple[str, int]] = []  # (configuration, records) in invocation order
        self.closed = False
        self.host_cores = 2.0

    def configure(self, memory_mb: int, architecture: str) -> Configured:
        if architecture not in self._architectures:
            return Configured(False, f"{architecture} is not measurable here")
        key = config_key(memory_mb, architecture)
        self._memory_mb[key] = memory_mb
        self._events[key] = []
        self._streams[key] = f"2026/12/03/[$LATEST]{uuid.uuid4().hex}"
        return Configured(True, cpu_share=cpu_share(memory_mb), key=key)

    def invoke(self, key: str, event: bytes) -> None:
        records = len(json.loads(event)["Records"])
        self.invoked.append((key, records))
        events = self._events[key]
        start_ms = 1_000_000.0 + 10_000.0 * len(self.invoked)
        duration_ms = IO_MS + CPU_MS / cpu_share(self._memory_mb[key])
        emf = emf_line("cdrcap", {"RecordsIn": records, "RecordsDeferred": 0}, [50.0], 0).decode()
        log = InvocationLog(self._streams[key], ((int(start_ms) + 1, emf),), 120, None if events else INIT_MS)
        events += [
            {"logStreamName": self._streams[key], "timestamp": t, "message": m}
            for t, m in invocation_events(
                str(uuid.uuid4()), start_ms, start_ms + duration_ms, self._memory_mb[key], log
            )
        ]

    def log_events(self, key: str) -> list[dict[str, Any]]:
        return list(self._events[key])

    def handler_cpu_ms(self, key: str) -> float:
        return CPU_MS

    def host_cpu_cores(self) -> float:
        return self.host_cores

    def problem(self, key: str) -> str:
        return ""

    def close(self) -> None:
        self.closed = True
