"""The local event-source-mapping runtime: wires shards, pollers, lanes, worker processes and telemetry.

`EsmRuntime(config).start()` runs in the calling process (tests); `python -m infra.local.esm --config F`
runs it as the long-lived process `cdrcap up` starts. Records come from a poller per shard (shared
throughput) or, with `consumer_mode="efo"`, from a registered stream consumer's SubscribeToShard readers;
either way they go to the same lanes. Concurrency is shards x parallelization factor,
capped by `concurrency_limit`, which also sizes the worker-process pool (spawned, so a threaded parent is
safe; the handler is imported once per worker, like a Lambda cold start).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import orjson

from infra.aws import Target, client
from infra.local.cloudwatch_sink import CloudWatchSink
from infra.local.cpu_limit import cpu_share
from infra.local.esm.checkpoints import CheckpointStore, ShardProgress
from infra.local.esm.cloudwatch import LambdaPublisher
from infra.local.esm.config import EsmConfig
from infra.local.esm.dispatch import ShardContext
from infra.local.esm.events import StreamRecord, on_failure_record
from infra.local.esm.lane import Lane, Shared
from infra.local.esm.other_consumers import OtherConsumer, start_other_consumers
from infra.local.esm.poller import ShardPoller
from infra.local.esm.pool import WorkerPool
from infra.local.esm.subscriber import ShardSubscriber, register_consumer
from infra.local.esm.telemetry import Telemetry
from pipeline.prepared_requests import decode_answers

LOG = logging.getLogger(__name__)
HOUSEKEEPING_INTERVAL_S = 0.5
SHARD_DISCOVERY_TICKS = 20  # ListShards every 10 s to notice a reshard


class EsmRuntime:
    def __init__(self, config: EsmConfig) -> None:
        self.config = config
        self.stop_event = threading.Event()
        target = self._proxy_target()
        # The poller handles throttles itself (backoff, then the same iterator), so botocore must not.
        self.kinesis: Any = client(target, "kinesis", retries=0)
        decode_answers(self.kinesis, ("GetRecords",))  # ~2x less CPU per record read (docs/local.md)
        self.sqs: Any = client(target, "sqs")
        # EFO reads go straight to the emulator: the limits proxy enforces the shared read limits only.
        self.kinesis_direct: Any = client(
            Target(name="local", region=config.region, endpoint_url=config.endpoint_url, is_local=True),
            "kinesis",
            retries=0,
        )
        self.consumer_arn: str | None = None
        config.state_dir.mkdir(parents=True, exist_ok=True)
        # What Lambda publishes (AWS/Lambda metrics, the function's logs, its EMF metrics) goes to the
        # emulator's CloudWatch from a background thread, beside the run-local trace and metrics CSV.
        self.cloudwatch: CloudWatchSink | None = None
        publisher = None
        if config.publish_cloudwatch:
            emulator = Target(
                name="local", region=config.region, endpoint_url=config.endpoint_url, is_local=True
            )
            self.cloudwatch = CloudWatchSink(client(emulator, "cloudwatch"), client(emulator, "logs"))
            publisher = LambdaPublisher(self.cloudwatch, config.function_name, config.memory_mb)
        self.telemetry = Telemetry(config.trace_path, config.metrics_path, publisher, config.polls_path)
        self.checkpoints = CheckpointStore(config.checkpoint_path, config.stream_arn)
        self.progress: dict[str, ShardProgress] = {}
        self.pollers: list[ShardPoller] = []
        self.subscribers: list[ShardSubscriber] = []
        self.other_consumers: list[OtherConsumer] = []
        self.lanes: list[Lane] = []
        self.pool: WorkerPool | None = None
        self._housekeeper: threading.Thread | None = None
        self._shared: Shared | None = None

    def _shard_ids(self) -> list[str]:
        shards: list[str] = []
        arguments: dict[str, Any] = {"StreamName": self.config.stream_name}
        while True:
            page = self.kinesis.list_shards(**arguments)
            shards += [
                s["ShardId"]
                for s in page["Shards"]
                if not s["SequenceNumberRange"].get("EndingSequenceNumber")
            ]
            if not page.get("NextToken"):
                return shards
            arguments = {"NextToken": page["NextToken"]}

    def start(self) -> None:
        config = self.config
        shard_ids = self._shard_ids()
        saved = self.checkpoints.load()
        workers = min(len(shard_ids) * config.parallelization_factor, config.concurrency_limit)
        self.pool = WorkerPool(
            max(1, workers),
            config.handler,
            worker_env(config),
            str(config.handler_log_path),
            config.task_root,
            config.runtime_dir,
            cpu_share(config.memory_mb) if config.cpu_share_of_memory else None,
        )
        self.pool.warm()
        self._shared = Shared(
            config=config,
            pool=self.pool,
            telemetry=self.telemetry,
            on_failure=self._deliver_on_failure,
            stop=self.stop_event,
            in_flight=[0],
            in_flight_lock=threading.Lock(),
        )
        if config.consumer_mode == "efo":
            self.consumer_arn = register_consumer(
                self.kinesis_direct, config.stream_arn, config.efo_consumer_name
            )
        for shard_id in shard_ids:
            self._start_shard(shard_id, saved.get(shard_id))
        others = client(self._proxy_target(), "kinesis", retries=0)
        decode_answers(others, ("GetRecords",))
        self.other_consumers = start_other_consumers(
            others,
            config.stream_name,
            shard_ids,
            config.other_consumers,
            self.stop_event,
            config.other_consumer_poll_interval_s,
        )
        if self.cloudwatch is not None:
            self.cloudwatch.start()
        self._housekeeper = threading.Thread(target=self._housekeeping, name="esm-housekeeping", daemon=True)
        self._housekeeper.start()

    def _start_shard(self, shard_id: str, checkpoint: str | None) -> None:
        assert self._shared is not None
        progress = self.progress[shard_id] = ShardProgress(checkpoint)
        lanes = [Lane(self._shared, shard_id, i, progress) for i in range(self.config.parallelization_factor)]
        reader: ShardPoller | ShardSubscriber
        shard = ShardContext(self.config, shard_id, lanes, progress, self.telemetry, self.stop_event)
        if self.consumer_arn is not None:
            reader = ShardSubscriber(shard, self.kinesis_direct, self.consumer_arn)
            self.subscribers.append(reader)
        else:
            reader = ShardPoller(shard, self.kinesis)
            self.pollers.append(reader)
        self.lanes += lanes
        for thread in [*lanes, reader]:
            thread.start()

    def _proxy_target(self) -> Target:
        return Target(
            name="local",
            region=self.config.region,
            endpoint_url=self.config.endpoint_url,
            kinesis_endpoint_url=self.config.kinesis_endpoint_url,
            is_local=True,
        )

    def _pick_up_new_shards(self) -> None:
        """After a reshard, poll the new open shards too (from TRIM_HORIZON: their data is all new)."""
        for shard_id in self._shard_ids():
            if shard_id not in self.progress:
                LOG.info("new shard %s: starting its poller", shard_id)
                self._start_shard(shard_id, None)

    def _deliver_on_failure(
        self, records: list[StreamRecord], condition: str, invoke_count: int, function_error: str | None
    ) -> None:
        if not self.config.on_failure_destination_url:
            return  # no destination: Lambda discards the records too
        document = on_failure_record(
            records,
            self.config,
            condition=condition,
            invoke_count=invoke_count,
            function_error=function_error,
        )
        self.sqs.send_message(
            QueueUrl=self.config.on_failure_destination_url, MessageBody=orjson.dumps(document).decode()
        )
        self.telemetry.metric("OnFailureDestinationDeliveredEventCount", len(records), records[0].shard_id)

    def _housekeeping(self) -> None:
        ticks = 0
        while not self.stop_event.wait(HOUSEKEEPING_INTERVAL_S):
            ticks += 1
            try:
                self.telemetry.flush()
                self.checkpoints.save(self.progress)
                if ticks % SHARD_DISCOVERY_TICKS == 0:
                    self._pick_up_new_shards()
            except Exception as error:  # neither a full disk nor a hiccup of the emulator may stop it
                LOG.warning("housekeeping failed, will retry: %s", error)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish the invocations in flight, save checkpoints; unsent buffered records are read again."""
        self.stop_event.set()
        if self._housekeeper is not None:
            self._housekeeper.join(timeout=timeout_s)
        # A subscriber notices the stop at its subscription's next event (an idle one comes every 5 s).
        for thread in [*self.pollers, *self.subscribers, *self.other_consumers, *self.lanes]:
            thread.join(timeout=timeout_s)
        self.checkpoints.save(self.progress)
        self.telemetry.flush(everything=True)
        if self.cloudwatch is not None:
            self.cloudwatch.stop()
        if self.pool is not None:
            self.pool.shutdown()

    def checkpoint_of(self, shard_id: str) -> str | None:
        progress = self.progress.get(shard_id)
        return progress.checkpoint if progress else None


def worker_env(config: EsmConfig) -> dict[str, str]:
    """The environment a worker (an execution environment of the function) runs the handler with."""
    return {
        "AWS_ENDPOINT_URL": config.endpoint_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": config.region,
        "AWS_REGION": config.region,
        "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        **config.handler_env,
    }
