"""The local stack's function for a power-tuning sweep: the same worker processes the local ESM runtime
invokes (the handler imported from the unpacked zip, with the stack's environment), one per configuration,
with Lambda's CPU share of its memory from a real limiter, and its START/END/REPORT lines written to the
emulator's /aws/lambda/<function> log group as the runtime writes them, then read back from there.

A configuration's architecture must be the host's: an emulated architecture would measure the emulator,
so the other one is reported as not measurable locally.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import time
from pathlib import Path
from typing import Any

from capacity.log_invocations import read_log_events
from infra.aws import Target, client
from infra.local.cloudwatch_sink import CloudWatchSink
from infra.local.cpu_limit import cpu_share
from infra.local.esm.cloudwatch import LambdaPublisher
from infra.local.esm.config import EsmConfig
from infra.local.esm.pool import WorkerPool
from infra.local.esm.runtime import worker_env
from infra.local.stack import LocalStack
from infra.power_tuning import Configured, TuneTargetError

MACHINE_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
LOG_READ_SLACK_MS = 2_000  # the emulator stamps what it stores; read a little around the sweep's window


def host_architecture() -> str:
    machine = platform.machine().lower()
    return MACHINE_ARCHITECTURES.get(machine, machine)


class LocalFunction:
    """The local stack's function, run by a one-worker pool per configuration."""

    def __init__(self, state_dir: Path) -> None:
        stack = LocalStack(state_dir)
        info = stack.status()
        alive = stack.alive()
        if info is None or not alive or not all(alive.values()):
            raise TuneTargetError(
                f"no local stack is up in {stack.state_dir}, so there is no deployed function to tune; "
                "start one with `cdrcap up` (or pass --state-dir)"
            )
        self._config = EsmConfig.from_dict(json.loads((stack.state_dir / "esm.json").read_text()))
        self.name = self._config.function_name
        self.event_config = self._config
        emulator = Target(name="local", region=info.region, endpoint_url=info.endpoint_url, is_local=True)
        self._logs = client(emulator, "logs")
        self._sink = CloudWatchSink(client(emulator, "cloudwatch"), self._logs)
        self._pool: WorkerPool | None = None
        self._publisher: LambdaPublisher | None = None
        self._memory_mb = 0
        self._streams: set[str] = set()
        self._started_ms = 0
        self.limiter_kind = "none"
        self.measured_on = f"local stack ({host_architecture()} host)"

    def configure(self, memory_mb: int, architecture: str) -> Configured:
        self._stop_pool()
        host = host_architecture()
        if architecture != host:
            return Configured(
                False,
                f"not measurable locally: the local runtime runs on a {host} host and does not emulate "
                f"{architecture}; measure it with --target on AWS",
            )
        share = cpu_share(memory_mb)
        config = dataclasses.replace(self._config, memory_mb=memory_mb)
        self._pool = WorkerPool(
            1, config.handler, worker_env(config), None, config.task_root, config.runtime_dir, share
        )
        self._pool.warm()
        self.limiter_kind = self._pool.limiter_kind
        self.measured_on = f"local stack ({host} host, {self.limiter_kind} CPU limiter)"
        self._publisher = LambdaPublisher(self._sink, self.name, memory_mb)
        self._memory_mb = memory_mb
        self._streams = set()
        self._started_ms = int(time.time() * 1000)
        return Configured(True, cpu_share=round(share, 4))

    def invoke(self, event: bytes) -> None:
        assert self._pool is not None and self._publisher is not None, "configure() first"
        config = self._config
        result = self._pool.invoke(
            event, config.function_name, config.function_arn, self._memory_mb, config.function_timeout_s
        )
        self._publisher.invocation(result)  # START, the handler's lines, END, REPORT
        if result.log is not None:
            self._streams.add(result.log.log_stream)

    def log_events(self) -> list[dict[str, Any]]:
        """This configuration's log lines, read back from the emulator's CloudWatch Logs."""
        self._sink.flush()
        group = f"/aws/lambda/{self.name}"
        events = read_log_events(
            self._logs,
            group,
            self._started_ms - LOG_READ_SLACK_MS,
            int(time.time() * 1000) + LOG_READ_SLACK_MS,
        )
        # The stack's own runtime may write to the group meanwhile: keep this configuration's streams.
        return [event for event in events if event.get("logStreamName") in self._streams]

    def _stop_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def close(self) -> None:
        self._stop_pool()
        self._sink.flush()
