"""The local stack's function for a power-tuning sweep: the same worker processes the local ESM runtime
invokes (the handler imported from the unpacked zip, with the stack's environment), one per configuration,
with Lambda's CPU share of its memory from a real limiter, and its START/END/REPORT lines written to the
emulator's /aws/lambda/<function> log group as the runtime writes them, then read back from there.

A configuration's architecture must be the host's: an emulated architecture would measure the emulator,
so the other one is reported as not measurable locally. Each invocation's CPU time (the worker's, from
/proc) is kept too: it says how much of the duration the CPU share can change.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capacity.log_invocations import read_log_events
from infra.aws import Target, client
from infra.local.cloudwatch_sink import CloudWatchSink
from infra.local.cpu_limit import available_cores, cpu_share, process_cpu_s
from infra.local.esm.cloudwatch import LambdaPublisher
from infra.local.esm.config import EsmConfig
from infra.local.esm.pool import WorkerPool
from infra.local.esm.runtime import worker_env
from infra.local.stack import LocalStack
from infra.power_tuning import Configured, TuneTargetError, config_key

MACHINE_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
LOG_READ_SLACK_MS = 2_000  # the emulator stamps what it stores; read a little around the sweep's window
HANDLER_LOG = "tune-handler.log"  # the workers' stdout (the handler's EMF and log lines), in the state dir


def host_architecture() -> str:
    machine = platform.machine().lower()
    return MACHINE_ARCHITECTURES.get(machine, machine)


@dataclass
class _Environment:
    """One configuration's execution environment: its worker, its log streams and its CPU times."""

    pool: WorkerPool
    publisher: LambdaPublisher
    memory_mb: int
    started_ms: int
    streams: set[str] = field(default_factory=set)
    cpu_ms: list[float] = field(default_factory=list)
    problem: str = ""  # the first function error


class LocalFunction:
    """The local stack's function, one single-worker pool per configuration."""

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
        self._handler_log = str(stack.state_dir / HANDLER_LOG)
        self.name = self._config.function_name
        self.event_config = self._config
        emulator = Target(name="local", region=info.region, endpoint_url=info.endpoint_url, is_local=True)
        self._logs = client(emulator, "logs")
        self._sink = CloudWatchSink(client(emulator, "cloudwatch"), self._logs)
        self._environments: dict[str, _Environment] = {}
        self.limiter_kind = "none"
        self.measured_on = f"local stack ({host_architecture()} host)"

    def configure(self, memory_mb: int, architecture: str) -> Configured:
        host = host_architecture()
        if architecture != host:
            return Configured(
                False,
                f"not measurable locally: the local runtime runs on a {host} host and does not emulate "
                f"{architecture}; measure it with --target on AWS",
            )
        share = cpu_share(memory_mb)
        config = dataclasses.replace(self._config, memory_mb=memory_mb)
        pool = WorkerPool(
            1,
            config.handler,
            worker_env(config),
            self._handler_log,
            config.task_root,
            config.runtime_dir,
            share,
        )
        pool.warm()
        self.limiter_kind = pool.limiter_kind
        self.measured_on = f"local stack ({host} host, {self.limiter_kind} CPU limiter)"
        key = config_key(memory_mb, architecture)
        self._environments[key] = _Environment(
            pool, LambdaPublisher(self._sink, self.name, memory_mb), memory_mb, int(time.time() * 1000)
        )
        return Configured(True, cpu_share=round(share, 4), key=key)

    def invoke(self, key: str, event: bytes) -> None:
        environment = self._environments[key]
        config = self._config
        (pid,) = environment.pool.worker_pids
        cpu_before_s = process_cpu_s(pid)
        result = environment.pool.invoke(
            event, config.function_name, config.function_arn, environment.memory_mb, config.function_timeout_s
        )
        environment.cpu_ms.append((process_cpu_s(pid) - cpu_before_s) * 1000.0)
        if result.error and not environment.problem:
            environment.problem = result.error
        environment.publisher.invocation(result)  # START, the handler's lines, END, REPORT
        if result.log is not None:
            environment.streams.add(result.log.log_stream)

    def log_events(self, key: str) -> list[dict[str, Any]]:
        """This configuration's log lines, read back from the emulator's CloudWatch Logs."""
        environment = self._environments[key]
        self._sink.flush()
        events = read_log_events(
            self._logs,
            f"/aws/lambda/{self.name}",
            environment.started_ms - LOG_READ_SLACK_MS,
            int(time.time() * 1000) + LOG_READ_SLACK_MS,
        )
        # The stack's own runtime may write to the group meanwhile: keep this configuration's streams.
        return [event for event in events if event.get("logStreamName") in environment.streams]

    def handler_cpu_ms(self, key: str) -> float:
        warm = self._environments[key].cpu_ms[1:]  # the first invocation also builds the handler's clients
        return sum(warm) / len(warm) if warm else math.nan

    def host_cpu_cores(self) -> float:
        return available_cores()

    def problem(self, key: str) -> str:
        return self._environments[key].problem

    def close(self) -> None:
        for environment in self._environments.values():
            environment.pool.shutdown()
        self._environments.clear()
        self._sink.flush()
