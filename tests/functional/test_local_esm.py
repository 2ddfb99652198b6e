"""The local ESM runtime keeps Lambda's Kinesis semantics, one behaviour per test, on the real emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from infra.local.emulator import EmulatorProcess
from infra.local.esm.config import EsmConfigError
from tests.support.local_esm_harness import StreamFixture, running, stream_fixture, wait_for


@pytest.fixture
def stream(emulator: EmulatorProcess, tmp_path: Path) -> Iterator[StreamFixture]:
    with stream_fixture(emulator, tmp_path) as fixture:
        yield fixture


def small(n: int, prefix: str = "r") -> list[tuple[str, bytes]]:
    return [(f"key-{i}", f"{prefix}{i}".encode()) for i in range(n)]


def test_batching_window_gathers_records_into_one_invocation(stream: StreamFixture) -> None:
    # Given a window of 1.5 s and a batch size far above what arrives
    config = stream.config("record", batch_size=100, batching_window_s=1.5)
    with running(config):
        # When 5 records arrive together
        numbers = stream.put(small(5))
        wait_for(lambda: len(stream.processed()) >= 5)
    # Then they are invoked once, together, no earlier than the window after they were read
    trace = stream.trace()
    assert [int(row["batch_records"]) for row in trace] == [5]
    assert stream.processed() == numbers
    assert int(trace[0]["start_epoch_ms"]) - int(trace[0]["oldest_arrival_epoch_ms"]) >= 1400


def test_an_environments_first_invocation_carries_its_init_duration(stream: StreamFixture) -> None:
    # Given one lane, When two batches are invoked one after the other
    config = stream.config("record", batch_size=2, batching_window_s=0)
    with running(config):
        stream.put(small(2))
        wait_for(lambda: len(stream.trace()) >= 1)
        stream.put(small(2, prefix="s"))
        wait_for(lambda: len(stream.trace()) >= 2)
    # Then the trace has the REPORT line's Init Duration on the first only (the same worker serves both)
    inits = [row["init_duration_ms"] for row in stream.trace()]
    assert float(inits[0]) > 0
    assert inits[1:] == [""]


def test_batch_size_caps_records_per_invocation(stream: StreamFixture) -> None:
    # Given batch size 3 and no window
    config = stream.config("record", batch_size=3)
    with running(config):
        # When 10 records arrive at once
        numbers = stream.put(small(10))
        wait_for(lambda: len(stream.processed()) >= 10)
    # Then no invocation carries more than 3, and every record is processed once in order
    sizes = [int(row["batch_records"]) for row in stream.trace()]
    assert max(sizes) == 3
    assert sum(sizes) == 10
    assert stream.processed() == numbers


def test_payload_cap_splits_batches_at_six_mib(stream: StreamFixture) -> None:
    # Given records of 400 KB (533 KB once base64-encoded in the event) and a window to gather them all
    config = stream.config("record", batch_size=100, batching_window_s=2.0)
    with running(config):
        # When 14 of them arrive together
        for i in range(14):  # one per call: PutRecords takes at most 5 MiB
            stream.put([(f"k{i}", bytes([65 + i]) * 400_000)])
        wait_for(lambda: len(stream.processed()) >= 14)
    # Then the first batch stops at 11 records, the most under the 6 MiB invocation payload
    sizes = [int(row["batch_records"]) for row in stream.trace()]
    assert sizes == [11, 3]


def test_parallelization_factor_keeps_order_per_partition_key(stream: StreamFixture) -> None:
    # Given parallelization factor 4 and a handler whose duration varies
    config = stream.config("record_slowly", batch_size=5, parallelization_factor=4)
    with running(config):
        # When 8 keys each get 10 records, interleaved
        items = [(f"key-{k}", f"{k}:{n}".encode()) for n in range(10) for k in range(8)]
        stream.put(items)
        wait_for(lambda: len(stream.processed()) >= 80)
    # Then several lanes ran, and each key's records were processed in the order they were written
    assert len({row["lane"] for row in stream.trace()}) > 1
    seen: dict[str, list[int]] = {}
    for invocation in stream.invocations():
        for key, data in zip(invocation["partition_keys"], invocation["data"], strict=True):
            seen.setdefault(key, []).append(int(data.split(":")[1]))
    assert seen == {f"key-{k}": list(range(10)) for k in range(8)}


def test_bisect_isolates_the_failing_record(stream: StreamFixture) -> None:
    # Given bisect on error and no retries
    config = stream.config("fail_on_bad", batch_size=8, batching_window_s=1.0, max_retry_attempts=0)
    items = small(8)
    items[5] = ("key-5", b"bad record")
    with running(config):
        # When a batch of 8 holds one bad record
        numbers = stream.put(items)
        messages = stream.dlq_messages(1)
        wait_for(lambda: len(stream.trace()) >= 7)
    # Then the 7 good records succeed once each and only the bad one goes to the on-failure destination
    ok_numbers = [
        n
        for i in stream.invocations()
        if not any(d.startswith("bad") for d in i["data"])
        for n in i["sequence_numbers"]
    ]
    assert sorted(ok_numbers) == sorted(numbers[:5] + numbers[6:])
    info = messages[0]["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        numbers[5],
        numbers[5],
        1,
    )


def test_partial_batch_failure_redelivers_from_the_lowest_failed_record(stream: StreamFixture) -> None:
    # Given ReportBatchItemFailures and a handler that fails one record once
    config = stream.config(
        "flaky_once", batch_size=6, batching_window_s=1.0, bisect_batch_on_function_error=False
    )
    items = small(6)
    items[2] = ("key-2", b"flaky")
    with running(config):
        # When that record is reported as failed
        numbers = stream.put(items)
        wait_for(lambda: len(stream.trace()) >= 2)
    # Then the retry starts at the failed record and carries everything after it, and nothing before
    trace = stream.trace()
    assert [(row["outcome"], row["batch_records"], row["attempt"]) for row in trace] == [
        ("partial", "6", "1"),
        ("ok", "4", "2"),
    ]
    assert stream.invocations()[1]["sequence_numbers"] == numbers[2:]


def test_exhausted_retries_send_batch_metadata_to_the_on_failure_destination(stream: StreamFixture) -> None:
    # Given two retries, no bisect, and a function that always fails
    config = stream.config(
        "always_fail",
        batch_size=3,
        batching_window_s=1.0,
        max_retry_attempts=2,
        bisect_batch_on_function_error=False,
    )
    with running(config):
        # When a batch of 3 arrives
        numbers = stream.put(small(3))
        messages = stream.dlq_messages(1)
    # Then it was tried 3 times, and the destination got AWS's metadata record without the payload
    assert [row["attempt"] for row in stream.trace()] == ["1", "2", "3"]
    message = messages[0]
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 3
    assert message["responseContext"]["functionError"] == "Unhandled"
    info = message["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        numbers[0],
        numbers[2],
        3,
    )
    assert info["streamArn"] == stream.stream_arn
    assert "data" not in str(message).lower().replace("metadata", "")


def test_records_older_than_the_maximum_age_are_discarded_to_the_destination(stream: StreamFixture) -> None:
    # Given infinite retries but a maximum record age of 2 s (a scale model: Lambda's minimum is 60 s)
    config = stream.config(
        "always_fail", batch_size=2, max_retry_attempts=-1, max_record_age_s=2, min_record_age_s=1
    )
    with running(config):
        # When records keep failing
        numbers = stream.put(small(2))
        messages = stream.dlq_messages(1)
    # Then they are given up on for their age
    assert messages[0]["requestContext"]["condition"] == "RecordAgeExceeded"
    assert messages[0]["KinesisBatchInfo"]["startSequenceNumber"] == numbers[0]


def test_record_age_below_lambdas_minimum_is_refused(stream: StreamFixture) -> None:
    with pytest.raises(EsmConfigError, match="max_record_age_s=10"):
        stream.config("record", max_record_age_s=10)


def test_restart_resumes_after_the_saved_checkpoint(stream: StreamFixture) -> None:
    # Given a runtime that processed 5 records and stopped
    config = stream.config("record", batch_size=10)
    first = stream.put(small(5, "first"))
    with running(config):
        wait_for(lambda: len(stream.processed()) >= 5)
    # When 5 more arrive while it is down, and it starts again on the same state dir
    second = stream.put(small(5, "second"))
    with running(config) as runtime:
        wait_for(lambda: len(stream.processed()) >= 10)
        wait_for(lambda: runtime.checkpoint_of("shardId-000000000000") == second[-1])
    # Then the first 5 are not delivered again
    assert stream.processed() == first + second


def test_a_worker_that_dies_is_a_function_error_and_the_retry_gets_a_fresh_worker(
    stream: StreamFixture,
) -> None:
    # Given a handler that kills its process on the first invocation
    config = stream.config(
        "crash_once", batch_size=10, batching_window_s=0.5, bisect_batch_on_function_error=False
    )
    with running(config):
        # When a batch arrives
        numbers = stream.put(small(3))
        wait_for(lambda: len(stream.processed()) >= 3)
    # Then the first attempt is an error and the retry, in a new worker, processes the batch once
    assert [(row["outcome"], row["attempt"]) for row in stream.trace()] == [("error", "1"), ("ok", "2")]
    assert stream.processed() == numbers


def test_new_shards_after_a_reshard_are_polled(
    stream: StreamFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a running runtime on one shard that looks for new shards every second
    monkeypatch.setattr("infra.local.esm.runtime.SHARD_DISCOVERY_TICKS", 2)
    with running(stream.config("record", batch_size=100)):
        # When the stream is resharded to 2 and records arrive on the new shards
        stream.kinesis.update_shard_count(
            StreamName=stream.stream_name, TargetShardCount=2, ScalingType="UNIFORM_SCALING"
        )
        wait_for(
            lambda: (
                stream.kinesis.describe_stream_summary(StreamName=stream.stream_name)[
                    "StreamDescriptionSummary"
                ]["StreamStatus"]
                == "ACTIVE"
            )
        )
        numbers = stream.put(small(10))
        # Then they are processed
        wait_for(lambda: sorted(stream.processed()) == sorted(numbers))
    assert len({row["shard_id"] for row in stream.trace()}) >= 2


def test_an_unreachable_destination_does_not_stop_the_lane(
    stream: StreamFixture, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an on-failure destination queue that does not exist yet
    queue_name = f"{stream.stream_name}-late-dlq"
    late_url = stream.sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    stream.sqs.delete_queue(QueueUrl=late_url)
    config = stream.config(
        "always_fail",
        batch_size=2,
        max_retry_attempts=0,
        bisect_batch_on_function_error=False,
        on_failure_destination_url=late_url,
    )
    with running(config):
        # When a batch is given up on while the queue is missing, and the queue appears later
        numbers = stream.put(small(2))
        wait_for(lambda: "failed to process a batch" in caplog.text)
        stream.sqs.create_queue(QueueName=queue_name)
        stream.queue_url = late_url
        messages = stream.dlq_messages(1)
    # Then the lane kept going and delivered the on-failure record once the queue was there
    assert messages[0]["KinesisBatchInfo"]["startSequenceNumber"] == numbers[0]


def test_a_handler_past_its_timeout_is_stopped_and_counts_as_failed(stream: StreamFixture) -> None:
    # Given a function timeout of 1 s and a handler that would run for a minute
    config = stream.config(
        "hang",
        batch_size=2,
        function_timeout_s=1.0,
        max_retry_attempts=0,
        bisect_batch_on_function_error=False,
    )
    with running(config):
        # When a batch arrives
        stream.put(small(2))
        messages = stream.dlq_messages(1)
    # Then the invocation ends at the timeout as `timeout`, and the batch is given up as a failure
    row = stream.trace()[0]
    assert row["outcome"] == "timeout"
    assert 900 <= float(row["duration_ms"]) < 5000
    assert messages[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_each_getrecords_call_and_each_batchs_due_and_sent_times_are_recorded(stream: StreamFixture) -> None:
    # Given a window of 1 s and a batch size far above what arrives
    config = stream.config("record", batch_size=100, batching_window_s=1.0)
    with running(config):
        # When 5 records arrive together
        stream.put(small(5))
        wait_for(lambda: len(stream.processed()) >= 5)
    # Then every GetRecords call has its row, and one call returned the 5 records
    polls = pd.read_csv(stream.state_dir / "polls.csv")
    assert len(polls) >= 2
    assert (polls["call_ms"] >= 0).all()
    returning = polls[polls["records"] > 0]
    assert returning["records"].tolist() == [5]
    handed_ms = float(returning["start_epoch_ms"].iloc[0] + returning["call_ms"].iloc[0])
    # And the batch was due a window after that call handed the records over, sent after it was due,
    # and the handler started after it was sent (1 ms of slack for the epoch rounding)
    row = stream.trace()[0]
    due_ms, sent_ms = float(row["due_epoch_ms"]), float(row["sent_epoch_ms"])
    assert handed_ms + 1000.0 - 1.0 <= due_ms <= sent_ms + 1.0
    assert sent_ms <= float(row["start_epoch_ms"]) + 1.0
    assert float(row["iterator_age_ms"]) == pytest.approx(
        sent_ms - float(row["newest_arrival_epoch_ms"]), abs=1.0
    )
