"""The deployed function a power-tuning sweep sets and invokes: one interface, an AWS Lambda implementation
here and the local stack's in infra/local/tune_function.py.

Each implementation sets up every (memory, architecture) first (a published version each on AWS, a worker
each locally), so the sweep can take turns between them batch by batch: a drift of the host or the
services then lands on every configuration alike. It invokes the handler with the same Kinesis events and
gives back the function's CloudWatch Logs lines for those invocations (START, the handler's EMF line, END,
REPORT), so one reader (capacity/log_invocations.py) turns both into rows.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from infra.errors import InfraError
from infra.local.esm.config import EsmConfig

FUNCTION_UPDATE_TIMEOUT_S = 300.0


class TuneTargetError(InfraError):
    """The sweep's target has no function to tune, or refused a setting; the message names which."""


@dataclass(frozen=True)
class Configured:
    """What setting a configuration gave: measurable, and if not why; the CPU share it runs with."""

    measurable: bool
    note: str = ""
    cpu_share: float = float("nan")
    key: str = ""  # names the configuration in invoke/log_events


def config_key(memory_mb: int, architecture: str) -> str:
    return f"{memory_mb}-{architecture}"


class TunableFunction(Protocol):
    name: str
    measured_on: str
    event_config: EsmConfig  # the stream, region and role the replayed events name, as Lambda's would

    def configure(self, memory_mb: int, architecture: str) -> Configured: ...

    def invoke(self, key: str, event: bytes) -> None: ...

    def log_events(self, key: str) -> list[dict[str, Any]]:
        """FilterLogEvents-shaped events ({logStreamName, timestamp, message}) of this configuration's
        invocations, in order."""
        ...

    def handler_cpu_ms(self, key: str) -> float:
        """Mean CPU time of the configuration's warm invocations, where the target can measure it (NaN)."""
        ...

    def host_cpu_cores(self) -> float:
        """Cores the host gives an unlimited process now, where shares are emulated (NaN on AWS)."""
        ...

    def problem(self, key: str) -> str:
        """The first function error of the configuration's invocations ("" when none failed)."""
        ...

    def close(self) -> None: ...


class AwsFunction:
    """A deployed Lambda function: UpdateFunctionConfiguration, PublishVersion, then Invoke the version with
    LogType=Tail (the invocation's last 4 KB of log, REPORT line included) for each event."""

    measured_on = "AWS Lambda"

    def __init__(self, lambda_client: Any, function_name: str, stream_arn: str, region: str) -> None:
        self.name = function_name
        self._lambda = lambda_client
        self.event_config = EsmConfig(
            stream_name=stream_arn.rpartition("/")[2],
            stream_arn=stream_arn,
            function_name=function_name,
            kinesis_endpoint_url="",
            endpoint_url="",
            state_dir=Path("."),
            region=region,
        )
        try:
            function = lambda_client.get_function_configuration(FunctionName=function_name)
        except ClientError as error:
            raise TuneTargetError(
                f"function {function_name!r} is not deployed on this target ({_code(error)}); "
                "deploy the pipeline stack first (`cdrcap deploy --target T`)"
            ) from error
        self._architecture = (function.get("Architectures") or ["x86_64"])[0]
        self._original_memory_mb = int(function.get("MemorySize", 128))
        self._versions: dict[str, str] = {}
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._problems: dict[str, str] = {}

    def configure(self, memory_mb: int, architecture: str) -> Configured:
        if architecture != self._architecture:
            # The architecture is the code's: a zip built for the other one goes with UpdateFunctionCode.
            return Configured(
                False,
                f"the function's code is built for {self._architecture}: deploy it with "
                f"Architecture={architecture} (`cdrcap package` for that architecture) and rerun the sweep",
            )
        self._lambda.update_function_configuration(FunctionName=self.name, MemorySize=memory_mb)
        self._wait_updated()
        published = self._lambda.publish_version(
            FunctionName=self.name, Description=f"cdrcap tune {memory_mb} MB {architecture}"
        )
        key = config_key(memory_mb, architecture)
        self._versions[key] = str(published["Version"])
        self._events[key] = []
        return Configured(True, key=key)

    def _wait_updated(self) -> None:
        deadline = time.monotonic() + FUNCTION_UPDATE_TIMEOUT_S
        while time.monotonic() < deadline:
            state = self._lambda.get_function_configuration(FunctionName=self.name)
            if state.get("LastUpdateStatus", "Successful") != "InProgress":
                if state.get("LastUpdateStatus") == "Failed":
                    raise TuneTargetError(
                        f"function {self.name}: the update failed ({state.get('LastUpdateStatusReason')})"
                    )
                return
            time.sleep(1.0)
        raise TuneTargetError(f"function {self.name}: still updating after {FUNCTION_UPDATE_TIMEOUT_S:.0f} s")

    def invoke(self, key: str, event: bytes) -> None:
        version = self._versions[key]
        answer = self._lambda.invoke(FunctionName=self.name, Qualifier=version, Payload=event, LogType="Tail")
        tail = base64.b64decode(answer.get("LogResult") or b"").decode("utf-8", "replace")
        if answer.get("FunctionError") and key not in self._problems:
            payload = answer.get("Payload")
            body = payload.read().decode("utf-8", "replace") if payload is not None else ""
            self._problems[key] = f"{answer['FunctionError']}: {body[:300]}"
        events = self._events[key]
        stream = f"tail/{version}/{len(events)}"
        now_ms = int(time.time() * 1000)
        # One event per line, as CloudWatch Logs splits them (the EMF line is one line).
        events += [
            {"logStreamName": stream, "timestamp": now_ms, "message": line}
            for line in tail.splitlines()
            if line
        ]

    def log_events(self, key: str) -> list[dict[str, Any]]:
        return list(self._events[key])

    def handler_cpu_ms(self, key: str) -> float:
        return float("nan")  # Lambda reports no CPU time

    def host_cpu_cores(self) -> float:
        return float("nan")  # Lambda gives the share itself

    def problem(self, key: str) -> str:
        return self._problems.get(key, "")

    def close(self) -> None:
        """Put the function's memory back as the stack had it (the published versions stay, numbered)."""
        self._lambda.update_function_configuration(
            FunctionName=self.name, MemorySize=self._original_memory_mb
        )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "error"))
