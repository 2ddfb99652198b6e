"""Consumer mode in the local ESM runtime: enhanced fan-out delivery and renewal, shared-read contention."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.emulator import EmulatorProcess
from tests.functional.local_esm_harness import StreamFixture, running, stream_fixture, wait_for

pytestmark = pytest.mark.functional


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
        # When records arrive in four groups, each after the previous one was processed
        for group in range(4):
            numbers += stream.put(items(3, prefix=f"g{group}-"))
            expected = len(numbers)
            wait_for(lambda expected=expected: len(stream.processed()) >= expected)
        subscriptions = runtime.subscribers[0].subscriptions
    # Then the subscription was renewed, and no record was lost or delivered twice across renewals
    assert subscriptions >= 3
    assert stream.processed() == numbers


def test_other_polling_consumers_throttle_shared_reads(stream: StreamFixture) -> None:
    # Given shared polling and three other consumers polling the same shard through the limits proxy
    config = stream.config("record", batch_size=10, other_consumers=3)
    with running(config) as runtime:
        # When records arrive while they all poll
        numbers = stream.put(items(20))
        wait_for(lambda: runtime.pollers[0].read_throttles > 0)
        wait_for(lambda: len(stream.processed()) >= 20)
        other_throttles = sum(c.throttles for c in runtime.other_consumers)
    # Then the pipeline's own GetRecords calls were throttled, the others' too, and still nothing was lost
    assert other_throttles > 0
    assert stream.processed() == numbers
