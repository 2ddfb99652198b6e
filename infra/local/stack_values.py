"""The local stack's values: what it is brought up with (LocalStackConfig) and where it runs (StackInfo)."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from typing import Any

from infra.aws import Target
from infra.local import deploy_local
from infra.local.esm.config import DEFAULT_HANDLER
from pipeline import constants

DEFAULT_PORT = 4566


@dataclass(frozen=True)
class LocalStackConfig:
    """What `cdrcap up` deploys and runs with (the ESM settings mirror the template's parameters)."""

    shards: int = 4
    batch_size: int = 100
    batching_window_s: float = 0.0
    parallelization_factor: int = 1
    max_retries: int = 3
    max_record_age_s: int = 3600
    scale: float = 1.0
    port: int = DEFAULT_PORT  # the emulator; the limits proxy listens on port + 1
    concurrency_limit: int = 16
    resource_prefix: str = constants.DEFAULT_STACK_NAME
    region: str = "us-east-1"
    home_region: str = "US"
    handler: str = DEFAULT_HANDLER
    memory_mb: int = 512
    cpu_share_of_memory: bool = False  # each worker gets Lambda's CPU share of memory_mb (docs/local.md)
    function_timeout_s: int = 60
    bisect_batch_on_function_error: bool = True
    template_path: str = str(deploy_local.TEMPLATE_PATH)
    handler_env: dict[str, str] = field(default_factory=dict)
    # CDRCAP_EXACTLY_ONCE of the deployed function: the template's ExactlyOnceDesign (docs/pipeline.md)
    exactly_once: str = constants.EXACTLY_ONCE_DESIGNS[0]
    # "shared" polling or "efo" (the runtime registers the stream consumer itself: MiniStack's CloudFormation
    # rejects AWS::Kinesis::StreamConsumer, so the template is deployed with its default ConsumerMode).
    consumer_mode: str = "shared"
    other_consumers: int = 0  # extra polling consumers that contend for each shard's shared reads
    other_consumer_poll_interval_s: float | None = None  # None: their fair share of the (scaled) 5 calls/s
    # Start MiniStack with persistence (state saved on a clean stop, loaded at start) so that
    # `LocalStack.restart_emulator` keeps streams, records, tables, queues and objects. Off by default:
    # saving a long run's records at `down` takes time and disk for nothing when the stack is thrown away.
    persist_emulator: bool = False
    # The Lambda zip the workers run (unpacked as the task root); None: `infra.package`'s zip built for this
    # host, cached by its inputs (infra/local/artifact.py). Only for the pipeline's handler.
    code_zip: str | None = None

    def template_parameters(self) -> dict[str, str]:
        return {
            "ResourcePrefix": self.resource_prefix,
            "StreamMode": "PROVISIONED",
            "ShardCount": str(self.shards),
            "BatchSize": str(self.batch_size),
            "MaximumBatchingWindowInSeconds": str(int(self.batching_window_s)),
            "ParallelizationFactor": str(self.parallelization_factor),
            "MaximumRetryAttempts": str(self.max_retries),
            "MaximumRecordAgeInSeconds": str(self.max_record_age_s),
            "MemorySize": str(self.memory_mb),
            "FunctionTimeoutSeconds": str(self.function_timeout_s),
            "HomeRegion": self.home_region,
            "ExactlyOnceDesign": self.exactly_once,
            # Fraud alerts tokenise subscribers with this HMAC key; a fresh one per local stack.
            "FraudTokenKey": secrets.token_hex(32),
        }


@dataclass(frozen=True)
class StackInfo:
    """Where the running local stack is and what it runs with; `to_dict()` is `cdrcap status --json`."""

    endpoint_url: str
    kinesis_endpoint_url: str
    region: str
    stack_name: str
    input_stream_name: str
    input_stream_arn: str
    output_stream_name: str
    output_stream_arn: str
    aggregates_table: str
    archive_bucket: str
    dlq_url: str
    dlq_arn: str
    alert_bus: str
    function_name: str
    state_dir: str
    trace_path: str
    metrics_path: str
    handler_log_path: str  # the handler's stdout (EMF metric lines)
    pids: dict[str, int]
    started_at_epoch_s: float
    config: LocalStackConfig
    glue_endpoint_url: str = ""  # the Glue Schema Registry (moto, infra/local/glue_server.py)
    code_sha256: str = ""  # of the zip the workers run; empty when the handler is a test's, from the project
    task_root: str = ""  # where that zip is unpacked

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> StackInfo:
        return cls(**{**document, "config": LocalStackConfig(**document["config"])})

    def target(self) -> Target:
        """The harness's target for this stack (Kinesis through the limits proxy)."""
        return Target(
            name="local",
            region=self.region,
            endpoint_url=self.endpoint_url,
            kinesis_endpoint_url=self.kinesis_endpoint_url,
            is_local=True,
            allowed_streams=(self.input_stream_name, self.output_stream_name),
            glue_endpoint_url=self.glue_endpoint_url or None,
        )
