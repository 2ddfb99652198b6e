"""Configuration of the local event-source-mapping runtime, validated against Lambda's bounds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capacity.quotas import (
    EFO_MAX_CONSUMERS_PER_STREAM,
    EFO_READ_BYTES_PER_S_PER_CONSUMER,
    EFO_SUBSCRIPTION_S,
    ESM_BATCH_SIZE_MAX,
    ESM_BATCH_SIZE_MIN,
    ESM_BATCHING_WINDOW_S_MAX,
    ESM_BATCHING_WINDOW_S_MIN,
    ESM_MAX_PAYLOAD_BYTES,
    ESM_MAX_RECORD_AGE_S_MAX,
    ESM_MAX_RECORD_AGE_S_MIN,
    ESM_MAX_RETRY_ATTEMPTS_MAX,
    ESM_PARALLELIZATION_FACTOR_MAX,
    ESM_PARALLELIZATION_FACTOR_MIN,
    LAMBDA_DEFAULT_ACCOUNT_CONCURRENCY,
)
from infra.errors import InfraError

DEFAULT_HANDLER = "pipeline.handler.handler"
CONSUMER_MODES = ("shared", "efo")
POLLS_FILE = "polls.csv"  # the pollers' GetRecords calls, one row each, beside invocations.csv


class EsmConfigError(InfraError, ValueError):
    """A setting outside what Lambda accepts; the message names the setting and its valid range."""


@dataclass(frozen=True)
class EsmConfig:
    """What a Lambda event source mapping on one Kinesis stream is configured with, plus local plumbing."""

    stream_name: str
    stream_arn: str
    function_name: str
    kinesis_endpoint_url: str  # the limits proxy, so read limits apply
    endpoint_url: str  # the emulator, for SQS (on-failure destination) and the handler's clients
    state_dir: Path
    region: str = "us-east-1"
    handler: str = DEFAULT_HANDLER
    batch_size: int = 100
    batching_window_s: float = 0.0
    parallelization_factor: int = 1
    bisect_batch_on_function_error: bool = True
    max_retry_attempts: int = -1  # -1: retry until the record expires, as Lambda
    max_record_age_s: int = -1  # -1: never discard by age, as Lambda
    report_batch_item_failures: bool = True
    on_failure_destination_url: str | None = None  # SQS queue URL
    concurrency_limit: int = 16  # cap on shards x parallelization factor (and on worker processes)
    function_timeout_s: float = 60.0
    memory_mb: int = 1024
    starting_position: str = "TRIM_HORIZON"  # or LATEST; used only when no checkpoint exists
    payload_limit_bytes: int = ESM_MAX_PAYLOAD_BYTES
    handler_env: dict[str, str] = field(default_factory=dict)
    # The unpacked Lambda zip and the runtime's boto3 (infra/local/artifact.py): the workers import the
    # handler from there alone. None: from the project's environment (the tests' own handlers).
    task_root: str | None = None
    runtime_dir: str | None = None
    # Lambda refuses a record age under 60 s; a scale model (tests) may shrink time as --scale shrinks rates.
    min_record_age_s: int = ESM_MAX_RECORD_AGE_S_MIN
    # "shared": GetRecords through the limits proxy; "efo": a registered stream consumer and SubscribeToShard
    # straight to the emulator (the proxy's read limits are the shared ones), held to its own byte budget.
    consumer_mode: str = "shared"
    efo_read_bytes_per_s: float = EFO_READ_BYTES_PER_S_PER_CONSUMER  # per shard; x the stack's scale
    efo_subscription_s: float = EFO_SUBSCRIPTION_S  # renew the subscription this often (shorter in tests)
    # Other polling consumers of the stream (GetRecords through the proxy, data discarded): they share the
    # 5 calls/s and 2 MiB/s of each shard with this one in shared mode, as other applications would.
    other_consumers: int = 0
    # How often each of them polls a shard; None: its fair share of 5 calls/s, (N + 1) x 200 ms.
    other_consumer_poll_interval_s: float | None = None
    # Publish what Lambda publishes (AWS/Lambda metrics, /aws/lambda/<function> logs, EMF metrics) to the
    # emulator's CloudWatch and CloudWatch Logs at endpoint_url.
    publish_cloudwatch: bool = True
    # Give each worker the CPU share Lambda gives memory_mb (memory / 1,769 MB of a core, at most one for
    # the single-threaded handler) through a real limiter (infra/local/cpu_limit.py). Off: workers take
    # whatever the host gives, as the runs measured before the limiter existed.
    cpu_share_of_memory: bool = False

    def __post_init__(self) -> None:
        check_range("batch_size", self.batch_size, ESM_BATCH_SIZE_MIN, ESM_BATCH_SIZE_MAX)
        check_range(
            "batching_window_s", self.batching_window_s, ESM_BATCHING_WINDOW_S_MIN, ESM_BATCHING_WINDOW_S_MAX
        )
        check_range(
            "parallelization_factor",
            self.parallelization_factor,
            ESM_PARALLELIZATION_FACTOR_MIN,
            ESM_PARALLELIZATION_FACTOR_MAX,
        )
        if self.max_retry_attempts != -1:
            check_range("max_retry_attempts", self.max_retry_attempts, 0, ESM_MAX_RETRY_ATTEMPTS_MAX)
        if self.max_record_age_s != -1:
            check_range(
                "max_record_age_s", self.max_record_age_s, self.min_record_age_s, ESM_MAX_RECORD_AGE_S_MAX
            )
        # the account's default concurrent executions bound what one mapping may use
        check_range("concurrency_limit", self.concurrency_limit, 1, LAMBDA_DEFAULT_ACCOUNT_CONCURRENCY)
        if self.consumer_mode not in CONSUMER_MODES:
            raise EsmConfigError(f"consumer_mode {self.consumer_mode!r}: use shared or efo")
        # Every consumer may be an EFO one on AWS, so the 20-per-stream cap bounds the count.
        check_range("other_consumers", self.other_consumers, 0, EFO_MAX_CONSUMERS_PER_STREAM - 1)
        if self.other_consumer_poll_interval_s is not None and self.other_consumer_poll_interval_s <= 0:
            raise EsmConfigError(
                f"other_consumer_poll_interval_s={self.other_consumer_poll_interval_s}: must be > 0 "
                "(or None for the fair share)"
            )
        if self.efo_subscription_s <= 0 or self.efo_read_bytes_per_s <= 0:
            raise EsmConfigError(
                f"efo_subscription_s={self.efo_subscription_s}, efo_read_bytes_per_s="
                f"{self.efo_read_bytes_per_s}: both must be > 0"
            )
        if self.starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise EsmConfigError(f"starting_position {self.starting_position!r}: use TRIM_HORIZON or LATEST")
        if "." not in self.handler:
            raise EsmConfigError(f"handler {self.handler!r}: give a dotted path such as {DEFAULT_HANDLER}")

    @property
    def function_arn(self) -> str:
        account = self.stream_arn.split(":")[4] if self.stream_arn.count(":") >= 5 else "000000000000"
        return f"arn:aws:lambda:{self.region}:{account}:function:{self.function_name}"

    @property
    def role_arn(self) -> str:
        account = self.function_arn.split(":")[4]
        return f"arn:aws:iam::{account}:role/{self.function_name}-role"

    @property
    def efo_consumer_name(self) -> str:
        """The name infra/pipeline.yaml gives its StreamConsumer (`${ResourcePrefix}-cdr-processor`)."""
        return self.function_name

    @property
    def checkpoint_path(self) -> Path:
        return self.state_dir / "checkpoints.json"

    @property
    def trace_path(self) -> Path:
        return self.state_dir / "invocations.csv"

    @property
    def metrics_path(self) -> Path:
        return self.state_dir / "metrics.csv"

    @property
    def polls_path(self) -> Path:
        """One row per GetRecords call of the pollers (infra.local.esm.telemetry.PollRow)."""
        return self.state_dir / POLLS_FILE

    @property
    def handler_log_path(self) -> Path:
        """The handler's stdout: one EMF JSON line per invocation from the pipeline handler."""
        return self.state_dir / "handler.log"

    def to_dict(self) -> dict[str, Any]:
        document = dataclasses.asdict(self)
        document["state_dir"] = str(self.state_dir)
        return document

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> EsmConfig:
        return cls(**{**document, "state_dir": Path(document["state_dir"])})


def check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise EsmConfigError(f"{name}={value} is outside Lambda's range {low}..{high}")
