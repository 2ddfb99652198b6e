"""Consumer mode in the local ESM runtime: enhanced fan-out delivery and renewal, shared-read contention."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.emulator import EmulatorProcess
from tests.support.local_esm_harness import StreamFixture, running, stream_fixture, wait_for


@pytest.fixture
def stream(emulator: EmulatorProcess, tmp_path: Path) -> Iterator[StreamFixture]:
    with stream_fixture(emulator, tmp_path) as fixture:
        yield fixture


def items(n: int, prefix: str = "r") -> list[tuple[str, bytes]]:
    return [(f"key-{i % 4}", f"{prefix}{i}".encode()) for i in range(n)]


def test_efo_delivers_every_record_once_in_order_in_capped_batches(stream: StreamFixture) -> None:
    # Given enhanced fan-out and batch size 3
    config = stream.config("record", batch_size=3, consumer_mode="efo")
    with running(config) as runtime:
        # When 10 records arrive
        numbers = stream.put(items(10))
        wait_for(lambda: len(stream.processed()) >= 10)
        consumers = stream.kinesis.list_stream_consumers(StreamARN=stream.stream_arn)["Consumers"]
    # Then they came through a registered consumer's subscription, once each, in order, at most 3 a batch
    assert [c["ConsumerARN"] for c in consumers] == [runtime.consumer_arn]
    assert runtime.subscribers and not runtime.pollers
    assert stream.processed() == numbers
    sizes = [int(row["batch_records"]) for row in stream.trace()]
    assert max(sizes) == 3 and sum(sizes) == 10


def test_efo_renewal_resumes_after_the_last_record_read(stream: StreamFixture) -> None:
    # Given subscriptions renewed after 0.3 s instead of 5 minutes
    config = stream.config("record", batch_size=10, consumer_mode="efo", efo_subscription_s=0.3)
    numbers: list[str] = []
    with running(config) as runtime:
        # When records arrive in four groups, each after the previous one was processed AND the
        # subscription was renewed since (so every group after the first is read by a new subscription)
        subscriber = runtime.subscribers[0]
        for group in range(4):
            renewed_from = subscriber.subscriptions
            numbers += stream.put(items(3, prefix=f"g{group}-"))
            expected = len(numbers)
            wait_for(lambda expected=expected: len(stream.processed()) >= expected)
            wait_for(lambda renewed_from=renewed_from: subscriber.subscriptions > renewed_from)
        subscriptions = subscriber.subscriptions
    # Then the subscription was renewed, and no record was lost or delivered twice across renewals
    assert subscriptions >= 3
    assert stream.processed() == numbers


def test_other_polling_consumers_throttle_shared_reads(stream: StreamFixture) -> None:
    # Given shared polling and two greedy other consumers polling the shard through the limits proxy, each
    # every 0.1 s (twice what one consumer alone may: 5 calls/s per shard)
    config = stream.config("record", batch_size=10, other_consumers=2, other_consumer_poll_interval_s=0.1)
    numbers: list[str] = []
    with running(config) as runtime:
        # When records keep arriving (so the pipeline's poller polls again at once) until its first
        # throttle, for at most 15 s (the poller races the others for each token: on a loaded machine a
        # few seconds can pass without it losing one)
        deadline = time.monotonic() + 15.0
        burst = 0
        while not runtime.pollers[0].read_throttles and time.monotonic() < deadline:
            numbers += stream.put(items(5, prefix=f"b{burst}-"))
            burst += 1
            time.sleep(0.01)
        expected = len(numbers)
        wait_for(lambda: len(stream.processed()) >= expected)
        calls = sum(c.calls for c in runtime.other_consumers)
    # Then the pipeline's GetRecords calls were throttled, the others did read, and nothing was lost
    assert runtime.pollers[0].read_throttles > 0
    assert calls > 0
    assert stream.processed() == numbers
