"""Enhanced fan-out: the stream consumer the runtime registers, and one SubscribeToShard reader per shard.

Records are pushed over the subscription's event stream and handed to the same lanes as in polling mode
(infra/local/esm/dispatch.py), so batching and error handling do not depend on the consumer mode. The
subscription is renewed every `efo_subscription_s` (5 minutes, as AWS closes it) and after any error, from
the last sequence number read (AFTER_SEQUENCE_NUMBER). Reads go straight to the emulator: the limits proxy's
read limits are the shared-throughput ones; EFO's own 2 MiB/s per consumer per shard is a token bucket here.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from botocore.exceptions import ClientError

from infra.local.esm.dispatch import ShardContext, ShardReader
from infra.local.shard_limits import TokenBucket

LOG = logging.getLogger(__name__)
RESUBSCRIBE_BACKOFF_S = 0.25  # a takeover of the previous subscription is refused for a moment
CONSUMER_ACTIVE_TIMEOUT_S = 30.0


def register_consumer(kinesis: Any, stream_arn: str, consumer_name: str) -> str:
    """RegisterStreamConsumer (or reuse the one a previous run registered); returns its ARN once ACTIVE."""
    try:
        consumer_arn = str(
            kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName=consumer_name)["Consumer"][
                "ConsumerARN"
            ]
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
        consumer_arn = str(
            kinesis.describe_stream_consumer(StreamARN=stream_arn, ConsumerName=consumer_name)[
                "ConsumerDescription"
            ]["ConsumerARN"]
        )
    deadline = time.monotonic() + CONSUMER_ACTIVE_TIMEOUT_S
    while True:  # AWS takes a few seconds to make a consumer ACTIVE; SubscribeToShard refuses it before
        description = kinesis.describe_stream_consumer(ConsumerARN=consumer_arn)["ConsumerDescription"]
        if description["ConsumerStatus"] == "ACTIVE":
            return consumer_arn
        if time.monotonic() > deadline:
            raise RuntimeError(f"stream consumer {consumer_name} not ACTIVE in {CONSUMER_ACTIVE_TIMEOUT_S} s")
        time.sleep(0.2)


class ShardSubscriber(ShardReader):
    def __init__(self, shard: ShardContext, kinesis: Any, consumer_arn: str) -> None:
        super().__init__("subscriber", shard, kinesis)
        self.consumer_arn = consumer_arn
        self.read_bytes = TokenBucket(shard.config.efo_read_bytes_per_s)
        self.subscriptions = 0  # SubscribeToShard calls that were accepted (renewals included)

    def _starting_position(self) -> dict[str, str]:
        after = self.progress.last_read
        if after:
            return {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
        return {"Type": self.config.starting_position}

    def run(self) -> None:
        while not self.stop.is_set() and not self.closed:
            try:
                response = self.kinesis.subscribe_to_shard(
                    ConsumerARN=self.consumer_arn,
                    ShardId=self.shard_id,
                    StartingPosition=self._starting_position(),
                )
                self.subscriptions += 1
                self._consume(response["EventStream"])
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code != "ResourceInUseException":  # in use: the previous subscription is still closing
                    LOG.warning("SubscribeToShard on %s failed: %s", self.shard_id, error)
                self.stop.wait(RESUBSCRIBE_BACKOFF_S)
            except Exception as error:  # a dropped connection: subscribe again from the last record read
                LOG.warning("subscription to %s broke, renewing it: %s", self.shard_id, error)
                self.stop.wait(RESUBSCRIBE_BACKOFF_S)

    def _consume(self, events: Any) -> None:
        """Read one subscription until it is due for renewal, the shard closes, or the runtime stops."""
        renew_at = time.monotonic() + self.config.efo_subscription_s
        try:
            for event in events:
                if "SubscribeToShardEvent" not in event:
                    continue  # the initial response, or an event type this runtime does not use
                payload = event["SubscribeToShardEvent"]
                records: list[dict[str, Any]] = payload.get("Records") or []
                self._hold_back(sum(len(r["Data"]) for r in records))
                self._dispatch(records)
                if payload.get("ChildShards"):
                    self.closed = True  # a closed shard after a reshard: the runtime picks up its children
                    return
                if self.stop.is_set() or time.monotonic() >= renew_at:
                    return
        finally:
            events.close()

    def _hold_back(self, read_bytes: int) -> None:
        """Keep to the consumer's 2 MiB/s per shard, and stop taking records while the lanes are full."""
        self.read_bytes.take_debt(read_bytes)
        owed = -self.read_bytes.available()
        if owed > 0:
            self.stop.wait(owed / self.read_bytes.rate_per_s)
        while self.progress.in_flight >= self.max_buffered_records and not self.stop.is_set():
            self.stop.wait(0.01)
